"""`assay trend`: keep every run, apply the teams' rules, detect real changes, draw the trends."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import typer

from assay.errors import UsageError

app = typer.Typer(
    name="trend",
    help="A results store, baselines and regression detection across runs.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
baseline_app = typer.Typer(help="Named baselines: a pinned run or a window.", no_args_is_help=True)
export_app = typer.Typer(help="Export the trends to other tools.", no_args_is_help=True)
app.add_typer(baseline_app, name="baseline")
app.add_typer(export_app, name="export")

STORE_HELP = "The store: sqlite:///path.db or postgresql://... (default $ASSAY_DB_URL, else .assay/trends.db)."


def parse_labels(pairs: list[str] | None, option: str = "--label") -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"{option} {pair!r}: expected key=value")
        out[key.strip()] = value.strip()
    return out


def parse_time(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    from assay.trends.timeparse import parse_when

    return parse_when(text, option)


@app.command("record")
def record_command(
    files: list[Path] = typer.Argument(..., metavar="FILE...", help="Run results: assay JSON or any k6 file."),
    at: str | None = typer.Option(None, "--at", help="The run's time (ISO 8601), to backfill history from old files."),
    label: list[str] = typer.Option(None, "--label", "-l", help="Add a label k=v (repeatable): scenario, env, git_sha..."),
    store: str | None = typer.Option(None, "--store", help=STORE_HELP),
) -> None:
    """Record results in the store, one transaction per file."""
    from assay.formats import load_result
    from assay.trends.store import open_store

    labels = parse_labels(label)
    when = parse_time(at, "--at")
    loaded = [load_result(p) for p in files]  # every file read (and validated) before anything is written
    with open_store(store) as s:
        for path, result in zip(files, loaded, strict=True):
            run = s.record(result, at=when, labels=labels)
            typer.echo(f"recorded {path} as {run.short_id} ({run.scenario}, {run.at:%Y-%m-%d %H:%M:%S}Z)", err=True)


@app.command("runs")
def runs_command(
    scenario: str | None = typer.Option(None, "--scenario", help="Only this scenario."),
    label: list[str] = typer.Option(None, "--label", "-l", help="Only runs with label k=v (repeatable)."),
    store: str | None = typer.Option(None, "--store", help=STORE_HELP),
) -> None:
    """List the recorded runs, oldest first."""
    from rich.console import Console
    from rich.table import Table

    from assay.trends.store import open_store

    with open_store(store) as s:
        runs = s.runs(scenario=scenario, labels=parse_labels(label))
    table = Table("run", "scenario", "at (UTC)", "status", "labels")
    for r in runs:
        labels = " ".join(f"{k}={v}" for k, v in sorted(r.labels.items()) if k not in ("host", "user", "assay_version"))
        table.add_row(r.short_id, r.scenario, f"{r.at:%Y-%m-%d %H:%M}", r.status, labels)
    Console().print(table)


@app.command("retain")
def retain_command(
    days: float | None = typer.Option(None, "--days", help="Keep runs of the last N days."),
    runs: int | None = typer.Option(None, "--runs", help="Keep the newest N runs of each scenario."),
    store: str | None = typer.Option(None, "--store", help=STORE_HELP),
) -> None:
    """Delete old runs: keep N days, or N runs per scenario, or both."""
    from assay.trends.store import open_store

    if days is None and runs is None:
        raise UsageError("retain needs --days N or --runs N")
    if (days is not None and days <= 0) or (runs is not None and runs < 1):
        raise UsageError("--days and --runs must be positive")
    with open_store(store) as s:
        deleted = s.retain(keep_days=days, keep_runs=runs)
    typer.echo(f"deleted {deleted} run(s)", err=True)
