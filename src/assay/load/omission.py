"""Coordinated omission in closed-model runs, corrected as wrk does.

A VU of a closed model (constant-vus, ramping-vus, *-iterations) sends its next request only
when the last one returned, so a server that freezes 450 ms every 3 s delays a handful of
requests while the requests that would have arrived during the freeze are never sent: p99
stays at a millisecond. wrk corrects this with HdrHistogram's expected-interval correction:
with E = the mean time between one VU's requests (duration x VUs / requests), every recorded
latency v > E also stands for the requests that would have been sent meanwhile, waiting
v - E, v - 2E, ... down to E.

The result is `http_req_corrected_duration`, the metric arrival-rate scenarios measure
exactly (from each iteration's intended start); here it is wrk's estimate, per closed-model
scenario, merged into the same metric so one threshold covers both models. E uses the
scenario's most VUs, so ramping scenarios are corrected conservatively.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from assay.results import Contains, Histogram, Metric, MetricType, RunResult, submetric_name

CORRECTED = "http_req_corrected_duration"
OPEN_EXECUTORS = frozenset({"constant-arrival-rate", "ramping-arrival-rate"})
DEFAULT_WARN_FACTOR = 3.0
WARN_PERCENTILES = ("p(95)", "p(99)")


def corrected_histogram(hist: Histogram, expected_ms: float) -> tuple[Histogram, float]:
    """A copy of `hist` with the expected-interval correction (HdrHistogram's
    `copyCorrectedForCoordinatedOmission`, wrk's `stats_correct`); returns it and its value sum."""
    out = hist.copy()
    total = 0.0
    scale = Histogram.SCALE
    for item in hist.hdr.get_recorded_iterator():
        value = item.value_iterated_to / scale
        count = int(item.count_added_in_this_iter_step)
        total += value * count
        if expected_ms <= 0 or value <= expected_ms:
            continue
        extra = math.ceil(value / expected_ms) - 1
        for k in range(1, extra + 1):
            v = value - k * expected_ms
            out.record(v, count)
            total += v * count
    return out, total


def correct_closed_model(result: RunResult, scenarios: Iterable[tuple[str, str, int]]) -> list[str]:
    """Add `http_req_corrected_duration` (and its `{scenario:X}` sub-metric) for each closed-model
    scenario (`(name, executor, most VUs)`) that sent requests; returns the scenarios corrected."""
    done: list[str] = []
    duration_ms = result.duration_s * 1000.0
    for name, executor, vus in scenarios:
        if executor in OPEN_EXECUTORS or vus <= 0 or duration_ms <= 0:
            continue
        measured = result.metrics.get(submetric_name("http_req_duration", {"scenario": name}))
        if measured is None or measured.count == 0 or measured.histogram().count == 0:
            continue
        expected = duration_ms * vus / measured.count
        hist, total = corrected_histogram(measured.histogram(), expected)
        part = Metric(type=MetricType.TREND, contains=Contains.TIME, count=hist.count, sum=total,
                      min=measured.min, max=measured.max)
        part.set_histogram(hist)
        sub = submetric_name(CORRECTED, {"scenario": name})
        result.metrics[sub] = _merged(result.metrics.get(sub), part, {"scenario": name})
        result.metrics[CORRECTED] = _merged(result.metrics.get(CORRECTED), part, {})
        done.append(name)
    return done


def _merged(existing: Metric | None, part: Metric, tags: dict[str, str]) -> Metric:
    if existing is None:
        fresh = part.merge(Metric(type=MetricType.TREND, contains=Contains.TIME))
        fresh.tags = dict(tags)
        return fresh
    kept = existing.thresholds
    merged = existing.merge(part)
    merged.thresholds = kept
    merged.tags = dict(existing.tags)
    return merged


def omission_warning(result: RunResult, factor: float) -> str | None:
    """A warning when corrected latency exceeds the measured one by more than `factor` at p(95) or p(99)."""
    measured = result.metrics.get("http_req_duration")
    corrected = result.metrics.get(CORRECTED)
    if measured is None or corrected is None or factor <= 0:
        return None
    for key in reversed(WARN_PERCENTILES):
        m = measured.stat(key)
        c = corrected.stat(key)
        if m is not None and c is not None and c > factor * max(m, 1e-3):
            return (
                f"coordinated omission: corrected {key} {c:.2f} ms is {c / max(m, 1e-3):.0f}x the measured {m:.2f} ms "
                f"(more than the warning factor {factor:g}): the server stalled while VUs waited, and the requests "
                f"a real open workload would have sent meanwhile were never measured; see {CORRECTED}, or use an "
                "arrival-rate scenario (--rate)"
            )
    return None
