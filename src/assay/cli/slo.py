"""`assay slo`: SLO gates with tiers, scores and exit codes (0 pass, 1 warning, 2 fail/critical)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from assay.cli.recording import STORE_HELP, open_for_record, record_result
from assay.errors import UsageError

app = typer.Typer(
    name="slo",
    help="SLO gates with tiers, scores and exit codes.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)

FORMATS = ("console", "json", "markdown", "junit", "html")


@app.command("check")
def check_command(
    results: list[Path] = typer.Argument(
        ..., metavar="RESULT...", help="Run results: assay JSON or any k6 file (summary-export, handleSummary, NDJSON, CSV)."
    ),
    slo: Path = typer.Option(..., "--slo", help="The SLO file (assay YAML/JSON/TOML, or OpenSLO v1 YAML)."),
    baseline: str | None = typer.Option(
        None,
        "--baseline",
        help="The baseline for relative criteria such as <=+10%: a folder of earlier results, or the trend store "
        "('store' for the default, or sqlite:///... / postgresql://...).",
    ),
    baseline_window: str | None = typer.Option(
        None, "--baseline-window", help="With a store baseline: only runs of this window ('last 7 days', 'last 10 runs', 'same weekday')."
    ),
    fmt: str = typer.Option("console", "--format", "-f", help=f"Report format: {', '.join(FORMATS)}."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the report here (the console table still prints)."),
    pushgateway: str | None = typer.Option(None, "--pushgateway", help="Push the SLO metrics to this Prometheus Pushgateway."),
    metrics_file: Path | None = typer.Option(
        None, "--metrics-file", help="Write the SLO metrics in Prometheus text format (for a textfile collector)."
    ),
    name: str | None = typer.Option(None, "--name", help="The SLO's name in reports and metrics (default: the file's)."),
    record: bool = typer.Option(
        False,
        "--record",
        help="After judging, save each result with its verdict into the --baseline folder or store (future baselines); "
        "without --baseline, into the trend store.",
    ),
    store: str | None = typer.Option(None, "--store", help=f"{STORE_HELP} Takes the place of a store --baseline as the destination."),
) -> None:
    """Judge results against an SLO file; exit 0 pass, 1 warning, 2 fail or critical, 64 bad input."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown --format {fmt!r}; expected one of {', '.join(FORMATS)}")
    from rich.console import Console

    from assay.atomic import write_text_atomic
    from assay.formats import load_result
    from assay.slo.check import check
    from assay.slo.files import load_slo
    from assay.slo.history import DirectoryHistory, History
    from assay.slo.reports import console as console_report

    # the store to record into, opened before judging (a wrong URL is exit 64): --store, else the default
    # trend store when there is no --baseline to keep the results in; a store --baseline is used below
    record_store = open_for_record(record and (store is not None or baseline is None), store)
    spec = load_slo(slo)
    loaded = [load_result(p) for p in results]
    history: History | None = DirectoryHistory(baseline) if baseline is not None and not _is_store(baseline) else None
    baseline_store = None
    if baseline is not None and _is_store(baseline):
        from assay.trends.history import StoreHistory
        from assay.trends.store import open_store, scenario_of
        from assay.trends.windows import Window

        baseline_store = open_store(None if baseline == "store" else baseline)
        window = Window.parse(baseline_window) if baseline_window else None
        history = StoreHistory(baseline_store, window=window, scenario=scenario_of(loaded[0]) if loaded else None)
    elif baseline_window is not None:
        raise UsageError("--baseline-window needs a store baseline (--baseline store, sqlite:///... or postgresql://...)")
    outcome = check(spec, loaded, history=history, slo_name=name or spec.name or slo.stem)

    text = None if fmt == "console" and output is None else render(outcome, fmt)
    if output is not None:
        assert text is not None
        write_text_atomic(output, text)
    if output is not None or fmt == "console":
        console = Console()
        if not console.is_terminal:
            console.width = max(console.width, 140)  # CI logs: room for the table instead of folded names
        console_report.render(outcome, console)
    else:
        typer.echo(text, nl=False)
    if metrics_file is not None:
        from assay.slo.reports.prometheus import exposition

        write_text_atomic(metrics_file, exposition(outcome))
    if pushgateway:
        from assay.slo.reports.prometheus import push

        push(outcome, pushgateway)
    if record:
        from assay.slo.history import judged_results, record_verdicts

        if baseline is not None and not _is_store(baseline):
            for path in record_verdicts(outcome, baseline):
                typer.echo(f"recorded {path}", err=True)
        # into --store (or the default store when there is no --baseline), else into the store baseline
        record_result(record_store if record_store is not None else baseline_store, *judged_results(outcome))
    if baseline_store is not None:
        baseline_store.close()
    # sys.exit, not typer.Exit: the CLI runs click with standalone_mode=False, which turns
    # typer.Exit into a return value and would lose the gate's exit code.
    sys.exit(outcome.exit_code)


def _is_store(baseline: str) -> bool:
    """`store` or a database URL names the trend store; anything else is a folder."""
    return baseline == "store" or "://" in baseline


def render(outcome: object, fmt: str) -> str:
    """The report of `outcome` (a SloCheck) in one of FORMATS, as text."""
    from assay.slo.report import SloCheck

    assert isinstance(outcome, SloCheck)
    if fmt == "json":
        return outcome.to_json() + "\n"
    if fmt == "markdown":
        from assay.slo.reports import markdown

        return markdown.render(outcome)
    if fmt == "junit":
        from assay.slo.reports import junit

        return junit.render(outcome)
    if fmt == "html":
        from assay.slo.reports import html

        return html.render(outcome)
    from assay.slo.reports import console

    return console.render_text(outcome)


@app.command("validate")
def validate_command(
    slo: Path = typer.Argument(..., help="The SLO file to check (assay YAML/JSON/TOML, or OpenSLO v1 YAML)."),
) -> None:
    """Check an SLO file without a result: criteria, keys and shapes (exit 64 with located errors)."""
    from assay.slo.files import load_slo

    spec = load_slo(slo)
    for objective in spec.objectives:
        tags = [objective.priority] + (["key"] if objective.key else []) + [f"weight {objective.weight}"]
        criteria = " or ".join(" and ".join(g.criteria) for g in objective.pass_ or []) or "info only"
        typer.echo(f"{objective.id}: pass {criteria} ({', '.join(tags)})")
    typer.echo(f"{slo}: {len(spec.objectives)} objective(s), total score pass {spec.total_score.pass_:g}% warning {spec.total_score.warning:g}%")
