"""Merges are exact: the histogram of merge(a, b) is the histogram of the union."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from k6_gen_formats import Generated, generate, to_ndjson

from assay.formats import load_result
from assay.results import Metric, MetricType, RunResult, merge_results

latencies = st.lists(st.floats(min_value=0.0, max_value=60_000.0, allow_nan=False), min_size=1, max_size=300)
PERCENTILES = ["med", "p(90)", "p(95)", "p(99)", "p(99.9)", "min", "max", "avg"]


def trend_of(values: list[float]) -> Metric:
    m = Metric.builtin("http_req_duration")
    for v in values:
        m.add(v)
    return m.seal()


@settings(max_examples=60, deadline=None)
@given(a=latencies, b=latencies)
def test_percentiles_of_merge_equal_percentiles_of_union(a: list[float], b: list[float]) -> None:
    merged = trend_of(a).merge(trend_of(b))
    union = trend_of(a + b)
    for key in PERCENTILES:
        assert merged.stat(key) == pytest.approx(union.stat(key), rel=1e-12, abs=1e-9), key
    assert merged.count == union.count


@settings(max_examples=40, deadline=None)
@given(a=latencies, b=latencies)
def test_merge_survives_serialisation(a: list[float], b: list[float]) -> None:
    ra = RunResult(metrics={"http_req_duration": trend_of(a)})
    rb = RunResult(metrics={"http_req_duration": trend_of(b)})
    ra2, rb2 = RunResult.from_json(ra.to_json()), RunResult.from_json(rb.to_json())
    merged = merge_results([ra2, rb2])
    union = trend_of(a + b)
    for key in PERCENTILES:
        assert merged.stat("http_req_duration", key) == pytest.approx(union.stat(key), rel=1e-12, abs=1e-9)


@given(a=st.lists(st.booleans(), max_size=200), b=st.lists(st.booleans(), max_size=200))
def test_rates_and_counters_add(a: list[bool], b: list[bool]) -> None:
    def rate(values: list[bool]) -> Metric:
        m = Metric.new(MetricType.RATE)
        for v in values:
            m.add(1.0 if v else 0.0)
        return m

    merged = rate(a).merge(rate(b))
    assert merged.passes == sum(a) + sum(b)
    assert merged.fails == len(a) + len(b) - sum(a) - sum(b)


def test_halves_of_a_k6_run_merge_into_the_whole(tmp_path: Path) -> None:
    whole = generate(seconds=20, rps=40, seed=3)
    half = len(whole.samples) // 2
    first, second = Generated(whole.samples[:half], whole.thresholds), Generated(whole.samples[half:], whole.thresholds)
    paths = []
    for name, part in (("whole", whole), ("a", first), ("b", second)):
        p = tmp_path / f"{name}.json"
        p.write_text(to_ndjson(part))
        paths.append(p)
    full, a, b = (load_result(p) for p in paths)
    merged = merge_results([a, b])
    for name in ("http_req_duration", "http_req_duration{name:create}", "http_reqs", "http_req_failed", "checks"):
        for key, value in full.values(name).items():
            if key == "rate" and name == "http_reqs":
                continue  # per-second rate depends on the merged span, checked below
            assert merged.values(name)[key] == pytest.approx(value, rel=1e-12), (name, key)
    assert merged.duration_s == pytest.approx(full.duration_s, abs=1e-3)
    assert len(merged.timeseries) == len(full.timeseries)
    for mb, fb in zip(merged.timeseries, full.timeseries, strict=True):
        assert mb.metrics["http_reqs"]["count"] == fb.metrics["http_reqs"]["count"]
        assert mb.metrics["http_req_duration"]["p(95)"] == pytest.approx(fb.metrics["http_req_duration"]["p(95)"])


def test_summary_trends_refuse_an_inexact_merge(reference_dir: Path) -> None:
    r = load_result(reference_dir / "k6-summary-export.sample.json")
    with pytest.raises(ValueError, match="cannot be merged exactly"):
        merge_results([r, r])
