"""A MetricsSink's series as k6 reports them: metrics, and sub-metrics per tag value.

The RunResult's view of a run (and each live threshold snapshot): every series becomes a
partial Metric; parts add up into the base metric, into one sub-metric per value of the
tags k6 indexes (`http_req_duration{status:200}`), and into any tag filter a threshold
names. Trends add exactly (their histograms add).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from assay.histo import hist_add
from assay.load.sink_series import CORRECTED, DURATION_COL, HTTP_TRENDS, NCOLS
from assay.results import (
    BUILTIN_METRICS,
    Contains,
    Histogram,
    Metric,
    MetricType,
    parse_metric_name,
    submetric_name,
)

if TYPE_CHECKING:
    from assay.load.sink import MetricsSink

__all__ = ["sink_metrics", "SUBMETRIC_TAGS", "SUBMETRIC_METRICS", "SYSTEM_TAGS"]

# Tags that make one sub-metric per value in the result (k6's indexable system tags we emit).
SUBMETRIC_TAGS = ("name", "method", "status", "scenario", "group", "expected_response", "error_code")
# Metrics that get per-tag sub-metrics in the result even without a threshold naming them.
SUBMETRIC_METRICS = ("http_req_duration", "http_reqs", "http_req_failed", CORRECTED, "iterations", "iteration_duration", "checks", "group_duration")
SYSTEM_TAGS = {"name", "method", "status", "scenario", "group", "expected_response", "error_code", "url", "check"}


def sink_metrics(sink: MetricsSink, extra_filters: Iterable[str] = (), *, only: set[str] | None = None) -> dict[str, Metric]:
    """k6 metrics and sub-metrics from everything `sink` folded so far (call its `tick()` first).

    `only` limits the work to those metric names (live threshold snapshots).
    """
    extra_filters = list(extra_filters)
    only_bases = None if only is None else {n.split("{", 1)[0] for n in only}
    metrics: dict[str, Metric] = {}
    # parts: (metric name, tags, partial Metric without histogram, its histogram)
    parts: list[tuple[str, dict[str, str], Metric, Histogram | None]] = []
    filter_parts: list[tuple[str, dict[str, str], Metric, Histogram | None]] = []
    seen_series: set[int] = set()
    for col in range(DURATION_COL):
        acc = sink.http_global[col]
        if acc.count and (only is None or HTTP_TRENDS[col] in only):
            base_metric = Metric(type=MetricType.TREND, contains=Contains.TIME)
            folded = acc.merge_into(base_metric)
            if folded is not None:
                hist_add(base_metric.histogram(), folded)
            metrics[HTTP_TRENDS[col]] = base_metric
    for hs in sink.http_series.values():
        if id(hs) in seen_series:
            continue
        seen_series.add(id(hs))
        if hs.requests == 0 and not hs.buf:
            continue
        n = hs.requests
        tags = hs.tags
        reqs = Metric(type=MetricType.COUNTER, count=n, sum=float(n))
        parts.append(("http_reqs", tags, reqs, None))
        failed = Metric(type=MetricType.RATE, count=n, passes=n if hs.failed else 0, fails=0 if hs.failed else n)
        parts.append(("http_req_failed", tags, failed, None))
        for col in range(DURATION_COL, NCOLS):
            acc = hs.accs[col]
            if acc.count == 0:
                continue
            m = Metric(type=MetricType.TREND, contains=Contains.TIME)
            parts.append((HTTP_TRENDS[col], tags, m, acc.merge_into(m)))
        for col in range(DURATION_COL):
            acc = hs.accs[col]
            if acc.count:
                # only for tag-filtered thresholds; the base metric comes from http_global
                m = Metric(type=MetricType.TREND, contains=Contains.TIME)
                filter_parts.append((HTTP_TRENDS[col], tags, m, acc.merge_into(m)))
        if hs.sent:
            parts.append(("data_sent", tags, Metric(type=MetricType.COUNTER, contains=Contains.DATA, count=n, sum=float(hs.sent)), None))
        if hs.received:
            parts.append(("data_received", tags, Metric(type=MetricType.COUNTER, contains=Contains.DATA, count=n, sum=float(hs.received)), None))
    for s in sink.series.values():
        mtype, contains = sink.types.get(s.metric, (s.type, Contains.DEFAULT))
        m = Metric(type=mtype, contains=contains)
        hist: Histogram | None = None
        if mtype is MetricType.TREND:
            if s.acc is None or s.acc.count == 0:
                continue
            hist = s.acc.merge_into(m)
        elif mtype is MetricType.COUNTER:
            m.count, m.sum = s.count, s.sum
        elif mtype is MetricType.RATE:
            m.passes, m.fails, m.count = s.passes, s.fails, s.passes + s.fails
        else:
            m.count, m.value, m.min, m.max = s.count, s.value, s.min, s.max
        parts.append((s.metric, s.tags, m, hist))

    if only_bases is not None:
        parts = [p for p in parts if p[0] in only_bases]

    def _add(name: str, tags: dict[str, str], part: Metric, hist: Histogram | None) -> None:
        if only is not None and name not in only:
            return
        target = metrics.get(name)
        if target is None:
            target = Metric(type=part.type, contains=part.contains, tags=dict(tags))
            metrics[name] = target
        _accumulate(target, part)
        if hist is not None and hist.count:
            hist_add(target.histogram(), hist)

    for base, tags, part, hist in parts:
        _add(base, {}, part, hist)
        if base in SUBMETRIC_METRICS or not _is_builtin(base):
            for key, value in tags.items():
                if key in SUBMETRIC_TAGS or key not in SYSTEM_TAGS:
                    if key == "group" and not value:
                        continue
                    if key == "status" and base == CORRECTED:
                        continue
                    _add(submetric_name(base, {key: value}), {key: value}, part, hist)
    for flt in extra_filters:
        base, want = parse_metric_name(flt)
        if flt in metrics or not want:
            continue
        for b, tags, part, hist in parts + filter_parts:
            if b == base and all(tags.get(k) == v for k, v in want.items()):
                _add(flt, dict(want), part, hist)
        if flt not in metrics and base in sink.types:
            mtype, contains = sink.types[base]
            metrics[flt] = Metric(type=mtype, contains=contains, tags=dict(want))
    return metrics


def _is_builtin(name: str) -> bool:
    return name in BUILTIN_METRICS


def _accumulate(target: Metric, part: Metric) -> None:
    target.count += part.count
    target.sum += part.sum
    target.passes += part.passes
    target.fails += part.fails
    if target.type is MetricType.GAUGE:
        target.value = part.value if target.value is None else target.value + (part.value or 0.0)
        target.min = part.min if target.min is None else (target.min if part.min is None else min(target.min, part.min))
        target.max = part.max if target.max is None else (target.max if part.max is None else max(target.max, part.max))
        return
    if part.min is not None:
        target.min = part.min if target.min is None else min(target.min, part.min)
    if part.max is not None:
        target.max = part.max if target.max is None else max(target.max, part.max)
