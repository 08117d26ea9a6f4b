"""What a MetricsSink accumulates per tag set: HTTP series (8 timings a request in a flat
buffer), other metrics' series, and the exact trend accumulators they fold into each second.

Kept apart from the sink so the hot path's data layout reads in one place: a request is
one row of `HTTP_TRENDS` columns, appended to `HttpSeries.buf`, never a Python object.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field

import numpy as np

from assay.formats.samples import HTTP_TIMING_PHASES
from assay.histo import record_many
from assay.results import Histogram, Metric, MetricType

__all__ = ["HTTP_TRENDS", "NCOLS", "DURATION_COL", "CORRECTED_COL", "CORRECTED", "TrendAcc", "HttpSeries", "Series", "TickStats"]

CORRECTED = "http_req_corrected_duration"
HTTP_TRENDS = (*HTTP_TIMING_PHASES, "http_req_duration", CORRECTED)  # the phases from formats.samples, one place
NCOLS = len(HTTP_TRENDS)
DURATION_COL = 6
CORRECTED_COL = 7

_EMPTY = Histogram()


class TrendAcc:
    """Exact aggregates of one trend: count, sum, min, max and the histogram."""

    __slots__ = ("count", "sum", "min", "max", "hist")

    def __init__(self) -> None:
        self.count = 0
        self.sum = 0.0
        self.min = float("inf")
        self.max = float("-inf")
        self.hist: Histogram = _EMPTY

    def fold(self, values: np.ndarray, also: Histogram | None = None) -> None:
        """Add `values`; `also` (a histogram) records them too, with the buckets computed once."""
        if values.size == 0:
            return
        if self.hist is _EMPTY:
            self.hist = Histogram()  # ~300 KB: allocated only for trends that get samples
        self.count += int(values.size)
        self.sum += float(values.sum())
        lo = float(values.min())
        hi = float(values.max())
        if lo < self.min:
            self.min = lo
        if hi > self.max:
            self.max = hi
        record_many(self.hist, values, also)

    def merge_into(self, metric: Metric) -> Histogram | None:
        """Add the exact aggregates to `metric`; returns the histogram for the caller to add."""
        if self.count == 0:
            return None
        metric.count += self.count
        metric.sum += self.sum
        metric.min = self.min if metric.min is None else min(metric.min, self.min)
        metric.max = self.max if metric.max is None else max(metric.max, self.max)
        return self.hist


class HttpSeries:
    """All requests of one tag set: a flat buffer of 8 timings per request, and their totals."""

    __slots__ = ("tags", "failed", "buf", "sent", "received", "accs", "requests", "_sent_folded", "_recv_folded")

    def __init__(self, tags: dict[str, str], failed: bool) -> None:
        self.tags = tags
        self.failed = failed
        self.buf = array("d")
        self.sent = 0
        self.received = 0
        # per-series accumulators; the timing trends other than duration are only kept per
        # series when a threshold filters them by tag (see MetricsSink.detailed)
        self.accs = [TrendAcc() for _ in range(NCOLS)]
        self.requests = 0
        self._sent_folded = 0
        self._recv_folded = 0


class Series:
    """One non-HTTP metric with one tag set."""

    __slots__ = ("metric", "type", "tags", "buf", "acc", "count", "sum", "passes", "fails", "value", "min", "max",
                 "_count_folded", "_sum_folded", "_passes_folded", "_fails_folded")

    def __init__(self, metric: str, mtype: MetricType, tags: dict[str, str]) -> None:
        self.metric = metric
        self.type = mtype
        self.tags = tags
        self.buf = array("d")
        self.acc = TrendAcc() if mtype is MetricType.TREND else None
        self.count = 0
        self.sum = 0.0
        self.passes = 0
        self.fails = 0
        self.value: float | None = None
        self.min: float | None = None
        self.max: float | None = None
        self._count_folded = 0
        self._sum_folded = 0.0
        self._passes_folded = 0
        self._fails_folded = 0


@dataclass
class TickStats:
    """What the last second looked like, per scenario (for progress lines and live thresholds)."""

    t: float
    requests: int = 0
    failed: int = 0
    iterations: int = 0
    p95: float | None = None
    per_scenario: dict[str, dict[str, float]] = field(default_factory=dict)
