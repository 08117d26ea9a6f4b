"""`assay chaos`: run and validate Chaos Toolkit experiment files (exit 0 / 2 / 64)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from assay.errors import UsageError

app = typer.Typer(
    name="chaos",
    help="Chaos experiments (Chaos Toolkit format): run, validate.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)

_DRY = ("probes", "actions", "activities", "pause")


def _choice(value: str | None, allowed: tuple[str, ...], flag: str) -> str | None:
    if value is not None and value not in allowed:
        raise UsageError(f"{flag} {value!r}: expected one of {', '.join(allowed)}")
    return value


def _echo_event(kind: str, data: dict[str, Any]) -> None:
    if kind == "phase":
        typer.echo(f"[chaos] -- {data['name']}", err=True)
    elif kind == "activity":
        typer.echo(f"[chaos] {data['type']}: {data['name']}", err=True)
    elif kind == "activity-done" and data["status"] != "succeeded":
        typer.echo(f"[chaos]   {data['name']}: {data['status']}", err=True)
    elif kind == "tolerance" and not data["met"]:
        typer.echo(f"[chaos]   {data['name']}: tolerance not met", err=True)
    elif kind == "recovery":
        ttr = data["time_to_recover_s"]
        typer.echo(f"[chaos]   recovered in {ttr:.2f}s" if data["recovered"] else "[chaos]   not recovered before the timeout", err=True)
    elif kind in ("interrupted", "aborted"):
        typer.echo(f"[chaos] {kind}: {data.get('reason') or data.get('error')}; rolling back", err=True)


def _duration(text: str) -> float:
    from assay.faults.model import parse_duration

    try:
        return float(parse_duration(text))
    except Exception:
        raise UsageError(f"--max-duration {text!r}: expected a duration such as 45m or 3600") from None


@app.command("run")
def run_command(
    experiment: Path = typer.Argument(..., metavar="EXPERIMENT", help="A Chaos Toolkit experiment (.json, .yaml)."),
    journal_path: Path = typer.Option(Path("journal.json"), "--journal-path", help="Where to write the journal."),
    rollback_strategy: str | None = typer.Option(None, "--rollback-strategy", help="default, always, never or deviated."),
    hypothesis_strategy: str | None = typer.Option(
        None, "--hypothesis-strategy",
        help="default, before-method-only, after-method-only, during-method-only or continuously."),
    hypothesis_frequency: float = typer.Option(1.0, "--hypothesis-frequency", help="Seconds between continuous hypothesis runs."),
    fail_fast: bool = typer.Option(False, "--fail-fast", help="Stop at the first continuous hypothesis that is not met."),
    dry: str | None = typer.Option(None, "--dry", help="Skip probes, actions, activities, or pauses."),
    var: list[str] = typer.Option([], "--var", help="Configuration override: name=value or name:int=value (repeatable)."),
    var_file: list[Path] = typer.Option([], "--var-file", help="JSON/YAML with configuration and secrets, or a .env file."),
    no_validation: bool = typer.Option(False, "--no-validation", help="Run without validating the experiment first."),
    strict: bool = typer.Option(False, "--strict", help="A failed action fails the run (Chaos Toolkit only logs it)."),
    result: Path | None = typer.Option(None, "--result", help="Also write an assay RunResult (kind chaos) here."),
    max_duration: str | None = typer.Option(None, "--max-duration", help="Cap on the planned duration (default 30m)."),
    junit: Path | None = typer.Option(None, "--junit", help="Write JUnit XML: a test case per probe, tolerance and activity."),
    markdown: Path | None = typer.Option(None, "--markdown", help="Write a Markdown summary."),
) -> None:
    """Run an experiment: hypothesis, method, hypothesis, rollbacks; exit 0 met, 2 deviated/failed, 64 invalid."""
    from assay.chaos.runner import RunOptions
    from assay.chaos.session import run_file
    from assay.chaos.summary import render_table
    from assay.chaos.variables import parse_var, read_var_file

    _choice(rollback_strategy, ("default", "always", "never", "deviated"), "--rollback-strategy")
    _choice(hypothesis_strategy, ("default", "before-method-only", "after-method-only", "during-method-only", "continuously"),
            "--hypothesis-strategy")
    _choice(dry, _DRY, "--dry")
    if hypothesis_frequency <= 0:
        raise UsageError("--hypothesis-frequency: expected a positive number of seconds")
    config_vars: dict[str, Any] = {}
    secret_vars: dict[str, Any] = {}
    for f in var_file:
        c, s = read_var_file(f)
        config_vars.update(c)
        secret_vars.update(s)
    for v in var:
        name, value = parse_var(v)
        config_vars[name] = value
    options = RunOptions(rollback_strategy=rollback_strategy, hypothesis_strategy=hypothesis_strategy,
                         hypothesis_frequency=hypothesis_frequency, fail_fast=fail_fast, dry=dry, strict=strict,
                         on_event=_echo_event)
    outcome = run_file(experiment, options, config_vars=config_vars, secret_vars=secret_vars,
                       validation=not no_validation, journal_path=journal_path,
                       max_duration=_duration(max_duration) if max_duration else None)
    if result is not None:
        outcome.result.save(result)
    if junit is not None or markdown is not None:
        from assay.atomic import write_text_atomic
        from assay.chaos.reports import to_junit, to_markdown

        if junit is not None:
            write_text_atomic(junit, to_junit(outcome.journal))
        if markdown is not None:
            write_text_atomic(markdown, to_markdown(outcome.journal))
    typer.echo(render_table(outcome.journal), file=sys.stdout)
    raise typer.Exit(outcome.exit_code)


@app.command("validate")
def validate_command(
    experiment: Path = typer.Argument(..., metavar="EXPERIMENT", help="A Chaos Toolkit experiment (.json, .yaml)."),
) -> None:
    """Check an experiment; every mistake is listed with file:line and key (exit 64), else exit 0."""
    from assay.chaos import experiment as exp_mod

    exp_mod.validate(exp_mod.load(experiment))
    typer.echo(f"{experiment}: valid experiment")
