"""Thresholds: validation before the run, exact aggregates from the sink, live abortOnFail, final verdicts."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assay.histo import record_many, value_at
from assay.load.coordinator import run_load
from assay.load.options import build_plan, parse_cli_threshold, parse_thresholds
from assay.load.scenario import LoadedScenario
from assay.load.sink import MetricsSink
from assay.results import BUILTIN_METRICS, Contains, Histogram, MetricType, RunStatus
from assay.thresholds import ThresholdError, evaluate_metric

TYPES = dict(BUILTIN_METRICS) | {"my_trend": (MetricType.TREND, Contains.TIME)}
values_ms = st.lists(st.floats(min_value=0.0, max_value=60_000.0, allow_nan=False), min_size=1, max_size=300)


@given(values_ms)
@settings(max_examples=60, deadline=None)
def test_vectorised_histogram_equals_one_by_one(values: list[float]) -> None:
    one, many, also = Histogram(), Histogram(), Histogram()
    for v in values:
        one.record(v)
    # `also` gets the same buckets, computed once (the fold records each duration into the
    # run's trend and into the per-second histogram this way)
    record_many(many, np.array(values), also=also)
    assert one.encode() == many.encode() == also.encode()
    for p in (0, 50, 90, 99, 100):
        assert value_at(many, p) == one.value_at(p) == value_at(also, p)


@given(values_ms)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_sink_trend_aggregates_are_exact(values: list[float]) -> None:
    sink = MetricsSink()
    sink.declare("my_trend", MetricType.TREND, Contains.TIME)
    for v in values:
        sink.add("my_trend", v, {"scenario": "s"})
    sink.tick(0.0)
    m = sink.to_metrics()["my_trend"]
    assert m.count == len(values)
    assert m.stat("min") == min(values) and m.stat("max") == max(values)
    assert m.stat("avg") == pytest.approx(sum(values) / len(values), rel=1e-9, abs=1e-9)
    # HdrHistogram's nearest rank (count at percentile rounded, at least 1), 3 significant digits at 1 µs
    ordered = sorted(values)
    exact = ordered[max(1, int(0.95 * len(values) + 0.5)) - 1]
    assert m.stat("p(95)") == pytest.approx(exact, rel=2e-3, abs=2e-3)


aggregations = {
    MetricType.COUNTER: ["count", "rate", "delta"],  # delta: assay's name for a scraped counter's increase
    MetricType.GAUGE: ["value", "last", "min", "max"],  # assay: a scraped gauge's last, lowest and highest value
    MetricType.RATE: ["rate"],
    MetricType.TREND: ["avg", "min", "max", "med", "p(90)", "p(99.9)"],
}
ops = st.sampled_from(["<", "<=", ">", ">=", "==", "===", "!="])


@given(st.sampled_from(sorted(TYPES)), st.data())
@settings(max_examples=100, deadline=None)
def test_thresholds_accept_allowed_and_reject_other_aggregations(metric: str, data: st.DataObject) -> None:
    mtype = TYPES[metric][0]
    agg = data.draw(st.sampled_from(aggregations[mtype]))
    op = data.draw(ops)
    number = data.draw(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False))
    specs = parse_thresholds({metric: [f"{agg}{op}{number!r}"]}, TYPES, "f.py")
    assert specs[0].metric == metric and not specs[0].abort_on_fail
    wrong = data.draw(st.sampled_from([a for t, aggs in aggregations.items() if t is not mtype for a in aggs if a not in aggregations[mtype]]))
    with pytest.raises(ThresholdError, match="allows"):
        parse_thresholds({metric: [f"{wrong}<1"]}, TYPES, "f.py")


def test_unknown_metric_and_bad_entries_are_rejected_with_hints() -> None:
    with pytest.raises(ThresholdError, match=r"unknown metric 'http_req_duraton'; did you mean 'http_req_duration'"):
        parse_thresholds({"http_req_duraton": ["p(95)<1"]}, TYPES, "f.py")
    with pytest.raises(ThresholdError, match="unknown key 'abortOnFial'"):
        parse_thresholds({"http_reqs": [{"threshold": "count>1", "abortOnFial": True}]}, TYPES, "f.py")
    with pytest.raises(ThresholdError, match="not a duration"):
        parse_thresholds({"http_reqs": [{"threshold": "count>1", "abortOnFail": True, "delayAbortEval": "soon"}]}, TYPES, "f.py")
    with pytest.raises(ThresholdError):
        parse_thresholds({"http_req_duration{name}": ["p(95)<1"]}, TYPES, "f.py")
    spec = parse_thresholds({"http_req_failed": [{"threshold": "rate<0.1", "abortOnFail": True, "delayAbortEval": "10s"}]}, TYPES, "f")[0]
    assert spec.abort_on_fail and spec.delay_abort_eval == 10.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("http_req_duration:p(95)<300", ("http_req_duration", "p(95)<300")),
        ("http_req_duration{name:a:b}:p(99) < 1", ("http_req_duration{name:a:b}", "p(99) < 1")),
        ("checks:rate>0.99", ("checks", "rate>0.99")),
    ],
)
def test_cli_threshold_syntax(text: str, expected: tuple[str, str]) -> None:
    assert parse_cli_threshold(text) == expected


@pytest.mark.parametrize("text", ["p(95)<300", "http_req_duration:", ":p(95)<1"])
def test_cli_threshold_syntax_errors(text: str) -> None:
    with pytest.raises(ThresholdError, match="METRIC:EXPR"):
        parse_cli_threshold(text)


@given(st.integers(min_value=0, max_value=50), st.integers(min_value=0, max_value=50), st.floats(min_value=0, max_value=1))
@settings(max_examples=50, deadline=None)
def test_rate_threshold_verdict_matches_the_arithmetic(passes: int, fails: int, limit: float) -> None:
    sink = MetricsSink()
    for i in range(passes + fails):
        sink.add("checks", 1.0 if i < passes else 0.0, {})
    sink.tick(0.0)
    metric = sink.to_metrics().get("checks")
    if metric is None:
        assert passes + fails == 0
        return
    from assay.results import ThresholdResult

    metric.thresholds = [ThresholdResult(source=f"rate>={limit!r}")]
    failed = evaluate_metric(metric, 1.0)
    assert (failed == []) == (passes / (passes + fails) >= limit)


def _run(url: str, thresholds: dict[str, Any], duration: str = "6s") -> tuple[Any, float]:
    async def default(vu: Any) -> None:
        await vu.http.get(url)
        await vu.sleep(0.01)

    loaded = LoadedScenario(source="t.py", format="python", options={"vus": 2, "duration": duration, "thresholds": thresholds},
                            functions={"default": default})
    t0 = time.perf_counter()
    result = run_load(loaded, build_plan(loaded), workers=1)
    return result, time.perf_counter() - t0


def test_abort_on_fail_stops_the_run_early(target_url: str) -> None:
    result, elapsed = _run(target_url + "/status/500", {"http_req_failed": [{"threshold": "rate<0.01", "abortOnFail": True}]})
    assert elapsed < 4.5
    assert result.status is RunStatus.FAILED
    assert result.extra["aborted_by_threshold"] == ["http_req_failed: rate<0.01"]
    assert [t.ok for _, t in result.thresholds()] == [False]


def test_delay_abort_eval_gives_the_run_time(target_url: str) -> None:
    result, elapsed = _run(
        target_url + "/status/500",
        {"http_req_failed": [{"threshold": "rate<0.01", "abortOnFail": True, "delayAbortEval": "3s"}]},
    )
    assert 2.9 <= result.duration_s <= 5.5
    assert result.status is RunStatus.FAILED


def test_final_evaluation_passes_and_fails(target_url: str) -> None:
    result, _ = _run(target_url + "/", {"http_req_duration": ["p(95)<5000", "max>=0"], "http_reqs": ["count<1"]}, duration="1s")
    verdicts = {(n, t.source): t.ok for n, t in result.thresholds()}
    assert verdicts == {("http_req_duration", "p(95)<5000"): True, ("http_req_duration", "max>=0"): True, ("http_reqs", "count<1"): False}
    assert result.status is RunStatus.FAILED
    passed, _ = _run(target_url + "/", {"http_req_duration{status:200}": ["p(95)<5000"], "checks": ["rate>0.5"]}, duration="1s")
    assert passed.status is RunStatus.PASSED
    assert passed.metrics["http_req_duration{status:200}"].thresholds[0].ok is True
