"""Leak verdicts on generated series: flat, GC sawtooth, linear climb, step; and the threshold grammar."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from assay.observe.leak import after_warmup, growth_and_slope, judge
from assay.thresholds import ThresholdError, parse_threshold

MB = 1e6
RNG = np.random.default_rng(16)


def _series(kind: str, seconds: int = 600) -> tuple[list[float], list[float]]:
    t = np.arange(seconds, dtype=float)
    noise = RNG.normal(0, 0.2 * MB, seconds)
    base = 100 * MB
    if kind == "flat":
        v = base + noise
    elif kind == "sawtooth":  # a collector: climbs 20 MB over 60 s, drops back
        v = base + (t % 60) / 60 * 20 * MB + noise
    elif kind == "climb":  # 3 MB per minute
        v = base + t * 3 * MB / 60 + noise
    elif kind == "step":  # a cache fills once, early, then stays
        v = base + np.where(t > 150, 30 * MB, 0.0) + noise
    else:
        raise ValueError(kind)
    return list(t), list(v)


@pytest.mark.parametrize(("kind", "verdict"), [("flat", "no leak"), ("sawtooth", "no leak"), ("climb", "leak"), ("step", "no leak")])
def test_generated_series(kind: str, verdict: str) -> None:
    times, values = _series(kind)
    result = judge("proc_rss_bytes{proc:x}", times, values)
    assert result.verdict == verdict, result.describe("B")
    assert result.points == 540  # the first 10% is warm-up


def test_climb_numbers_are_the_true_slope() -> None:
    times, values = _series("climb")
    result = judge("m", times, values)
    assert result.slope_per_h is not None and result.slope_low_per_h is not None and result.slope_high_per_h is not None
    true = 3 * MB * 60  # per hour
    assert result.slope_low_per_h <= true <= result.slope_high_per_h
    assert result.slope_per_h == pytest.approx(true, rel=0.01)
    # growth of the fitted line from its value at the end of warm-up to the end of the run
    start, end = 100 * MB + 60 * 3 * MB / 60, 100 * MB + 599 * 3 * MB / 60
    assert result.growth_pct == pytest.approx((end - start) / start * 100, rel=0.02)
    assert "MB" in result.describe("B") and "leak" in result.describe("B")


def test_sawtooth_is_told_apart_by_its_own_swing() -> None:
    # partial periods at the window's ends tilt the line a little: the rise stays inside the swing
    times, values = _series("sawtooth")
    result = judge("m", times, values)
    assert result.growth_pct is not None and abs(result.growth_pct) < 5.0
    assert "sawtooth" in result.reason


def test_too_few_points() -> None:
    result = judge("m", [0.0, 1.0, 2.0], [1.0, 2.0, 3.0])
    assert result.verdict == "not enough data"
    assert "2 readings after warm-up" in result.reason
    assert growth_and_slope([0.0, 1.0], [1.0, 2.0]) is None


def test_warmup_forms() -> None:
    times = [float(i) for i in range(100)]
    assert after_warmup(times, times, 0.1)[0][0] == pytest.approx(10.0)
    assert after_warmup(times, times, "20%")[0][0] == pytest.approx(20.0)
    assert after_warmup(times, times, "30s")[0][0] == pytest.approx(30.0)


def test_series_threshold_grammar() -> None:
    growth = parse_threshold("growth<5%")
    assert (growth.aggregation, growth.op, growth.limit, str(growth)) == ("growth", "<", 5.0, "growth<5%")
    slope = parse_threshold("slope<10MB/h")
    assert slope.limit == 10 * MB and str(slope) == "slope<10MB/h"
    assert parse_threshold("slope < 500KB/min").limit == 500e3 * 60
    assert parse_threshold("slope<3/h").limit == 3.0
    assert slope.holds(9 * MB) and not slope.holds(11 * MB)
    with pytest.raises(ThresholdError, match="unknown unit 'MB/day'"):
        parse_threshold("slope<10MB/day")


@given(
    agg=st.sampled_from(["avg", "min", "max", "med", "count", "rate", "value", "p(95)", "p(99.9)"]),
    op=st.sampled_from(["<", "<=", ">", ">=", "==", "!="]),
    value=st.floats(min_value=-1e9, max_value=1e9, allow_nan=False).map(lambda v: round(v, 3)),
)
def test_k6_expressions_still_round_trip(agg: str, op: str, value: float) -> None:
    expr = parse_threshold(f"{agg}{op}{value}")
    again = parse_threshold(str(expr))
    assert (again.aggregation, again.op, again.unit) == (expr.aggregation, expr.op, "")
    assert math.isclose(again.value, value) or again.value == value


def test_evaluate_result_reads_growth_and_slope_from_the_series() -> None:
    """A saved result re-evaluated later (merge, `assay results`) judges from its per-second series."""
    from assay.results import Metric, MetricType, RunResult, ThresholdResult, TimeBucket
    from assay.thresholds import evaluate_result

    name = "proc_rss_bytes{proc:x}"
    result = RunResult(duration_s=120)
    metric = Metric(type=MetricType.GAUGE, tags={"proc": "x"})
    metric.thresholds = [ThresholdResult(source="slope<10MB/h"), ThresholdResult(source="growth<50%"), ThresholdResult(source="value<1e12")]
    for second in range(120):
        value = 100 * MB + second * 1 * MB / 60  # 60 MB/h
        metric.add(value)
        result.timeseries.append(TimeBucket(t=1.7e9 + second, metrics={name: {"value": value}}))
    result.metrics[name] = metric
    failed = evaluate_result(result)
    assert failed == [(name, "slope<10MB/h")]
    slope, growth, _ = metric.thresholds
    assert slope.observed == pytest.approx(60 * MB, rel=0.01)
    assert growth.ok is True and growth.observed is not None and 0 < growth.observed < 5
