"""`assay load`: load, stress, spike and soak tests with k6's vocabulary.

    assay load run scenario.py --summary-export out.json
    assay load run scenario.yaml --profile stress --vus 50
    assay load run http://127.0.0.1:8080/ --rate 200 --duration 30s --threshold 'http_req_duration:p(95)<300'
    assay load run scenario.py --vus 50 --rps 500 --warmup 30s --scrape http://127.0.0.1:8080/metrics \
        --threshold 'courier_messages_delivered_total:delta == messages_sent' --threshold 'downtime:count==0'
    assay load run scenario.py --profile hotel-stress      # the hotel team's fixed sizes (docs/load-run-options.md)

Exit codes: 0 passed, 99 a threshold was crossed (as k6), 108 a k6 script called
exec.test.abort() (as k6), 64 bad input (before any traffic), 1 interrupted with Ctrl-C or
SIGTERM (results are still written), 2 nothing completed (no iteration finished and no
request succeeded).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import typer

from assay.cli.progress import LiveProgress
from assay.cli.recording import open_for_record, record_option, record_result, store_option

app = typer.Typer(name="load", help="Load, stress, spike and soak tests (k6-compatible).", no_args_is_help=True)


def _kv(pairs: list[str], flag: str) -> dict[str, str]:
    from assay.errors import UsageError

    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"{flag} {pair!r}: expected KEY=VALUE")
        out[key.strip()] = value
    return out


def _warmup_seconds(text: str | None) -> float:
    from assay.errors import UsageError
    from assay.load.durations import parse_duration

    if text is None:
        return 0.0
    try:
        return parse_duration(text, what="--warmup")
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _headers(pairs: list[str]) -> dict[str, str]:
    from assay.errors import UsageError

    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition(":")
        if not sep or not name.strip():
            raise UsageError(f"--header {pair!r}: expected 'Name: value'")
        out[name.strip()] = value.strip()
    return out


@app.command("run")
def run(
    target: str = typer.Argument(..., help="A scenario file (.py, .yaml, k6 .js) or a URL (quick mode)."),
    vus: int | None = typer.Option(None, "--vus", "-u", help="Virtual users (constant-vus; or the profile's level)."),
    rate: float | None = typer.Option(None, "--rate", "-r", help="Constant arrival rate, iterations per second."),
    duration: str | None = typer.Option(None, "--duration", "-d", help="Test duration, e.g. 30s, 5m."),
    iterations: int | None = typer.Option(None, "--iterations", "-i", help="Total iterations (shared-iterations)."),
    max_vus: int | None = typer.Option(None, "--max-vus", help="With --rate: most VUs to use (default 10x preallocated)."),
    profile: str | None = typer.Option(None, "--profile", "-p", help="smoke, load, stress, spike, soak or breakpoint; fixed-size presets hotel-smoke, hotel-load, hotel-stress, hotel-spike, hotel-soak."),
    method: str = typer.Option("GET", "--method", "-X", help="Quick mode: HTTP method."),
    header: list[str] = typer.Option([], "--header", "-H", help="Quick mode: 'Name: value' (repeatable)."),
    body: str | None = typer.Option(None, "--body", "-b", help="Quick mode: request body."),
    threshold: list[str] = typer.Option([], "--threshold", help="METRIC:EXPR, e.g. 'http_req_duration:p(95)<300' (repeatable)."),
    no_thresholds: bool = typer.Option(False, "--no-thresholds", help="Do not evaluate thresholds."),
    summary_export: Path | None = typer.Option(None, "--summary-export", help="Write k6's summary-export JSON here."),
    out: list[str] = typer.Option(
        [], "--out", "-o",
        help="As in k6 (repeatable): json=FILE one NDJSON line per sample, csv=FILE one row per sample (.gz to compress); "
        "assay=FILE the RunResult JSON.",
    ),
    result_file: Path | None = typer.Option(None, "--result", help="Write the RunResult JSON (assay.run/1) here (= -o assay=FILE)."),
    out_limit: str = typer.Option("2GB", "--out-limit", help="Most bytes each per-sample output may write (soaks); 0: no limit."),
    omission_factor: float = typer.Option(
        3.0, "--omission-warn-factor",
        help="Warn when corrected latency (http_req_corrected_duration) exceeds the measured one this many times at p95/p99; 0: never.",
    ),
    workers: str = typer.Option("auto", "--workers", "-w", help="Worker processes: a number or 'auto' (one per core; with --backend ray, per cluster CPU)."),
    backend: str = typer.Option("process", "--backend", help="Where workers run: process (this machine) or ray (Ray actors; pip install 'assay[ray]')."),
    ray_address: str | None = typer.Option(None, "--ray-address", help="With --backend ray: the cluster (default $RAY_ADDRESS, else a local instance for this run)."),
    ray_placement: str = typer.Option("spread", "--ray-placement", help="With --backend ray: spread (across nodes) or pack (fill a node first)."),
    on_worker_loss: str = typer.Option("continue", "--on-worker-loss", help="With --backend ray: continue or abort when a worker dies (its data so far is kept)."),
    env: list[str] = typer.Option([], "--env", "-e", help="KEY=VALUE made visible as vu.env (repeatable)."),
    tag: list[str] = typer.Option([], "--tag", help="KEY=VALUE added to every sample (repeatable)."),
    insecure: bool = typer.Option(False, "--insecure-skip-tls-verify", "-k", help="Do not verify TLS certificates."),
    stage: list[str] = typer.Option(
        [], "--stage", "-s", help="As k6: a ramping-vus stage DURATION:TARGET, e.g. 30s:10 (repeatable); replaces the file's scenarios.",
    ),
    summary_trend_stats: str | None = typer.Option(
        None, "--summary-trend-stats", help="As k6: the trend stats of the summaries, e.g. 'avg,p(95),p(99.9)' (options.summaryTrendStats).",
    ),
    user_agent: str | None = typer.Option(None, "--user-agent", help="As k6: the User-Agent of HTTP requests (options.userAgent)."),
    no_connection_reuse: bool = typer.Option(
        False, "--no-connection-reuse", help="As k6 (k6 scripts only): a new connection for every request (options.noConnectionReuse).",
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress and no end-of-test summary."),
    name: str | None = typer.Option(None, "--name", help="Run name in the result (default: the file name)."),
    sample: list[str] = typer.Option([], "--sample", help="Follow a process's resources: PID, NAME=PID or a command-line pattern (repeatable)."),
    leak_warmup: str | None = typer.Option(
        None, "--leak-warmup", help="Warm-up left out of leak verdicts: a percentage or seconds (30s); default --warmup, else 10%."
    ),
    rps: float | None = typer.Option(None, "--rps", help="As k6: at most this many HTTP requests per second across all VUs (0: no cap)."),
    warmup: str | None = typer.Option(
        None, "--warmup", help="Keep the first seconds (e.g. 30s) out of thresholds, SLO gates and leak verdicts; still recorded."
    ),
    scrape: str | None = typer.Option(
        None, "--scrape",
        help="Scrape these Prometheus /metrics URLs (comma-separated) every second; the service's metrics go into the result.",
    ),
    scrape_select: list[str] = typer.Option(
        [], "--scrape-select", help="Keep scraped series whose name matches this regex (repeatable); default: every series that changed."
    ),
    scrape_max_series: int | None = typer.Option(None, "--scrape-max-series", help="Most scraped series kept in the result (default 200)."),
    metrics_port: int | None = typer.Option(None, "--metrics-port", help="Serve the run's live Prometheus metrics on 127.0.0.1:PORT/metrics."),
    pushgateway: str | None = typer.Option(None, "--pushgateway", help="Push the run's metrics to this Pushgateway (every 15 s and at the end)."),
    otel_endpoint: str | None = typer.Option(None, "--otel-endpoint", help="Send OpenTelemetry spans to this OTLP/HTTP endpoint (default: OTEL_* variables)."),
    trace_requests: float | None = typer.Option(
        None, "--trace-requests", help="Send a W3C traceparent on this fraction of requests (0 < RATE <= 1) and keep the slowest trace ids.",
    ),
    record: bool = record_option(),
    store: str | None = store_option(),
) -> None:
    """Run a load test and gate on its thresholds (exit 99 when one is crossed)."""
    # numpy only folds sample buffers here: no BLAS thread pool spinning next to the event loop
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    # At exit the interpreter's last collections walk every object left (numpy, pydantic, the
    # run's metrics: ~0.08 CPU-s, 1 % of a 10 s run); frozen objects are skipped, and nothing
    # is left to do by then: the results are written before the command returns.
    import atexit
    import gc

    atexit.unregister(gc.freeze)
    atexit.register(gc.freeze)
    from assay.errors import ExitCode
    from assay.load.api import LoadRequest, prepare
    from assay.load.coordinator import resolve_workers, run_load
    from assay.load.sample_output import parse_out, parse_size
    from assay.results import RunStatus, detect_labels

    # -e values are the run's environment: vu.env, and os.environ for setup/teardown and module code
    os.environ.update(_kv(env, "--env"))
    env_map = dict(os.environ)
    outputs = [parse_out(spec) for spec in out]
    result_files = [p for kind, p in outputs if kind == "assay"] + ([result_file] if result_file is not None else [])
    sample_outputs = [(kind, p) for kind, p in outputs if kind != "assay"]
    limit = parse_size(out_limit)
    from assay.load.options import parse_cli_threshold
    from assay.observe.watch import ResourceWatch, split_thresholds

    engine_thresholds, resource_thresholds = split_thresholds(parse_cli_threshold(t) for t in threshold)
    from assay.load.warmup import leak_warmup as leak_warmup_for

    warmup_s = _warmup_seconds(warmup)
    request = LoadRequest(
        target=target,
        vus=vus,
        rate=rate,
        duration=duration,
        iterations=iterations,
        max_vus=max_vus,
        profile=profile,
        method=method,
        headers=_headers(header),
        body=body,
        thresholds=[f"{m}:{e}" for m, e in engine_thresholds],
        no_thresholds=no_thresholds,
        env=_kv(env, "--env"),
        tags=_kv(tag, "--tag"),
        insecure=insecure,
        rps=rps,
        warmup=warmup,
        scrape=scrape,
        scrape_select=scrape_select,
        scrape_max_series=scrape_max_series,
        stages=stage,
        summary_trend_stats=summary_trend_stats,
        user_agent=user_agent,
        no_connection_reuse=no_connection_reuse,
    )
    if trace_requests is not None:
        from assay.observe.tracing import RequestSampler

        RequestSampler(trace_requests)  # a rate outside (0, 1] is exit 64 before any traffic
    loaded, plan = prepare(request, env=env_map)
    if trace_requests is not None:
        plan.client["trace_requests"] = trace_requests
    warmup_s = plan.engine.warmup or warmup_s
    watch = ResourceWatch(sample, [] if no_thresholds else resource_thresholds, warmup=leak_warmup_for(leak_warmup, warmup_s))
    chosen_backend = _backend(backend, ray_address, ray_placement, on_worker_loss, workers, loaded.spec)
    n_workers = resolve_workers(workers) if chosen_backend is None or workers not in ("auto", "0") else chosen_backend.default_workers()
    if iterations is not None and n_workers > 1:
        n_workers = min(n_workers, max(1, iterations))
    from assay.load.sample_output import check_writable

    for flag, path in (("--summary-export", summary_export), ("--result", result_file)):
        if path is not None:
            check_writable(path, flag)

    trend_store = open_for_record(record, store)  # before any traffic: a wrong URL is exit 64, not a lost run

    printer = ProgressPrinter(enabled=not quiet, tty=sys.stderr.isatty())
    from contextlib import nullcontext

    from assay.observe.tracing import TRACING

    live: Any = None
    publisher: Any = nullcontext()
    on_progress = printer.update
    if metrics_port is not None or pushgateway:
        from assay.observe.metrics import MetricsPublisher, RunMetrics

        live = RunMetrics(name or Path(target).stem or target, labels=detect_labels())
        publisher = MetricsPublisher(live, port=metrics_port, pushgateway=pushgateway)

        def on_progress(p: Any) -> None:
            printer.update(p)
            live.progress(p)

    TRACING.configure(otel_endpoint)
    with chosen_backend or nullcontext(), printer, watch, publisher, TRACING.span("load.run", target=target, workers=n_workers):
        result = run_load(
            loaded,
            plan,
            workers=n_workers,
            env=env_map,
            on_progress=on_progress,
            run_name=name,
            sample_outputs=sample_outputs,
            out_limit=limit,
            omission_warn_factor=omission_factor,
            backend=chosen_backend,
        )
    result.labels = detect_labels(result.labels)
    watch.finish(result)
    if live is not None:
        live.finish(result)
        publisher.push()
    TRACING.shutdown()
    from assay.load.api import result_source

    result.source = result_source(loaded)
    for path in result_files:
        result.save(path)
    record_result(trend_store, result)
    if summary_export is not None:
        import json

        from assay.atomic import write_text_atomic
        from assay.formats.k6_summary import to_summary_export

        write_text_atomic(summary_export, json.dumps(to_summary_export(result), indent=2) + "\n")
    from assay.load.js.summary import run_handle_summary

    handled = run_handle_summary(loaded, result)  # k6's handleSummary replaces the default summary
    if handled is not None and handled.error:
        typer.echo(handled.error, err=True)
    if handled is not None and not handled.error:
        if handled.stdout:
            typer.echo(handled.stdout, nl=False)
        if handled.stderr:
            typer.echo(handled.stderr, err=True, nl=False)
    elif not quiet:
        from assay.report.console import render_summary

        typer.echo(render_summary(summary_view(result)))
        from assay.observe.watch import describe_leaks

        for line in describe_leaks(result):
            typer.echo(f"leak check: {line}")
        from assay.observe.tracing import describe_traces

        for line in describe_traces(result.extra.get("traces")):
            typer.echo(line)
    _print_problems(result, quiet=quiet)
    # sys.exit, not typer.Exit: the CLI runs click with standalone_mode=False, which would
    # turn typer.Exit into a return value and lose the exit code.
    if result.extra.get("script_aborted"):  # exec.test.abort(): k6 exits 108, before its threshold code
        sys.exit(int(ExitCode.SCRIPT_ABORTED))
    if result.failed_thresholds():
        sys.exit(int(ExitCode.THRESHOLDS_CROSSED))
    if result.status in (RunStatus.ABORTED, RunStatus.WARNING):  # interrupted, or a worker was lost
        sys.exit(int(ExitCode.WARNING))
    if result.status is RunStatus.FAILED:  # nothing completed: a gate no run passes silently
        sys.exit(int(ExitCode.GATE_FAILED))


def _backend(name: str, address: str | None, placement: str, on_loss: str, workers: str, spec: dict[str, Any]) -> Any:
    """None for local worker processes; a connected RayBackend for `--backend ray` (exit 64 without Ray)."""
    from assay.errors import UsageError

    if name == "process":
        if address is not None:
            raise UsageError("--ray-address needs --backend ray")
        return None
    if name != "ray":
        raise UsageError(f"--backend: expected process or ray, got {name!r}")
    from assay.load.ray_backend import RayBackend, RayOptions, shipped_folder

    backend = RayBackend(RayOptions(address=address, placement=placement, on_worker_loss=on_loss, ship=shipped_folder(spec)))
    backend.connect(None if workers in ("auto", "0") else _int_workers(workers))
    return backend


def _int_workers(workers: str) -> int:
    from assay.load.coordinator import resolve_workers

    return resolve_workers(workers)


class ProgressPrinter(LiveProgress):
    """Live progress: a rich status line on a TTY, a plain line every few seconds otherwise."""

    def update(self, p: Any) -> None:
        if not self.enabled:
            return
        line = self.line(p)
        if self._live is not None:
            from rich.table import Table

            table = Table.grid(padding=(0, 2))
            table.add_row(line)
            for node, st in sorted(p.per_node.items()):
                table.add_row(f"  node {node}: {st['rps']:.0f} req/s, {st['workers']:.0f} workers, {st['requests']:.0f} requests")
            for scn, st in sorted(p.per_scenario.items()):
                p95 = f"{st['p95']:.2f}ms" if st.get("p95") else "-"
                table.add_row(
                    f"  {scn}: {st.get('requests', 0):.0f} req/s, {st.get('iterations', 0):.0f} it/s, "
                    f"p95 {p95}, failed {st.get('failed', 0):.0f}/s"
                )
            self._live.update(table)
        elif self.plain_due(p.elapsed):
            typer.echo(line, err=True)
            for node, st in sorted(p.per_node.items()):
                typer.echo(f"  node {node}: {st['rps']:.0f} req/s, {st['workers']:.0f} workers, {st['requests']:.0f} requests", err=True)

    @staticmethod
    def line(p: Any) -> str:
        total = f"/{p.total:.0f}s" if p.total else ""
        p95 = f"{p.p95:.2f}ms" if p.p95 is not None else "-"
        failing = f", thresholds failing: {len(p.failing_thresholds)}" if p.failing_thresholds else ""
        failing += f", workers lost: {p.lost_workers}" if getattr(p, "lost_workers", 0) else ""
        return (
            f"running {p.elapsed:.0f}s{total}, {p.vus} VUs, {p.rps:.0f} req/s, p95 {p95}, "
            f"{p.requests} requests ({p.failed} failed), {p.iterations} iterations, {p.errors} errors{failing}"
        )


def summary_view(result: Any) -> Any:
    """What the console summary shows, as k6 does: base metrics, and sub-metrics only when a threshold names them."""
    view = result.model_copy()
    view.metrics = {n: m for n, m in result.metrics.items() if "{" not in n or m.thresholds}
    return view


def _print_problems(result: Any, *, quiet: bool = False) -> None:
    err = typer.echo
    samples = result.extra.get("error_samples") or []
    errors = result.extra.get("errors") or {}
    if errors and quiet:  # otherwise the summary lists them, with where they were raised
        total = sum(errors.values())
        err(f"\n{total} iteration(s) raised an exception; first ones:", err=True)
        for s in samples[:5]:
            err(f"  {s}  (x{errors.get(s, 1)})", err=True)
    for note in result.notes:
        if note.startswith((
            "aborted", "interrupted", "worker error", "worker lost", "teardown", "more than", "per-sample output", "nothing completed",
            "warm-up", "the run ended within", "downtime", "scrape", "sampler", "resource threshold",
        )) or "interrupted:" in note:
            err(f"note: {note}", err=True)
    from assay.report.console import observed_text

    for metric, t in result.failed_thresholds():
        observed = "" if t.observed is None else f" (observed {observed_text(result, metric, t)})"
        err(f"threshold crossed: {metric}: {t.source}{observed}", err=True)


@app.command("inspect")
def inspect(
    script: Path = typer.Argument(..., help="A k6 JavaScript file."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON (assay.k6-inspect/1)."),
) -> None:
    """List what a k6 script uses of k6's API and whether assay runs it (exit 64 if something is not)."""
    import json

    from assay.errors import ExitCode, UsageError
    from assay.load.js.inspect import inspect_script

    if not script.is_file():
        raise UsageError(f"{str(script)!r} is not a file")
    report = inspect_script(script)
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2))
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"{script}: k6 API used")
        for col in ("API", "lines", "supported", "note"):
            table.add_column(col)
        for u in report.uses:
            table.add_row(u.api, ", ".join(u.lines[:4]) + (" ..." if len(u.lines) > 4 else ""), "yes" if u.supported else "NO", u.note)
        console = Console()
        console.print(table)
        for problem in report.problems:
            console.print(f"[red]refused:[/red] {problem}", highlight=False)
        if report.init_error:
            console.print(f"[red]init code:[/red] {report.init_error}", highlight=False)
        for name, what in report.scenarios.items():
            console.print(f"scenario {name}: {what}", highlight=False)
        if report.functions:
            console.print("functions: " + ", ".join(report.functions), highlight=False)
        console.print("verdict: " + ("runs on assay" if report.ok else "does not run on assay as it is"), highlight=False)
    if not report.ok:
        sys.exit(int(ExitCode.USAGE))
