"""`assay messaging`: load-test a broker directly and prove delivery with the ledger.

    assay messaging run --broker redis://127.0.0.1:6379 --stream orders --rate 500 --duration 30s --consumers 4
    assay messaging run --broker amqp://guest:guest@127.0.0.1:5672/ --queue orders --count 10000 --result out.json
    assay messaging run --broker nats://127.0.0.1:4222 --subject orders --rate 1000 -o json
    assay messaging run --broker mqtt://127.0.0.1:1883 --topic sensors --qos 2 --consumers 3

Exit codes as `assay load`: 0 passed, 99 a threshold was crossed (default: `messages_lost:
count==0`), 64 bad input or an unreachable broker (before any traffic), 1 interrupted (the
verdict of what was sent is still written).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from assay.cli.observing import ObservedRun, metrics_port_option, otel_option, pushgateway_option
from assay.cli.progress import LiveProgress
from assay.cli.recording import open_for_record, record_option, record_result, store_option

app = typer.Typer(name="messaging", help="Broker workloads judged by the delivery ledger (lost, duplicated, out of order).", no_args_is_help=True)

DEFAULT_THRESHOLDS = ["messages_lost:count==0"]


@app.command("run")
def run(
    broker: str = typer.Option(..., "--broker", "-b", help="redis://, amqp://, nats://, mqtt:// or ws:// URL."),
    name: str = typer.Option(
        "assay-messaging", "--stream", "--queue", "--subject", "--topic", "--name",
        help="The stream (Redis), queue (RabbitMQ), subject prefix (NATS), topic prefix (MQTT).",
    ),
    rate: float = typer.Option(100.0, "--rate", "-r", help="Messages per second, over all keys."),
    duration: str = typer.Option("10s", "--duration", "-d", help="How long to publish, e.g. 30s, 5m."),
    count: int | None = typer.Option(None, "--count", "-n", help="Publish exactly this many messages instead (at --rate)."),
    consumers: int = typer.Option(1, "--consumers", "-c", help="Consumers (one group, or each its own with --fanout)."),
    keys: int = typer.Option(8, "--keys", help="Ordering keys, one sequential publisher each (raise it when publishing falls behind)."),
    size: int = typer.Option(256, "--size", help="Body bytes per message (besides the ledger's token)."),
    grace: str = typer.Option("5s", "--grace", help="After publishing, wait this long for messages in flight."),
    group: str = typer.Option("assay", "--group", help="Consumer group / durable consumer / shared subscription name."),
    qos: int = typer.Option(1, "--qos", help="MQTT QoS: 0, 1 or 2."),
    fanout: bool = typer.Option(False, "--fanout", help="Every consumer gets every message (MQTT; always so for ws://)."),
    reclaim_idle: str = typer.Option("5s", "--reclaim-idle", help="Redis: claim a dead consumer's pending entries idle this long (0: never). NATS: ack wait."),
    process_time: str = typer.Option("0s", "--process-time", help="Time a consumer spends on each message before acknowledging it."),
    keep: bool = typer.Option(False, "--keep", help="Keep the stream / queue / JetStream stream afterwards (default: delete it)."),
    threshold: list[str] = typer.Option([], "--threshold", help="METRIC:EXPR, e.g. 'message_delivery_latency:p(99)<50' (repeatable; adds to the default messages_lost:count==0)."),
    no_thresholds: bool = typer.Option(False, "--no-thresholds", help="Do not evaluate thresholds."),
    result_file: Path | None = typer.Option(None, "--result", help="Write the RunResult JSON (assay.run/1) here."),
    summary_export: Path | None = typer.Option(None, "--summary-export", help="Write k6's summary-export JSON here."),
    html: Path | None = typer.Option(None, "--html", help="Write a self-contained HTML report here."),
    junit: Path | None = typer.Option(None, "--junit", help="Write JUnit XML here: a test case per delivery property and threshold."),
    out: str = typer.Option("table", "--output", "-o", help="table (a summary for people) or json (the RunResult on stdout)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress and no summary."),
    record: bool = record_option(),
    store: str | None = store_option(),
    metrics_port: int | None = metrics_port_option(),
    pushgateway: str | None = pushgateway_option(),
    otel_endpoint: str | None = otel_option(),
) -> None:
    """Publish at a rate, consume with N consumers, report latency, throughput and the ledger's verdict."""
    from assay.errors import ExitCode, UsageError
    from assay.load.durations import parse_duration
    from assay.messaging.brokers import BrokerError, BrokerOptions, open_transport
    from assay.messaging.workload import Workload, WorkloadSpec
    from assay.results import RunStatus, detect_labels

    if out not in ("table", "json"):
        raise UsageError(f"--output {out!r}: expected table or json")
    try:
        spec = WorkloadSpec(
            rate=rate,
            duration=parse_duration(duration, what="--duration"),
            count=count,
            consumers=consumers,
            keys=keys,
            size=size,
            grace=parse_duration(grace, what="--grace"),
        )
        spec.check()
        options = BrokerOptions(
            name=name,
            group=group,
            qos=qos,
            fanout=fanout,
            reclaim_idle=parse_duration(reclaim_idle, what="--reclaim-idle"),
            ack_delay=parse_duration(process_time, what="--process-time"),
            remove=not keep,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    specs = [] if no_thresholds else _thresholds([*DEFAULT_THRESHOLDS, *threshold])
    from assay.load.sample_output import check_writable

    for flag, path in (("--summary-export", summary_export), ("--result", result_file), ("--html", html), ("--junit", junit)):
        if path is not None:
            check_writable(path, flag)
    trend_store = open_for_record(record, store)  # before any traffic: a wrong URL is exit 64, not a lost run
    try:
        transport = open_transport(broker, options)
    except BrokerError as exc:
        raise UsageError(str(exc)) from None
    printer = _Progress(enabled=not quiet, tty=sys.stderr.isatty(), total=spec.duration if count is None else count / rate)
    workload = Workload(transport, spec, on_progress=printer.update)
    observation = ObservedRun(name or "messaging", "messaging", metrics_port=metrics_port, pushgateway=pushgateway, otel_endpoint=otel_endpoint)
    with observation, printer:
        try:
            result = _drive(workload)
        except BrokerError as exc:
            raise UsageError(f"{exc} (nothing was judged)") from None
        result.labels = detect_labels(result.labels)
        _attach(result, specs)
        from assay.thresholds import evaluate_result

        failed = evaluate_result(result)
        if failed and result.status is RunStatus.PASSED:
            result.status = RunStatus.FAILED
        observation.finish(result)
    for path in [result_file] if result_file is not None else []:
        result.save(path)
    record_result(trend_store, result)
    if summary_export is not None:
        import json

        from assay.atomic import write_text_atomic
        from assay.formats.k6_summary import to_summary_export

        write_text_atomic(summary_export, json.dumps(to_summary_export(result), indent=2) + "\n")
    from assay.atomic import write_text_atomic

    if html is not None:
        from assay.messaging.html import render as render_html

        write_text_atomic(html, render_html(result))
    if junit is not None:
        from assay.messaging.junit import to_junit

        write_text_atomic(junit, to_junit(result))
    if out == "json":
        typer.echo(result.to_json())
    elif not quiet:
        typer.echo(render(result))
    from assay.report.console import observed_text

    for metric, t in result.failed_thresholds():
        observed = "" if t.observed is None else f" (observed {observed_text(result, metric, t)})"
        typer.echo(f"threshold crossed: {metric}: {t.source}{observed}", err=True)
    if result.failed_thresholds():
        sys.exit(int(ExitCode.THRESHOLDS_CROSSED))
    if result.status is RunStatus.ABORTED:
        sys.exit(int(ExitCode.WARNING))


def _drive(workload: Any) -> Any:
    """Run the workload; Ctrl-C / SIGTERM stop publishing and still judge what was sent."""
    import asyncio
    import signal

    async def main() -> Any:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, workload.stop)
            except (NotImplementedError, RuntimeError):  # not the main thread
                pass
        return await workload.run()

    return asyncio.run(main())


def _thresholds(texts: list[str]) -> list[Any]:
    from assay.load.options import parse_cli_threshold, parse_thresholds
    from assay.messaging.verdict import LEDGER_METRICS
    from assay.messaging.workload import PUBLISH_LATENCY
    from assay.results import Contains, MetricType

    types = {**LEDGER_METRICS, PUBLISH_LATENCY: (MetricType.TREND, Contains.TIME), "message_receipts": (MetricType.COUNTER, Contains.DEFAULT)}
    raw: dict[str, list[str]] = {}
    for text in texts:
        metric, expr = parse_cli_threshold(text)
        raw.setdefault(metric, []).append(expr)
    return parse_thresholds(raw, types, "--threshold")


def _attach(result: Any, specs: list[Any]) -> None:
    from assay.results import Metric, ThresholdResult, parse_metric_name

    for spec in specs:
        metric = result.metrics.get(spec.metric)
        if metric is None:
            base, tags = parse_metric_name(spec.metric)
            if base not in result.metrics:
                continue
            metric = result.metrics[spec.metric] = Metric(type=result.metrics[base].type, contains=result.metrics[base].contains, tags=tags)
        metric.thresholds.append(ThresholdResult(source=spec.source))


def render(result: Any) -> str:
    """The run for people: the ledger's verdict, latencies, throughput, then k6's summary lines."""
    from assay.histo import values_at
    from assay.report.console import render_summary

    v = result.extra.get("ledger", {})
    m = result.extra.get("messaging", {})
    lines = [f"{result.name}: {m.get('consumers')} consumer(s), {m.get('keys')} keys, {m.get('size')} B bodies", ""]
    lines.append(
        f"  sent {v.get('messages_sent', 0)}  acked {v.get('messages_acked', 0)}  delivered {v.get('messages_delivered', 0)}  "
        f"lost {v.get('messages_lost', 0)}  duplicated {v.get('messages_duplicated', 0)}  out of order {v.get('messages_out_of_order', 0)}  "
        f"misdelivered {v.get('messages_misdelivered', 0)}  failed {v.get('messages_failed', 0)}"
    )
    lines.append(f"  publish rate {m.get('rate_achieved')}/s (target {m.get('rate_target'):g}/s), delivered {m.get('throughput_delivered')}/s")
    for label, metric_name in (("end-to-end", "message_delivery_latency"), ("publish", "message_publish_latency")):
        metric = result.metrics.get(metric_name)
        if metric is not None and metric.count:
            p50, p95, p99 = values_at(metric.histogram(), [50.0, 95.0, 99.0])
            lines.append(f"  {label} latency p50 {p50:.2f} ms  p95 {p95:.2f} ms  p99 {p99:.2f} ms  max {metric.max:.2f} ms")
    if v.get("lost_ids"):
        lines.append(f"  lost ids (first {len(v['lost_ids'])}): {', '.join(v['lost_ids'][:10])}{' ...' if len(v['lost_ids']) > 10 else ''}")
    rate_target, achieved = m.get("rate_target") or 0, m.get("rate_achieved") or 0
    if rate_target and achieved < 0.95 * rate_target and result.status.value != "aborted":
        lines.append(f"  note: publishing fell behind ({achieved}/s of {rate_target:g}/s): each key waits for the broker's ack; raise --keys")
    for note in result.notes:
        lines.append(f"  note: {note}")
    lines.append("")
    view = result.model_copy()
    view.metrics = {n: x for n, x in result.metrics.items() if "{" not in n or x.thresholds}
    lines.append(render_summary(view))
    return "\n".join(lines)


class _Progress(LiveProgress):
    """A live line on a TTY, a plain line every 5 s otherwise (CI logs)."""

    def __init__(self, *, enabled: bool, tty: bool, total: float) -> None:
        super().__init__(enabled=enabled, tty=tty)
        self.total = total

    def update(self, p: Any) -> None:
        if not self.enabled:
            return
        p99 = f"{p.p99_ms:.1f}ms" if p.p99_ms is not None else "-"
        line = (
            f"{p.phase} {p.elapsed:.0f}s/{self.total:.0f}s: sent {p.sent}, acked {p.acked}, received {p.receipts}, "
            f"in flight {p.in_flight}, lost {p.lost}, e2e p99 {p99}, publish errors {p.publish_errors}"
        )
        if self._live is not None:
            self._live.update(line)
        elif self.plain_due(p.elapsed):
            typer.echo(line, err=True)
