"""`assay plan`: validate and run a nightly plan, and the flake report over its nights."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import typer

from assay.cli.observing import otel_option
from assay.errors import UsageError

app = typer.Typer(name="plan", help="Nightly plans that run everything and write one report.", no_args_is_help=True)

ICONS = {"passed": "[green]✔[/]", "warning": "[yellow]![/]", "failed": "[red]✘[/]", "error": "[red]✘[/]",
         "aborted": "[red]■[/]", "skipped": "[dim]–[/]", "pending": "[dim]·[/]", "running": "[blue]▶[/]"}


@app.command("validate")
def validate_command(plan: Path = typer.Argument(..., help="The plan file (YAML, JSON or TOML).")) -> None:
    """Find mistakes before anything runs: unknown keys and kinds, needs cycles, budgets that cannot fit (exit 64)."""
    from assay.plan.validate import load_plan, planned_seconds

    loaded = load_plan(plan)
    p = loaded.plan
    steps = sum(len(s.steps) for s in p.stages.values())
    typer.echo(f"{plan}: ok: plan {p.name!r}, {len(p.services)} services, {len(p.stages)} stages, {steps} steps")
    for name, stage in p.stages.items():
        budget = planned_seconds(stage, loaded.directory)
        limit = f" of {stage.timeout:g}s" if stage.timeout else ""
        needs = f" after {', '.join(stage.needs)}" if stage.needs else ""
        typer.echo(f"  {name}{needs}: {len(stage.steps)} steps, planned {budget:g}s{limit}")


def _parse_now(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"--date {text!r}: expected an ISO date such as 2026-12-07 or 2026-12-07T03:00") from None
    return value if value.tzinfo else value.astimezone()


class PlainProgress:
    """One line per event, for CI logs and pipes."""

    def __init__(self) -> None:
        self.started = time.monotonic()

    def __call__(self, kind: str, data: dict[str, Any]) -> None:
        t = f"[{time.monotonic() - self.started:7.1f}s]"
        if kind == "started":
            typer.echo(f"{t} plan run {data['run_id']} -> {data['dir']}", err=True)
        elif kind == "service":
            extra = f" {data['url']}" if data.get("url") else ""
            err = f": {data['error']}" if data.get("error") else ""
            typer.echo(f"{t} service {data['name']}: {data['status']}{extra}{err}", err=True)
        elif kind in ("stage", "step"):
            reason = f" ({data['reason']})" if data.get("reason") else ""
            took = f" in {data['duration_s']:.1f}s" if data.get("duration_s") is not None else ""
            typer.echo(f"{t} {kind} {data['key']}: {data['status']}{took}{reason}", err=True)
        elif kind == "stopping":
            typer.echo(f"{t} stopping: {data['reason']}; stopping steps, reverting faults, stopping services", err=True)


def _tree(runner: Any) -> Any:
    from rich.tree import Tree

    report = runner.report
    root = Tree(f"[bold]plan {report.plan}[/] run {report.run_id}")
    if report.services:
        svc = root.add("services")
        for s in report.services:
            svc.add(f"{s.name}: {s.status}" + (f" {s.url}" if s.url else ""))
    now = datetime.now().astimezone()
    for stage in report.stages:
        took = stage.duration_s
        if stage.status == "running" and stage.started_at is not None:
            took = (now - stage.started_at).total_seconds()
        elapsed = f" {took:.1f}s" if stage.status not in ("pending", "skipped") else ""
        node = root.add(f"{ICONS.get(stage.status, '')} {stage.key} [dim]{stage.status}{elapsed}[/]"
                        + (f" [dim]({stage.reason})[/]" if stage.reason and stage.status == "skipped" else ""))
        for step in stage.steps:
            took = step.duration_s
            if step.status == "running" and step.started_at is not None:
                took = (now - step.started_at).total_seconds()
            time_text = f" {took:.1f}s" if step.status not in ("pending", "skipped") else ""
            node.add(f"{ICONS.get(step.status, '')} {step.name} [dim]{step.kind}{time_text}[/]"
                     + (f" [dim]{step.reason}[/]" if step.reason and step.status != "running" else ""))
    return root


@app.command("run")
def run_command(
    plan: Path = typer.Argument(..., help="The plan file (YAML, JSON or TOML)."),
    artifacts: Path | None = typer.Option(None, "--artifacts", help="Root of the artifacts (default: the plan's, out/plans)."),
    store: str | None = typer.Option(None, "--store", help="Trend store URL (default: the plan's trends.store, $ASSAY_DB_URL, .assay/trends.db)."),
    no_record: bool = typer.Option(False, "--no-record", help="Do not record the night in the trend store."),
    no_notify: bool = typer.Option(False, "--no-notify", help="Do not send notifications."),
    date: str | None = typer.Option(None, "--date", help="Run as if on this date (for `if: weekday/schedule`)."),
    run_id: str | None = typer.Option(None, "--run-id", help="The run's id (default: a UTC timestamp)."),
    label: list[str] = typer.Option([], "--label", "-l", help="Label k=v on every result (repeatable)."),
    plain: bool = typer.Option(False, "--plain", help="Plain progress lines even on a terminal."),
    otel_endpoint: str | None = otel_option(),
) -> None:
    """Run the night: services, stages, gates, trends, reports, notifications. Exit 0 / 1 (warnings) / 2."""
    from rich.console import Console

    from assay.cli.trend import parse_labels
    from assay.plan.runner import PlanRunner, RunOptions
    from assay.plan.validate import load_plan

    loaded = load_plan(plan)
    if run_id is not None and (not run_id or "/" in run_id or run_id.startswith(".")):
        raise UsageError(f"--run-id {run_id!r}: expected a plain name")
    console = Console(stderr=True)
    live_tree = console.is_terminal and not plain and not os.environ.get("CI")
    plain_progress = None if live_tree else PlainProgress()
    options = RunOptions(now=_parse_now(date), run_id=run_id, artifacts=artifacts, store_url=store,
                         record=False if no_record else None, notify=not no_notify, labels=parse_labels(label),
                         on_event=plain_progress)
    runner = PlanRunner(loaded, options)
    from assay.observe.tracing import TRACING

    TRACING.configure(otel_endpoint)  # plan.run > plan.stage > plan.step spans, when configured

    def on_signal(signum: int, frame: Any) -> None:
        runner.request_stop(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        if live_tree:
            from rich.live import Live

            result: list[Any] = []
            worker = threading.Thread(target=lambda: result.append(runner.run()), name="plan", daemon=True)
            with Live(_tree(runner), console=console, refresh_per_second=4, transient=False) as live:
                worker.start()
                while worker.is_alive():
                    worker.join(0.25)
                    live.update(_tree(runner))
            if not result:
                raise RuntimeError("the plan runner stopped without a report")
            report = result[0]
        else:
            report = runner.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        TRACING.shutdown()
    out = Console()
    colour = {"passed": "green", "warning": "yellow"}.get(report.status, "red")
    out.print(f"[bold {colour}]{report.plan}: {report.status.upper()}[/] (exit {report.exit_code})", highlight=False)
    for reason in report.reasons[:15]:
        out.print(f"  - {reason}", highlight=False, soft_wrap=True)
    for note in report.notifications:
        out.print(f"  notified {note.channel}: {'sent' if note.sent else 'NOT sent: ' + note.error}", highlight=False)
    out.print(f"report: {Path(report.artifacts_dir) / 'report.html'}", highlight=False, soft_wrap=True)
    sys.exit(report.exit_code)


@app.command("flakes")
def flakes_command(
    plan: str = typer.Argument(..., help="The plan's name (or its file)."),
    last: int = typer.Option(14, "--last", help="Look at the last N nights."),
    store: str | None = typer.Option(None, "--store", help="Trend store URL."),
    markdown: Path | None = typer.Option(None, "--markdown", help="Also write the report as Markdown."),
    json_out: Path | None = typer.Option(None, "--json", help="Also write the report as JSON (assay.flakes/1)."),
) -> None:
    """Steps and tests that both passed and failed, or passed only on retry, over the last nights."""
    from rich.console import Console
    from rich.table import Table

    from assay.atomic import write_text_atomic
    from assay.plan.flakes import flake_report, to_markdown

    name = plan
    if plan.endswith((".yaml", ".yml", ".json", ".toml")) and Path(plan).is_file():
        from assay.plan.validate import load_plan

        name = load_plan(plan).plan.name
    if last < 2:
        raise UsageError("--last must be at least 2")
    report = flake_report(name, last=last, store_url=store)
    table = Table(title=f"flaky in the last {report.nights} nights of {name}")
    for col in ("kind", "name", "passed", "failed", "on retry", "flip rate"):
        table.add_column(col, justify="right" if col in ("passed", "failed", "on retry", "flip rate") else "left")
    for f in report.flaky:
        table.add_row(f.kind, f.name, str(f.passed), str(f.failed), str(f.passed_on_retry), f"{f.flip_rate:.0%}")
    Console().print(table)
    if not report.flaky:
        typer.echo(f"no flaky steps or tests in {report.nights} nights")
    if markdown is not None:
        write_text_atomic(markdown, to_markdown(report))
    if json_out is not None:
        write_text_atomic(json_out, report.model_dump_json(indent=2, by_alias=True) + "\n")
