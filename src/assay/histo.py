"""Recording many values into an HdrHistogram at once (numpy), instead of one Python call each.

The pure-Python `record_value` costs ~1 µs per sample; the engine appends samples to a
flat float buffer on the hot path and folds the buffer in here once per second.
"""

from __future__ import annotations

import numpy as np

from assay.results import Histogram

_MAX_EXACT = float(2**53)


def record_many(hist: Histogram, values: np.ndarray, also: Histogram | None = None) -> None:
    """Record every value (ms floats) into `hist`, exactly as `Histogram.record` would one by one.

    `also`: a second histogram that gets the same values (the run's trend and the per-second
    histogram both take every duration); the buckets are computed once for both when the two
    share a layout."""
    n = int(values.size)
    if n == 0:
        return
    if n > 1 and values[0] == values[-1] and (values == values[0]).all():
        # one value repeated (blocked/connecting/TLS times on kept-alive connections are all 0):
        # its bucket is computed once and counted n times
        values = values[:1]
    hdr = hist.hdr
    # the same arithmetic as hdrh's index, with as few temporary arrays as possible (each is
    # a full pass over a second's samples)
    scaled_f = values * Histogram.SCALE
    scaled_f += 0.5
    np.floor(scaled_f, out=scaled_f)
    np.clip(scaled_f, 0.0, min(float(Histogram.HIGHEST), _MAX_EXACT), out=scaled_f)
    scaled_f[values <= 0] = 0.0
    scaled = scaled_f.astype(np.int64)
    masked = scaled | np.int64(hdr.sub_bucket_mask)
    np.copyto(scaled_f, masked, casting="unsafe")
    _, bit_length = np.frexp(scaled_f)
    bucket = bit_length.astype(np.int64)
    bucket -= hdr.unit_magnitude + hdr.sub_bucket_half_count_magnitude + 1
    shift = bucket + hdr.unit_magnitude
    np.right_shift(scaled, shift, out=masked)  # masked now holds the sub-bucket
    bucket += 1
    np.left_shift(bucket, hdr.sub_bucket_half_count_magnitude, out=bucket)
    masked -= hdr.sub_bucket_half_count
    bucket += masked  # the counts index of each value
    index = bucket
    lo = int(scaled.min())
    hi = int(scaled.max())
    counts = None if values.size == 1 else np.bincount(index).astype(np.uint64)
    targets = [hist]
    if also is not None:
        a = also.hdr
        if a.counts_len == hdr.counts_len and a.unit_magnitude == hdr.unit_magnitude and a.sub_bucket_half_count_magnitude == hdr.sub_bucket_half_count_magnitude:
            targets.append(also)
        else:
            record_many(also, values if values.size > 1 or n == 1 else np.full(n, values[0]))
    for target in targets:
        t = target.hdr
        view = np.ctypeslib.as_array(t.counts)
        if counts is None:
            view[int(index[0])] += np.uint64(n)
        else:
            view[: counts.size] += counts
        t.total_count += n
        if lo < t.min_value:
            t.min_value = lo
        if hi > t.max_value:
            t.max_value = hi


def _view(hist: Histogram) -> np.ndarray:
    return np.ctypeslib.as_array(hist.hdr.counts)


def hist_add(dst: Histogram, src: Histogram) -> None:
    """dst += src for two histograms of the same layout (numpy; hdrh's add walks in Python)."""
    s = src.hdr
    if s.total_count == 0:
        return
    d = dst.hdr
    view = _view(dst)
    view += _view(src)
    d.total_count += s.total_count
    if s.max_value > d.max_value:
        d.max_value = s.max_value
    if s.min_value < d.min_value:
        d.min_value = s.min_value


def value_at(hist: Histogram, percentile: float) -> float:
    """Histogram.value_at with a numpy cumulative sum (same answer, ~20x faster)."""
    hdr = hist.hdr
    if hdr.total_count == 0:
        return 0.0
    target = hdr.get_target_count_at_percentile(percentile)
    cum = np.cumsum(_view(hist))
    index = int(np.searchsorted(cum, target))
    value = hdr.get_value_from_index(index)
    value = hdr.get_highest_equivalent_value(value) if percentile else hdr.get_lowest_equivalent_value(value)
    return float(value) / Histogram.SCALE


def values_at(hist: Histogram, percentiles: list[float]) -> list[float]:
    """Several percentiles with one cumulative sum."""
    hdr = hist.hdr
    if hdr.total_count == 0:
        return [0.0 for _ in percentiles]
    cum = np.cumsum(_view(hist))
    out = []
    for p in percentiles:
        index = int(np.searchsorted(cum, hdr.get_target_count_at_percentile(p)))
        value = hdr.get_value_from_index(index)
        value = hdr.get_highest_equivalent_value(value) if p else hdr.get_lowest_equivalent_value(value)
        out.append(float(value) / Histogram.SCALE)
    return out


def hist_reset(hist: Histogram) -> None:
    """Empty a histogram in place (numpy; hdrh's reset walks every count in Python)."""
    import sys

    hdr = hist.hdr
    _view(hist)[:] = 0
    hdr.total_count = 0
    hdr.min_value = sys.maxsize
    hdr.max_value = 0
    hdr.start_time_stamp_msec = sys.maxsize
    hdr.end_time_stamp_msec = 0
