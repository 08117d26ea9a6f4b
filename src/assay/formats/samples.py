"""Build a RunResult from raw k6 samples (NDJSON points, CSV rows).

Tags become sub-metrics (`http_req_duration{name:create}`), `checks` samples become
named checks, and every sample lands in a per-second bucket for charts.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from assay.results import (
    BUILTIN_METRICS,
    Check,
    Contains,
    Metric,
    MetricType,
    RunResult,
    RunStatus,
    SourceInfo,
    ThresholdResult,
    TimeBucket,
    parse_metric_name,
    submetric_name,
)
from assay.thresholds import evaluate_result

# Tags that make sub-metrics; `url` is left out because it is unbounded.
SUBMETRIC_TAGS = ("name", "method", "status", "scenario", "group", "expected_response", "error_code")
# k6's timing phases of one HTTP request, in the order they happen (http_req_duration is
# sending + waiting + receiving). The load engine's per-request columns start with them.
HTTP_TIMING_PHASES = (
    "http_req_blocked",
    "http_req_connecting",
    "http_req_tls_handshaking",
    "http_req_sending",
    "http_req_waiting",
    "http_req_receiving",
)
# Timing phases get no per-tag sub-metrics: they would multiply the file for little insight.
_NO_SUBMETRICS = {*HTTP_TIMING_PHASES, "checks"}
_BUCKET_PERCENTILES = ("p(50)", "p(95)", "p(99)")
_BUCKET_HDR = {"http_req_duration", "iteration_duration"}


class SampleAggregator:
    """Feed samples in any order; `result()` returns the aggregated RunResult."""

    def __init__(self, source: str, fmt: str) -> None:
        self.source = source
        self.fmt = fmt
        self.kinds: dict[str, tuple[MetricType, Contains]] = {}
        self.metrics: dict[str, Metric] = {}
        self.declared_thresholds: dict[str, list[str]] = {}
        self.checks: dict[tuple[str, str], Check] = {}
        self.buckets: dict[int, dict[str, Metric]] = {}
        self.first: float = math.inf
        self.last: float = -math.inf

    def declare(self, name: str, mtype: MetricType, contains: Contains, thresholds: list[str] | None = None) -> None:
        self.kinds[name] = (mtype, contains)
        if thresholds:
            self.declared_thresholds.setdefault(name, []).extend(thresholds)

    def kind_of(self, name: str) -> tuple[MetricType, Contains] | None:
        if name in self.kinds:
            return self.kinds[name]
        return BUILTIN_METRICS.get(name)

    def add(self, name: str, t: float, value: float, tags: dict[str, str], mtype: MetricType, contains: Contains) -> None:
        self.first = min(self.first, t)
        self.last = max(self.last, t)
        self._metric(name, mtype, contains, {}).add(value)
        if name not in _NO_SUBMETRICS:
            for key in SUBMETRIC_TAGS:
                tag_value = tags.get(key)
                if tag_value:
                    self._metric(submetric_name(name, {key: tag_value}), mtype, contains, {key: tag_value}).add(value)
        for extra in self._declared_submetrics(name):
            _, want = parse_metric_name(extra)
            if all(tags.get(k) == v for k, v in want.items()):
                self._metric(extra, mtype, contains, want).add(value)
        if name == "checks" and "check" in tags:
            group = tags.get("group", "")
            check = self.checks.get((group, tags["check"]))
            if check is None:
                check = self.checks[(group, tags["check"])] = Check(name=tags["check"], path=f"{group}::{tags['check']}")
            if value:
                check.passes += 1
            else:
                check.fails += 1
        bucket = self.buckets.setdefault(int(t), {})
        if name not in bucket:
            bucket[name] = Metric(type=mtype, contains=contains)
        bucket[name].add(value)

    def _declared_submetrics(self, base: str) -> list[str]:
        return [n for n in self.declared_thresholds if "{" in n and parse_metric_name(n)[0] == base and n not in self.metrics]

    def _metric(self, name: str, mtype: MetricType, contains: Contains, tags: dict[str, str]) -> Metric:
        m = self.metrics.get(name)
        if m is None:
            m = self.metrics[name] = Metric(type=mtype, contains=contains, tags=tags)
        return m

    def result(self) -> RunResult:
        result = RunResult(name=self.source, tool="k6", source=SourceInfo(format=self.fmt, path=self.source))
        if self.first is not math.inf:
            result.started_at = datetime.fromtimestamp(self.first, UTC)
            result.finished_at = datetime.fromtimestamp(self.last, UTC)
            result.duration_s = max(self.last - self.first, 0.0)
        for name in sorted(self.metrics):
            result.metrics[name] = self.metrics[name].seal()
        for name, sources in self.declared_thresholds.items():
            if name not in result.metrics:
                base, tags = parse_metric_name(name)
                kind = self.kind_of(base)
                if kind is None:
                    continue
                result.metrics[name] = Metric(type=kind[0], contains=kind[1], tags=tags)
            result.metrics[name].thresholds = [ThresholdResult(source=s) for s in dict.fromkeys(sources)]
        result.checks = list(self.checks.values())
        result.timeseries = [self._bucket(t, metrics) for t, metrics in sorted(self.buckets.items())]
        evaluate_result(result)
        result.status = RunStatus.FAILED if result.failed_thresholds() else RunStatus.PASSED
        return result

    def _bucket(self, t: int, metrics: dict[str, Metric]) -> TimeBucket:
        bucket = TimeBucket(t=float(t))
        for name, m in metrics.items():
            if m.type is MetricType.COUNTER:
                bucket.metrics[name] = {"count": m.sum}
            elif m.type is MetricType.RATE:
                bucket.metrics[name] = {"passes": m.passes, "fails": m.fails, "rate": m.stat("rate") or 0.0}
            elif m.type is MetricType.GAUGE:
                bucket.metrics[name] = {"value": m.value or 0.0, "min": m.min or 0.0, "max": m.max or 0.0}
            else:
                stats = {"count": float(m.count), "sum": m.sum, "avg": m.sum / m.count if m.count else 0.0}
                stats["min"] = m.min or 0.0
                stats["max"] = m.max or 0.0
                for key in _BUCKET_PERCENTILES:
                    stats[key] = m.stat(key) or 0.0
                bucket.metrics[name] = stats
                if name in _BUCKET_HDR:
                    bucket.hdr[name] = m.histogram().encode()
        return bucket
