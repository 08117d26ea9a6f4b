"""`assay chaos`: run and validate Chaos Toolkit experiment files (exit 0 / 2 / 64)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from assay.cli.observing import ObservedRun, metrics_port_option, otel_option, pushgateway_option
from assay.cli.recording import open_for_record, record_option, record_result, store_option
from assay.errors import UsageError

app = typer.Typer(
    name="chaos",
    help="Chaos experiments (Chaos Toolkit format): run, validate, export, schedule, monkey.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)

_DRY = ("probes", "actions", "activities", "pause", "plan")


def bare_dry_means_plan(args: list[str]) -> list[str]:
    """`assay chaos run --dry EXP`: a `--dry` with no mode prints the plan (Chaos Toolkit's modes still work)."""
    out = list(args)
    for i, arg in enumerate(out):
        if arg == "--dry" and (i + 1 == len(out) or out[i + 1] not in _DRY):
            out.insert(i + 1, "plan")
            break
    return out


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
    elif kind == "fault-in":
        typer.echo(f"[chaos]   fault in: {data['what']}", err=True)
    elif kind == "fault-out":
        typer.echo(f"[chaos]   fault reverted: {data['what']}", err=True)
    elif kind in ("interrupted", "aborted"):
        typer.echo(f"[chaos] {kind}: {data.get('reason') or data.get('error')}; rolling back", err=True)


def _writable(*outputs: tuple[str, Path | None]) -> None:
    """Refuse before the experiment an output that could not be written after it (a folder, no such folder)."""
    from assay.load.sample_output import check_writable

    for flag, path in outputs:
        if path is not None:
            check_writable(path, flag)


def _duration(text: str, flag: str = "--max-duration") -> float:
    from assay.faults.model import parse_duration

    try:
        return float(parse_duration(text))
    except Exception:
        raise UsageError(f"{flag} {text!r}: expected a duration such as 45m or 3600") from None


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
    dry: str | None = typer.Option(None, "--dry", help="Alone: print the plan and do nothing. With a mode: skip "
                                   "probes, actions, activities or pauses (Chaos Toolkit's)."),
    var: list[str] = typer.Option([], "--var", help="Configuration override: name=value or name:int=value (repeatable)."),
    var_file: list[Path] = typer.Option([], "--var-file", help="JSON/YAML with configuration and secrets, or a .env file."),
    no_validation: bool = typer.Option(False, "--no-validation", help="Run without validating the experiment first."),
    strict: bool = typer.Option(False, "--strict", help="A failed action fails the run (Chaos Toolkit only logs it)."),
    result: Path | None = typer.Option(None, "--result", help="Also write an assay RunResult (kind chaos) here."),
    max_duration: str | None = typer.Option(None, "--max-duration", help="Cap on the planned duration (default 30m)."),
    junit: Path | None = typer.Option(None, "--junit", help="Write JUnit XML: a test case per probe, tolerance and activity."),
    markdown: Path | None = typer.Option(None, "--markdown", help="Write a Markdown summary."),
    html: Path | None = typer.Option(None, "--html", help="Write a self-contained HTML timeline report."),
    record: bool = record_option(),
    store: str | None = store_option(),
    metrics_port: int | None = metrics_port_option(),
    pushgateway: str | None = pushgateway_option(),
    otel_endpoint: str | None = otel_option(),
    sample: list[str] = typer.Option([], "--sample", help="Follow a process's resources during the experiment: PID, NAME=PID or a command-line pattern (repeatable)."),
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
    if not 0 < hypothesis_frequency < float("inf"):
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
    if dry == "plan":
        if record or store is not None:
            raise UsageError("--record/--store: `--dry` alone only prints the plan; there is no run to record")
        from assay.chaos.session import plan_file

        text, code = plan_file(experiment, options, config_vars=config_vars, secret_vars=secret_vars,
                               validation=not no_validation, max_duration=_duration(max_duration) if max_duration else None)
        typer.echo(text)
        raise typer.Exit(code)
    _writable(("--journal-path", journal_path), ("--result", result), ("--junit", junit), ("--markdown", markdown),
              ("--html", html))
    trend_store = open_for_record(record, store)  # before the experiment: a wrong URL is exit 64, not a lost run
    from assay.chaos.sampling import declared_targets
    from assay.observe.watch import ResourceWatch, describe_leaks

    targets = list(dict.fromkeys([*sample, *declared_targets(experiment, config_vars, secret_vars)]))
    watch = ResourceWatch(targets)  # a bad --sample or extensions.assay.sample is exit 64 before the experiment
    with ObservedRun(experiment.stem, "chaos", metrics_port=metrics_port, pushgateway=pushgateway, otel_endpoint=otel_endpoint) as observed:

        def on_event(kind: str, data: dict[str, Any]) -> None:
            _echo_event(kind, data)
            observed.event(kind, data)

        options.on_event = on_event
        with watch:
            outcome = run_file(experiment, options, config_vars=config_vars, secret_vars=secret_vars,
                               validation=not no_validation, journal_path=journal_path,
                               max_duration=_duration(max_duration) if max_duration else None)
        watch.finish(outcome.result)  # the processes' gauges and leak verdicts go into the chaos result
        observed.finish(outcome.result)
    for line in describe_leaks(outcome.result):
        typer.echo(f"leak check: {line}", err=True)
    if result is not None:
        outcome.result.save(result)
    record_result(trend_store, outcome.result)
    if junit is not None or markdown is not None or html is not None:
        from assay.atomic import write_text_atomic
        from assay.chaos.reports import to_junit, to_markdown

        if junit is not None:
            write_text_atomic(junit, to_junit(outcome.journal))
        if markdown is not None:
            write_text_atomic(markdown, to_markdown(outcome.journal))
        if html is not None:
            from assay.chaos.timeline import render

            write_text_atomic(html, render(outcome.journal))
    typer.echo(render_table(outcome.journal), file=sys.stdout)
    raise typer.Exit(outcome.exit_code)


@app.command("validate")
def validate_command(
    experiment: Path = typer.Argument(..., metavar="EXPERIMENT", help="A Chaos Toolkit experiment (.json, .yaml)."),
) -> None:
    """Check an experiment; every mistake is listed with file:line and key (exit 64), else exit 0."""
    from assay.chaos.session import validate_file

    validate_file(experiment)
    typer.echo(f"{experiment}: valid experiment")


@app.command("report")
def report_command(
    journal: Path = typer.Argument(..., metavar="JOURNAL", help="A journal written by `assay chaos run`."),
    html: Path = typer.Option(..., "--html", help="Where to write the HTML timeline."),
) -> None:
    """Draw a journal as a self-contained HTML timeline (faults, probes, load, recovery on one axis)."""
    import json

    from assay.atomic import write_text_atomic
    from assay.chaos.timeline import render

    try:
        data = json.loads(journal.read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"{journal}: cannot read a chaos journal ({exc})") from None
    if not isinstance(data, dict) or not {"steady_states", "experiment", "start"} <= set(data):
        raise UsageError(f"{journal}: not a chaos journal (expected steady_states, experiment, start)")
    shapes = {"steady_states": dict, "experiment": dict, "start": str, "end": str, "run": list, "rollbacks": list,
              "x-assay": dict}
    for key, kind in shapes.items():
        if key in data and data[key] is not None and not isinstance(data[key], kind):
            raise UsageError(f"{journal}: {key}: expected a {'mapping' if kind is dict else kind.__name__}, "
                             f"got {type(data[key]).__name__} (not a journal `assay chaos run` wrote)")
    _writable(("--html", html))
    try:
        page = render(data)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"{journal}: not a journal `assay chaos run` wrote ({type(exc).__name__}: {exc})") from None
    write_text_atomic(html, page)
    typer.echo(f"wrote {html}")


@app.command("export")
def export_command(
    experiment: Path = typer.Argument(..., metavar="EXPERIMENT", help="A Chaos Toolkit experiment (.json, .yaml)."),
    to: str = typer.Option("chaos-mesh", "--to", help="The target format: chaos-mesh (a Workflow)."),
    mapping: Path = typer.Option(..., "--mapping", "-m", help="Local target -> Chaos Mesh selector (see assay fault export)."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the YAML here (default: stdout)."),
    var: list[str] = typer.Option([], "--var", help="Configuration override: name=value (repeatable)."),
) -> None:
    """Write the experiment's faults as a Chaos Mesh Workflow (validated against the CRDs); exit 64 if none can be."""
    import yaml

    from assay.atomic import write_text_atomic
    from assay.chaos import experiment as exp_mod
    from assay.chaos.export import to_chaos_mesh
    from assay.chaos.substitute import load_configuration, load_secrets, substitute
    from assay.chaos.variables import parse_var
    from assay.faults.chaosmesh import load_mapping

    if to != "chaos-mesh":
        raise UsageError(f"--to {to!r}: expected chaos-mesh")
    _writable(("--output", output))
    exp = exp_mod.load(experiment)
    exp_mod.validate(exp, check_imports=False)
    config_vars = dict(parse_var(v) for v in var)
    data = substitute(exp.data, load_configuration(exp.data.get("configuration"), config_vars),
                      load_secrets(exp.data.get("secrets"), {}))
    exported = to_chaos_mesh(data, load_mapping(mapping))
    text = yaml.safe_dump(exported.manifest, sort_keys=False)
    for line in exported.skipped:
        typer.echo(f"[chaos] not exported: {line}", err=True)
    if output is None:
        typer.echo(text, nl=False)
    else:
        write_text_atomic(output, text)
        typer.echo(f"wrote {output} (Workflow, {len(exported.manifest['spec']['templates']) - 1} templates)", err=True)


schedule_app = typer.Typer(name="schedule", help="Recurring experiments: add, list, remove, run what is due.",
                           no_args_is_help=True, context_settings={"help_option_names": ["-h", "--help"]})
app.add_typer(schedule_app)
_DB_HELP = "The store: sqlite:///path or postgresql://... (default $ASSAY_DB_URL, else .assay/chaos.db)."


def _check_run_args(experiment: Path, args: list[str]) -> None:
    """Parse `--arg`s as `assay chaos run` will, so a typo is refused now rather than at 3 a.m."""
    run = typer.main.get_command(app).commands["run"]  # type: ignore[attr-defined]
    try:
        run.make_context("run", bare_dry_means_plan([str(experiment), *args]))
    except typer.TyperException as exc:
        raise UsageError(f"--arg {' '.join(args)!r}: {exc}") from None


@schedule_app.command("add")
def schedule_add(
    name: str = typer.Argument(..., help="A name for the schedule."),
    experiment: Path = typer.Argument(..., metavar="EXPERIMENT", help="The experiment file to run."),
    cron: str | None = typer.Option(None, "--cron", help="A cron expression, e.g. '0 10 * * 1-5'."),
    every: str | None = typer.Option(None, "--every", help="An interval instead, e.g. 6h."),
    timezone: str = typer.Option("UTC", "--timezone", help="The cron expression's timezone."),
    arg: list[str] = typer.Option([], "--arg", help="An extra `assay chaos run` argument (repeatable), e.g. --arg=--strict."),
    db: str | None = typer.Option(None, "--db", help=_DB_HELP),
) -> None:
    """Keep an experiment to run on a cron expression or an interval."""
    from assay.chaos.schedules.store import open_store
    from assay.chaos.session import validate_file

    validate_file(experiment, check_imports=False)
    _check_run_args(experiment, arg)
    with open_store(db) as store:
        s = store.add(name, str(experiment.resolve()), cron=cron, every_s=_duration(every, "--every") if every else None,
                      timezone=timezone, args=arg)
    typer.echo(f"added {s.name}: {s.experiment} {s.when}, next {s.next_due.isoformat(timespec='seconds')}")


@schedule_app.command("list")
def schedule_list(
    db: str | None = typer.Option(None, "--db", help=_DB_HELP),
    as_json: bool = typer.Option(False, "--json", help="JSON instead of a table."),
) -> None:
    """The schedules, soonest due first, with their last exit code."""
    import json

    from assay.chaos.schedules.store import open_store

    with open_store(db) as store:
        items = store.all()
    if as_json:
        typer.echo(json.dumps({"schema": "assay.chaos.schedules/1", "schedules": [
            {"name": s.name, "experiment": s.experiment, "cron": s.cron, "every_s": s.every_s, "timezone": s.timezone,
             "args": s.args, "next_due": s.next_due.isoformat(), "last_run_at": s.last_run_at.isoformat() if s.last_run_at else None,
             "last_exit": s.last_exit} for s in items]}, indent=2))
        return
    if not items:
        typer.echo("no schedules")
        return
    for s in items:
        last = "never run" if s.last_run_at is None else f"last {s.last_run_at.isoformat(timespec='seconds')} exit {s.last_exit}"
        typer.echo(f"{s.name:<20} {s.when:<28} next {s.next_due.isoformat(timespec='seconds')}  {last}  {s.experiment}")


@schedule_app.command("remove")
def schedule_remove(
    name: str = typer.Argument(..., help="The schedule to remove."),
    db: str | None = typer.Option(None, "--db", help=_DB_HELP),
) -> None:
    """Forget a schedule (its run history stays)."""
    from assay.chaos.schedules.store import open_store

    with open_store(db) as store:
        store.remove(name)
    typer.echo(f"removed {name}")


@schedule_app.command("run")
def schedule_run(
    db: str | None = typer.Option(None, "--db", help=_DB_HELP),
    foreground: bool = typer.Option(False, "--foreground", help="Stay running and start each experiment when due."),
    journal_dir: Path = typer.Option(Path(".assay/chaos-journals"), "--journal-dir", help="Where the runs' journals go."),
) -> None:
    """Run what is due now (for cron or CI to call); exit 2 if any run deviated or failed. --foreground keeps going."""
    import signal
    import threading
    from datetime import UTC, datetime

    from assay.chaos.schedules.store import open_store, run_due, run_forever
    from assay.chaos.schedules.subprocess_runner import run_schedule

    if journal_dir.exists() and not journal_dir.is_dir():
        raise UsageError(f"--journal-dir: {str(journal_dir)!r} is a file; expected a folder (made if missing)")

    def runner(s: Any) -> tuple[int, str | None]:
        typer.echo(f"[chaos] schedule {s.name}: running {s.experiment}", err=True)
        code, journal = run_schedule(s, journal_dir)
        typer.echo(f"[chaos] schedule {s.name}: exit {code}", err=True)
        return code, journal

    def clock() -> datetime:
        return datetime.now(UTC)

    with open_store(db) as store:
        if not foreground:
            done = run_due(store, runner, clock)
            typer.echo(f"ran {len(done)} due schedule(s)" + "".join(f"\n  {s.name}: exit {c}" for s, c in done))
            raise typer.Exit(2 if any(c for _s, c in done) else 0)
        stop = threading.Event()
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            run_forever(store, runner, clock, stop.wait)
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)


@app.command("monkey")
def monkey_command(
    catalogue: Path = typer.Option(..., "--catalogue", "-c", help="The allowed faults and targets (YAML/JSON)."),
    seed: int | None = typer.Option(None, "--seed", help="Make the random choices reproducible."),
    ticks: int | None = typer.Option(None, "--ticks", help="Stop after this many decisions."),
    for_: str | None = typer.Option(None, "--for", help="Stop after this long, e.g. 8h."),
    dry: bool = typer.Option(False, "--dry", help="Decide and print, inject nothing."),
    log: Path | None = typer.Option(None, "--log", help="Append each decision as a JSON line here."),
) -> None:
    """Random faults from a catalogue at an interval, within the blast radius and business hours; exit 2 if a guard
    trips or no due fault went in (failed, or held back: steady state not met, target locked), 1 if some did not."""
    import json
    import signal
    from datetime import UTC, datetime, timedelta

    from assay.chaos import monkey as monkey_mod

    if ticks is not None and ticks < 1:
        raise UsageError(f"--ticks {ticks}: expected at least 1 decision")
    _writable(("--log", log))
    cat = monkey_mod.load_catalogue(catalogue)

    def on_decision(d: Any) -> None:
        typer.echo(f"[monkey] {d.at.isoformat(timespec='seconds')} {d.outcome:<13} {d.fault or '-'} {d.target or ''} {d.detail}",
                   err=True)
        if log is not None:
            with log.open("a") as fh:
                fh.write(json.dumps(d.as_dict()) + "\n")

    until = datetime.now(UTC) + timedelta(seconds=_duration(for_, "--for")) if for_ else None
    mk = monkey_mod.Monkey(cat, seed=seed, dry=dry, on_decision=on_decision)
    previous = signal.signal(signal.SIGTERM, lambda *_: monkey_mod.stop())
    try:
        code = mk.run(ticks=ticks, until=until)
    except KeyboardInterrupt:
        mk.ctx.revert_all()
        code = mk.exit_code()
    finally:
        signal.signal(signal.SIGTERM, previous)
    typer.echo(mk.summary())
    raise typer.Exit(code)
