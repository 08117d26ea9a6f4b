"""Rules that turn failure patterns in a run into concrete hints, each with its evidence.

A rule speaks only when the gate gives it a reason: an objective on the metrics it explains
did not pass, or one of the run's own thresholds on them was crossed. Its evidence is only
what supports the hint (no endpoint with 0 failures), so a passing run gets no advice.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from assay.results import MetricType, RunResult, parse_metric_name
from assay.slo.criteria import format_value
from assay.slo.report import ObjectiveResult, Recommendation, SloReport

LATENCY_METRICS = ("http_req_duration", "iteration_duration", "grpc_req_duration", "ws_session_duration")
ERROR_METRICS = ("http_req_failed", "checks")
THROUGHPUT_METRICS = ("http_reqs", "iterations", "dropped_iterations")
TAIL_RATIO = 5.0  # p99 at least this many times p50
TAIL_RATIO_P95 = 3.0  # when only p95 is known
CONCENTRATION = 0.8  # share of failures on one endpoint
RISE_RATIO = 1.5  # last third of the run vs the first third
MIN_BUCKETS = 10

STATUS_HINTS: dict[str, str] = {
    "503": "503 Service Unavailable points to a dependency that is down, a circuit breaker that opened, "
    "or load shedding; check the service's upstreams and breaker state during the run",
    "429": "429 Too Many Requests means a rate limit was hit; raise the limit for the test client, "
    "spread load over more client identities, or lower the arrival rate to the real target",
    "502": "502 Bad Gateway: a proxy or load balancer got no valid answer from the upstream; check upstream crashes and restarts",
    "504": "504 Gateway Timeout: the upstream answered too slowly for the proxy; compare proxy and service timeouts",
    "500": "500 Internal Server Error: the application threw; read the service logs for the failing endpoint",
    "0": "status 0 means no HTTP response: connection refused, reset or a client timeout; check connection "
    "pools, file-descriptor limits and the client's timeout",
}


_METRIC_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\{[^}]*\})?")


def _metrics_of(o: ObjectiveResult) -> list[str]:
    """The result metrics an objective reads (both sides of a ratio)."""
    if o.metric is not None:
        return [o.metric]
    return [m.group(0) for m in _METRIC_NAME.finditer(o.sli)]


def _measures(names: list[str], bases: tuple[str, ...]) -> bool:
    """True when one of `names` is one of `bases`; a ratio over `status`-tagged requests counts as errors."""
    for name in names:
        base, tags = parse_metric_name(name)
        if base in bases or ("http_req_failed" in bases and base == "http_reqs" and "status" in tags):
            return True
    return False


def _not_passing(o: ObjectiveResult) -> bool:
    return o.status in ("WARNING", "FAIL")


@dataclass
class Reason:
    """Why a rule may speak: objectives on its metrics that did not pass, thresholds on them that were crossed."""

    objectives: list[str]
    thresholds: list[str]
    metrics: set[str]  # base names of those objectives and thresholds, to pick the evidence that supports them

    def __bool__(self) -> bool:
        return bool(self.objectives or self.thresholds)


def reason(report: SloReport, result: RunResult, bases: tuple[str, ...]) -> Reason:
    objectives = [o for o in report.objectives if _not_passing(o) and _measures(_metrics_of(o), bases)]
    crossed = [name for name, _ in result.failed_thresholds() if _measures([name], bases)]
    metrics = {parse_metric_name(n)[0] for o in objectives for n in _metrics_of(o)} | {parse_metric_name(n)[0] for n in crossed}
    return Reason([o.id for o in objectives], crossed, metrics & set(bases) or set(bases))


def tail_latency(report: SloReport, result: RunResult) -> list[Recommendation]:
    why = reason(report, result, LATENCY_METRICS)
    if not why:
        return []
    evidence: list[str] = []
    for name in sorted(result.metrics):
        base, _ = parse_metric_name(name)
        metric = result.metrics[name]
        if base not in why.metrics or metric.type is not MetricType.TREND:
            continue
        med = metric.stat("med")
        if not med or med <= 0:
            continue
        p99 = metric.stat("p(99)")
        if p99 is not None and p99 / med >= TAIL_RATIO:
            evidence.append(f"{name}: p(99) {format_value(p99)} ms is {p99 / med:.1f}x the median {format_value(med)} ms")
            continue
        p95 = metric.stat("p(95)")
        if p99 is None and p95 is not None and p95 / med >= TAIL_RATIO_P95:
            evidence.append(f"{name}: p(95) {format_value(p95)} ms is {p95 / med:.1f}x the median {format_value(med)} ms")
    if not evidence:
        return []
    return [
        Recommendation(
            rule="tail-latency",
            title="Tail latency far above the median",
            hint="A minority of requests is much slower than the typical one: look for lock contention, GC pauses, "
            "cold caches, retries or one slow dependency on the slow path, and compare traces of slow and fast requests.",
            evidence=evidence[:6],
            objectives=why.objectives,
        )
    ]


def _requests_by(result: RunResult, tag: str) -> dict[str, tuple[int, int]]:
    """(failed, all) requests per tag value, from http_req_failed{tag:v} (its passes count failures)."""
    out: dict[str, tuple[int, int]] = {}
    for name, metric in result.metrics.items():
        base, tags = parse_metric_name(name)
        if base == "http_req_failed" and set(tags) == {tag} and metric.type is MetricType.RATE:
            out[tags[tag]] = (metric.passes, metric.passes + metric.fails)
    return out


def _requests_by_status(result: RunResult) -> dict[str, int]:
    out: dict[str, int] = {}
    for name, metric in result.metrics.items():
        base, tags = parse_metric_name(name)
        if set(tags) != {"status"}:
            continue
        if base == "http_reqs" and metric.type is MetricType.COUNTER:
            out[tags["status"]] = int(metric.sum)
        elif base == "http_req_failed" and metric.type is MetricType.RATE and tags["status"] not in out:
            out[tags["status"]] = metric.passes + metric.fails
    return out


def concentrated_errors(report: SloReport, result: RunResult) -> list[Recommendation]:
    why = reason(report, result, ERROR_METRICS)
    if not why:
        return []
    recs: list[Recommendation] = []
    failing = why.objectives
    requests = _requests_by(result, "name")
    by_endpoint = {name: failed for name, (failed, _) in requests.items() if failed > 0}
    total = sum(by_endpoint.values())
    if total > 0 and len(requests) >= 2:
        top, count = max(by_endpoint.items(), key=lambda kv: kv[1])
        if count / total >= CONCENTRATION:
            recs.append(
                Recommendation(
                    rule="errors-one-endpoint",
                    title=f"Errors concentrated on {top}",
                    hint=f"{count / total:.0%} of failed requests hit {top}: debug that endpoint and its dependencies "
                    "first rather than the service as a whole.",
                    evidence=[
                        f"{name}: {n} of {requests[name][1]} request(s) failed"
                        for name, n in sorted(by_endpoint.items(), key=lambda kv: -kv[1])[:5]
                    ],
                    objectives=failing,
                )
            )
    statuses = _requests_by_status(result)
    errors = {s: n for s, n in statuses.items() if n > 0 and (s == "0" or (s.isdigit() and int(s) >= 400))}
    error_total = sum(errors.values())
    all_total = sum(statuses.values())
    for status, n in sorted(errors.items(), key=lambda kv: -kv[1]):
        hint = STATUS_HINTS.get(status)
        if hint is None:
            continue
        share = n / error_total
        evidence = [f"{n} response(s) with status {status}: {share:.0%} of error responses, {n / all_total:.2%} of all requests"]
        endpoint_failures = {
            parse_metric_name(name)[1].get("name", ""): m.passes
            for name, m in result.metrics.items()
            if parse_metric_name(name)[0] == "http_req_failed" and parse_metric_name(name)[1].get("status") == status
        }
        evidence += [f"on {ep}: {k}" for ep, k in endpoint_failures.items() if ep and k]
        recs.append(
            Recommendation(
                rule=f"status-{status}",
                title=f"HTTP {status} responses" if status != "0" else "Requests with no response (status 0)",
                hint=hint,
                evidence=evidence,
                objectives=failing,
            )
        )
    return recs


def dropped_iterations(report: SloReport, result: RunResult) -> list[Recommendation]:
    metric = result.metric("dropped_iterations")
    dropped = metric.stat("count") if metric is not None else None
    if not dropped:
        return []
    evidence = [f"dropped_iterations: {format_value(dropped)} iteration(s) were planned but never started"]
    vus_max = result.stat("vus_max", "value") or result.stat("vus", "max")
    if vus_max is not None:
        evidence.append(f"peak VUs: {format_value(vus_max)}")
    why = reason(report, result, THROUGHPUT_METRICS)
    if not why:
        return []  # no throughput target missed: the drops did not matter to this gate
    throughput = [o for o in report.objectives if o.id in why.objectives and o.metric != "dropped_iterations"]
    for o in throughput:
        evidence.append(f"{o.title}: {o.show(o.value)} against {o.target}")
    rate = result.stat("http_reqs", "rate")
    if rate is not None:
        evidence.append(f"achieved http_reqs rate: {format_value(rate)}/s")
    return [
        Recommendation(
            rule="dropped-iterations",
            title="The load generator could not keep the planned rate",
            hint="Iterations were dropped because no VU was free when they were due: raise preAllocatedVUs/maxVUs, "
            "check the generator's CPU, and check connection-pool limits in the client and the service; "
            "throughput below target is then a generator limit, not necessarily the service's.",
            evidence=evidence,
            objectives=why.objectives,
        )
    ]


def latency_rising(report: SloReport, result: RunResult) -> list[Recommendation]:
    why = reason(report, result, LATENCY_METRICS)
    if not why:
        return []
    buckets = [b for b in result.timeseries if "http_req_duration" in b.metrics]
    if len(buckets) < MIN_BUCKETS:
        return []
    key = "p(95)" if all("p(95)" in b.metrics["http_req_duration"] for b in buckets) else "avg"
    if not all(key in b.metrics["http_req_duration"] for b in buckets):
        return []
    times = [b.t for b in buckets]
    values = [b.metrics["http_req_duration"][key] for b in buckets]
    third = len(values) // 3
    first = sum(values[:third]) / third
    last = sum(values[-third:]) / third
    if first <= 0 or last / first < RISE_RATIO:
        return []
    from scipy.stats import linregress

    fit = linregress(times, values)
    if fit.slope <= 0 or fit.pvalue >= 0.01:
        return []
    return [
        Recommendation(
            rule="latency-rising",
            title="Latency rose steadily during the run",
            hint="Latency grew with time rather than with load: the service saturates (queues growing, pools exhausted) "
            "or leaks (memory, connections, file handles, growing caches). Watch its resources over a longer soak.",
            evidence=[
                f"http_req_duration {key} per second: {format_value(first)} ms in the first third, "
                f"{format_value(last)} ms in the last third ({last / first:.1f}x)",
                f"linear trend +{format_value(fit.slope * 60)} ms per minute (r\u00b2 {fit.rvalue**2:.2f}, p {fit.pvalue:.1g})",
            ],
            objectives=why.objectives,
        )
    ]


def check_failures(report: SloReport, result: RunResult) -> list[Recommendation]:
    why = reason(report, result, ERROR_METRICS)
    failed = sorted((c for c in result.checks if c.fails), key=lambda c: -c.fails)
    if not why or not failed:
        return []
    evidence = []
    for c in failed[:8]:
        where = f" in {c.group_path}" if c.group_path else ""
        total = c.passes + c.fails
        evidence.append(f"check {c.name!r}{where} failed {c.fails} of {total} ({c.fails / total:.2%})")
    return [
        Recommendation(
            rule="check-failures",
            title=f"{len(failed)} check(s) failed",
            hint="Checks assert on responses: open the failing ones by name, reproduce one request and read its "
            "body and status; a check failing only under load points to timeouts or partial responses.",
            evidence=evidence,
            objectives=why.objectives,
        )
    ]


def k6_thresholds(report: SloReport, result: RunResult) -> list[Recommendation]:
    crossed = result.failed_thresholds()
    if not crossed:
        return []
    return [
        Recommendation(
            rule="thresholds-crossed",
            title="The run's own thresholds were crossed",
            hint="The load test's thresholds failed as well; k6 would have exited 99 for this run.",
            evidence=[
                f"{name}: {t.source}" + (f" (observed {format_value(t.observed)})" if t.observed is not None else "")
                for name, t in crossed[:8]
            ],
        )
    ]


RULES: list[Callable[[SloReport, RunResult], list[Recommendation]]] = [
    tail_latency,
    concentrated_errors,
    dropped_iterations,
    latency_rising,
    check_failures,
    k6_thresholds,
]


def recommend(report: SloReport, result: RunResult) -> list[Recommendation]:
    """Every rule's hints for this run, in rule order."""
    out: list[Recommendation] = []
    for rule in RULES:
        out.extend(rule(report, result))
    return out
