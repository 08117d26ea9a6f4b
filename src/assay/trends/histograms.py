"""Percentiles and bins of a stored HdrHistogram in one numpy pass.

hdrh's `get_value_at_percentile` walks every bucket in Python (milliseconds per call), and
the store asks for thousands. This reads the same counts array once and returns exactly
what `Metric.stat` returns (the bucket's highest equivalent value, clamped to the exact
min/max), which the tests check.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from assay.results import Histogram, Metric, MetricType, percentile_of


def bins(hist: Histogram) -> tuple[np.ndarray, np.ndarray]:
    """(highest equivalent value of each non-empty bucket in the metric's unit, its count)."""
    hdr = hist.hdr
    counts = np.ctypeslib.as_array(hdr.counts)[: hdr.encoder.payload.counts_len]
    index = np.flatnonzero(counts)
    return _values(hdr, index) / Histogram.SCALE, counts[index].astype(np.float64)


def _values(hdr: object, index: np.ndarray) -> np.ndarray:
    """Vectorised get_highest_equivalent_value(get_value_from_index(i)) of hdrh."""
    half_mag = hdr.sub_bucket_half_count_magnitude  # type: ignore[attr-defined]
    half = hdr.sub_bucket_half_count  # type: ignore[attr-defined]
    unit = hdr.unit_magnitude  # type: ignore[attr-defined]
    index = index.astype(np.int64)
    bucket = (index >> half_mag) - 1
    sub = (index & (half - 1)) + half
    low = bucket < 0
    sub = np.where(low, sub - half, sub)
    bucket = np.where(low, 0, bucket)
    lowest = sub << (bucket + unit)
    size = np.left_shift(np.int64(1), unit + bucket)
    return (lowest + size - 1).astype(np.float64)


def trend_stats(metric: Metric, keys: Iterable[str]) -> dict[str, float]:
    """The percentile keys among `keys` (`med`, `p(95)`, ...) of a trend with a histogram; others are left out."""
    wanted = [(k, p) for k in keys if (p := percentile_of(k)) is not None]
    if metric.type is not MetricType.TREND or not metric.hdr or not wanted:
        return {}
    hist = metric.histogram()
    hdr = hist.hdr
    total = int(hdr.get_total_count())
    if total == 0:
        return {}
    counts = np.ctypeslib.as_array(hdr.counts)[: hdr.encoder.payload.counts_len]
    cumulative = np.cumsum(counts, dtype=np.int64)
    out: dict[str, float] = {}
    for key, pct in wanted:
        target = max(int(min(pct, 100.0) * total / 100 + 0.5), 1)
        index = int(np.searchsorted(cumulative, target, side="left"))
        if pct:
            value = float(_values(hdr, np.array([index]))[0])
        else:
            value = float(hdr.get_lowest_equivalent_value(hdr.get_value_from_index(index)))
        value /= Histogram.SCALE
        if metric.min is not None:
            value = max(value, metric.min)
        if metric.max is not None:
            value = min(value, metric.max)
        out[key] = value
    return out


def stat(metric: Metric, key: str, duration_s: float | None = None) -> float | None:
    """Metric.stat, with percentiles of histogram trends computed in one numpy pass."""
    fast = trend_stats(metric, [key])
    if key in fast:
        return fast[key]
    return metric.stat(key, duration_s)


def values(metric: Metric, keys: list[str], duration_s: float | None) -> dict[str, float]:
    """Metric.values (k6's value keys), with fast percentiles."""
    out = metric.values(["avg", "min", "max", "count"] if metric.type is MetricType.TREND else keys, duration_s)
    if metric.type is MetricType.TREND:
        out.update(trend_stats(metric, keys))
        if not metric.hdr:
            out.update(metric.values(keys, duration_s))
    return out
