"""`assay trend`: keep every run, apply the teams' rules, detect real changes, draw the trends."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Any

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


def parse_time(text: str | None, option: str, *, end_of_day: bool = False) -> datetime | None:
    if text is None:
        return None
    from assay.trends.timeparse import parse_when

    return parse_when(text, option, end_of_day=end_of_day)


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
            if "scenario" not in result.labels and "scenario" not in labels and result.name == str(path):
                # k6 files carry no test name: each file's path would be a scenario of its own
                typer.echo(
                    f"warning: {path} names no scenario (k6 files carry none), so its path is the scenario; "
                    "add --label scenario=NAME so the runs of one test form one series",
                    err=True,
                )


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


@app.command("combine")
def combine_command(
    run_ids: list[str] = typer.Argument(None, metavar="[RUN...]", help="Runs by id or unique prefix; default: every run the options select."),
    output: Path = typer.Option(..., "--output", "-o", help="The combined result file."),
    scenario: str | None = typer.Option(None, "--scenario", help="Only this scenario (needed when the store holds several)."),
    label: list[str] = typer.Option(None, "--label", "-l", help="Only runs with label k=v (repeatable)."),
    since: str | None = typer.Option(None, "--since", help="Only runs from this time (ISO 8601)."),
    until: str | None = typer.Option(None, "--until", help="Only runs up to this time (ISO 8601; a date includes its whole day)."),
    to: str = typer.Option("assay", "--to", help="Output format: assay, k6-summary, ... (as `assay results convert`)."),
    store: str | None = typer.Option(None, "--store", help=STORE_HELP),
) -> None:
    """Combine recorded runs into one result from their stored histograms, exactly: p(99.9) over last
    week's runs, every run of Tuesday. Rates are per second of the time the runs ran."""
    from assay.formats import OUTPUT_FORMATS, save_result
    from assay.results import combine_results
    from assay.trends.store import open_store

    if to not in OUTPUT_FORMATS:
        raise UsageError(f"--to {to!r}: expected one of {', '.join(OUTPUT_FORMATS)}")
    labels = parse_labels(label)
    start, end = parse_time(since, "--since"), parse_time(until, "--until", end_of_day=True)
    with open_store(store) as s:
        if run_ids:
            runs = [s.find_run(r) for r in run_ids]
        else:
            runs = s.runs(scenario=scenario, labels=labels, since=start, until=end)
        if scenario is not None and run_ids:
            runs = [r for r in runs if r.scenario == scenario]
        if not runs:
            raise UsageError(f"no runs in the store {s.url} match; `assay trend runs` lists them")
        scenarios = sorted({r.scenario for r in runs})
        if len(scenarios) > 1:
            raise UsageError(f"the runs are of {len(scenarios)} scenarios ({', '.join(scenarios[:5])}); choose one with --scenario")
        results = s.results(runs)
    try:
        combined = combine_results(results, name=f"{scenarios[0]} ({len(results)} runs combined)")
    except ValueError as exc:
        raise UsageError(f"cannot combine: {exc} (runs recorded from k6 summaries hold percentiles, not histograms)") from None
    save_result(combined, output, to)
    first, last = runs[0].at, runs[-1].at
    typer.echo(f"combined {len(results)} run(s) of {scenarios[0]} ({first:%Y-%m-%d %H:%M} .. {last:%Y-%m-%d %H:%M}Z) into {output}", err=True)


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


def _specs(series: list[str] | None, direction: str | None) -> list[object]:
    from assay.trends.series import SeriesSpec

    if direction not in (None, "higher", "lower"):
        raise UsageError(f"--worse {direction!r}: expected higher or lower")
    return [SeriesSpec.parse(s, direction=direction) for s in series or []]  # type: ignore[arg-type]


@app.command("show")
def show_command(
    series: list[str] = typer.Argument(None, metavar="SERIES...", help="METRIC [AGG], e.g. 'http_req_duration{name:create} p(95)'."),
    scenario: str | None = typer.Option(None, "--scenario", help="Only this scenario."),
    label: list[str] = typer.Option(None, "--label", "-l", help="Only runs with label k=v (repeatable)."),
    since: str | None = typer.Option(None, "--since", help="Only runs from this time (ISO 8601)."),
    baseline: str | None = typer.Option(None, "--baseline", help="Draw this named baseline's band."),
    html: Path | None = typer.Option(None, "--html", help="Write an interactive HTML page (offline, self-contained)."),
    png: Path | None = typer.Option(None, "--png", help="Write a PNG picture (for Markdown and CI summaries)."),
    worse: str | None = typer.Option(None, "--worse", help="Which way is worse: higher or lower (default by metric)."),
    store: str | None = typer.Option(None, "--store", help=STORE_HELP),
) -> None:
    """Print series as tables (change points marked); --html/--png draw them."""
    from rich.console import Console
    from rich.table import Table

    from assay.trends.analyze import analyze
    from assay.trends.report import table_rows
    from assay.trends.store import open_store

    with open_store(store) as s:
        detection = analyze(
            s, _specs(series, worse), scenario=scenario, labels=parse_labels(label),  # type: ignore[arg-type]
            since=parse_time(since, "--since"), baseline=baseline, min_runs=10,
        )
    console = Console()
    for outcome in detection.outcomes:
        table = Table("run", "at (UTC)", outcome.series.aggregation, "Δ prev", "git sha", "", title=outcome.series.title)
        for row in table_rows(outcome):
            table.add_row(*row)
        console.print(table)
        for note in outcome.notes:
            console.print(f"[yellow]warning:[/] {note}", highlight=False)
    _pictures(detection, html, png)


def _pictures(detection: object, html: Path | None, png: Path | None) -> None:
    if html is not None:
        from assay.trends.charts import write_html

        write_html(detection, html)  # type: ignore[arg-type]
        typer.echo(f"wrote {html}", err=True)
    if png is not None:
        from assay.trends.charts import write_png

        write_png(detection, png)  # type: ignore[arg-type]
        typer.echo(f"wrote {png}", err=True)


@app.command("detect")
def detect_command(
    series: list[str] = typer.Argument(None, metavar="SERIES...", help="METRIC [AGG]; default: the main metrics of every scenario."),
    rule: list[str] = typer.Option(None, "--rule", help="A team rule, e.g. '10% worse than mean of last 7 days for 3 consecutive runs'."),
    stats: bool | None = typer.Option(None, "--stats/--no-stats", help="Run assay's statistical detector (default: on unless --rule is given)."),
    baseline: str | None = typer.Option(None, "--baseline", help="Also compare the newest run with this named baseline."),
    scenario: str | None = typer.Option(None, "--scenario", help="Only this scenario."),
    label: list[str] = typer.Option(None, "--label", "-l", help="Only runs with label k=v (repeatable), e.g. git_branch=main."),
    since: str | None = typer.Option(None, "--since", help="Only runs from this time (ISO 8601)."),
    min_runs: int = typer.Option(10, "--min-runs", help="History the detector needs before it judges a series."),
    recent: int = typer.Option(5, "--recent", help="An alarm is open (exit 2) when its change began in the newest N runs."),
    worse: str | None = typer.Option(None, "--worse", help="Which way is worse: higher or lower (default by metric)."),
    report: Path | None = typer.Option(None, "--report", help="Write the plain-text regression report here."),
    json_out: Path | None = typer.Option(None, "--json", help="Write the detection as JSON (schema assay.trend/1)."),
    marker: Path | None = typer.Option(None, "--marker", help="Create this file when a regression is found (for CI jobs)."),
    html: Path | None = typer.Option(None, "--html", help="Write the interactive HTML page."),
    png: Path | None = typer.Option(None, "--png", help="Write the PNG picture."),
    store: str | None = typer.Option(None, "--store", help=STORE_HELP),
) -> None:
    """Find regressions: exit 2 when one is open, 0 otherwise (also with too little history)."""
    import json

    from assay.atomic import write_text_atomic
    from assay.trends.analyze import analyze
    from assay.trends.report import render_text
    from assay.trends.rules import Rule
    from assay.trends.store import open_store

    rules = [Rule.parse(r) for r in rule or []]
    if min_runs < 3 or recent < 1:
        raise UsageError("--min-runs must be at least 3 and --recent at least 1")
    use_stats = stats if stats is not None else not rules
    with open_store(store) as s:
        detection = analyze(
            s, _specs(series, worse), scenario=scenario, labels=parse_labels(label),  # type: ignore[arg-type]
            since=parse_time(since, "--since"), rules=rules, stats=use_stats, baseline=baseline,
            min_runs=min_runs, recent=recent,
        )
    text = render_text(detection)
    typer.echo(text, nl=False)
    for note in detection.notes:
        typer.echo(f"warning: {note}", err=True)
    if report is not None:
        write_text_atomic(report, text)
    if json_out is not None:
        write_text_atomic(json_out, json.dumps(detection.to_dict(), indent=2) + "\n")
    if marker is not None and detection.regressions:
        write_text_atomic(marker, "".join(f"{a.scenario}: {a.series} {a.size_text()} at {a.run_id}\n" for a in detection.regressions))
    _pictures(detection, html, png)
    sys.exit(detection.exit_code)


@baseline_app.command("set")
def baseline_set(
    name: str = typer.Argument(..., help="The baseline's name."),
    run: str | None = typer.Argument(None, help="Pin this run (id or unique prefix)."),
    window: str | None = typer.Option(None, "--window", help="Or a window: 'last 7 runs', 'last 7 days', 'same weekday 4'."),
    store: str | None = typer.Option(None, "--store", help=STORE_HELP),
) -> None:
    """Name a baseline: a pinned run, or a window of runs before the one judged."""
    from assay.trends.store import open_store
    from assay.trends.windows import Window

    if window is not None:
        window = str(Window.parse(window))
    with open_store(store) as s:
        row = s.set_baseline(name, run_id=run, window=window)
    what = f"run {row.run_id[:12]}" if row.run_id else f"window {row.window}"
    typer.echo(f"baseline {name}: {what}", err=True)


@baseline_app.command("list")
def baseline_list(store: str | None = typer.Option(None, "--store", help=STORE_HELP)) -> None:
    """List the named baselines."""
    from assay.trends.store import open_store

    with open_store(store) as s:
        for row in s.baselines():
            what = f"run {row.run_id}" if row.run_id else f"window {row.window}"
            typer.echo(f"{row.name}\t{what}\t{row.created_at:%Y-%m-%d %H:%M}")


@baseline_app.command("rm")
def baseline_rm(name: str = typer.Argument(...), store: str | None = typer.Option(None, "--store", help=STORE_HELP)) -> None:
    """Delete a named baseline."""
    from assay.trends.store import open_store

    with open_store(store) as s:
        s.delete_baseline(name)


@app.command("pages")
def pages_command(
    directory: Path = typer.Argument(..., help="Write index.html and one page per scenario here."),
    scenario: str | None = typer.Option(None, "--scenario", help="Only this scenario."),
    label: list[str] = typer.Option(None, "--label", "-l", help="Only runs with label k=v (repeatable)."),
    since: str | None = typer.Option(None, "--since", help="Only runs from this time (ISO 8601)."),
    store: str | None = typer.Option(None, "--store", help=STORE_HELP),
) -> None:
    """A page per scenario: p50/p95/p99 latency, throughput and error rate as small multiples."""
    from assay.trends.analyze import Detection
    from assay.trends.charts import write_scenario_pages
    from assay.trends.store import open_store

    with open_store(store) as s:
        url = s.url
    outcomes = _outcomes(None, scenario, store, labels=parse_labels(label), since=parse_time(since, "--since"))
    for path in write_scenario_pages(Detection(url, outcomes, ["assay detector"]), directory):
        typer.echo(f"wrote {path}", err=True)


@export_app.command("grafana")
def export_grafana(
    series: list[str] = typer.Argument(None, metavar="SERIES...", help="METRIC [AGG]; default: each scenario's page series."),
    output: Path = typer.Option(..., "--output", "-o", help="The dashboard JSON file."),
    datasource: str = typer.Option("postgresql", "--datasource", help="postgresql (the store's tables) or prometheus."),
    scenario: str | None = typer.Option(None, "--scenario", help="Only this scenario."),
    title: str = typer.Option("assay trends", "--title", help="The dashboard's title."),
    store: str | None = typer.Option(None, "--store", help=STORE_HELP),
) -> None:
    """Write a Grafana dashboard for the series, fed by PostgreSQL (the store) or Prometheus."""
    from assay.atomic import write_text_atomic
    from assay.trends.grafana import dashboard_json

    if datasource not in ("postgresql", "prometheus"):
        raise UsageError(f"--datasource {datasource!r}: expected postgresql or prometheus")
    outcomes = _outcomes(series, scenario, store)
    write_text_atomic(output, dashboard_json(outcomes, datasource=datasource, title=title))
    typer.echo(f"wrote {output} ({len(outcomes)} panels)", err=True)


@export_app.command("prometheus")
def export_prometheus(
    series: list[str] = typer.Argument(None, metavar="SERIES...", help="METRIC [AGG]; default: each scenario's page series."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write here (a textfile collector's .prom file) instead of stdout."),
    port: int | None = typer.Option(None, "--port", help="Serve /metrics live on 127.0.0.1:PORT until stopped (re-read when runs are recorded)."),
    scenario: str | None = typer.Option(None, "--scenario", help="Only this scenario."),
    store: str | None = typer.Option(None, "--store", help=STORE_HELP),
) -> None:
    """The newest value and regression state of each series in Prometheus text format, or live."""
    from assay.atomic import write_text_atomic
    from assay.trends.exporter import exposition

    if port is not None:
        if output is not None:
            raise UsageError("--port serves the metrics live; --output writes them once: choose one")
        _serve_prometheus(series, scenario, store, port)
        return
    text = exposition(_outcomes(series, scenario, store))
    if output is None:
        typer.echo(text, nl=False)
    else:
        write_text_atomic(output, text)


def _serve_prometheus(series: list[str] | None, scenario: str | None, store: str | None, port: int) -> None:
    """Until SIGINT/SIGTERM: each scrape analyses the store again only if a run was recorded or deleted."""
    import signal
    import threading

    from assay.trends.exporter import StoreCollector, serve
    from assay.trends.store import open_store

    stop = threading.Event()
    with open_store(store) as s:
        collector = StoreCollector(s, lambda st: _analyse(st, series, scenario))
        collector.refresh()  # a bad series or scenario is exit 64 here, before serving
        if collector.errors:
            _analyse(s, series, scenario)  # raises the located error
        try:
            server, thread = serve(collector, port)
        except OSError as exc:
            raise UsageError(f"--port {port}: {exc}") from None
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        typer.echo(f"serving trend metrics on http://127.0.0.1:{port}/metrics (store {s.url}); Ctrl-C stops", err=True)
        stop.wait()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _analyse(
    s: Any,
    series: list[str] | None,
    scenario: str | None,
    *,
    labels: dict[str, str] | None = None,
    since: datetime | None = None,
) -> list[Any]:
    """Each scenario's series (named, or its page series) of an open store, analysed with the defaults."""
    from assay.trends.analyze import analyze, select_runs
    from assay.trends.series import scenario_specs

    outcomes: list[Any] = []
    specs = _specs(series, None)
    for name in select_runs(s, scenario=scenario, labels=labels, since=since):
        wanted = specs or scenario_specs(s, name)
        outcomes += analyze(s, wanted, scenario=name, labels=labels, since=since, skip_missing=not specs).outcomes  # type: ignore[arg-type]
    return outcomes


def _outcomes(
    series: list[str] | None,
    scenario: str | None,
    store: str | None,
    *,
    labels: dict[str, str] | None = None,
    since: datetime | None = None,
) -> list[Any]:
    """Each scenario's series (named, or its page series) analysed with the defaults."""
    from assay.trends.store import open_store

    with open_store(store) as s:
        return _analyse(s, series, scenario, labels=labels, since=since)
