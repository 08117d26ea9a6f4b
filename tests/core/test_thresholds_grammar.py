"""k6's threshold grammar: parsing, type rules, evaluation and round trips."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assay.results import Metric, MetricType
from assay.thresholds import ThresholdError, evaluate_metric, parse_threshold, validate_threshold

AGGS = st.sampled_from(["avg", "min", "max", "med", "count", "rate", "value"]) | st.floats(
    min_value=0, max_value=100, allow_nan=False
).map(lambda p: f"p({p:g})")
OPS = st.sampled_from(["<", "<=", ">", ">=", "==", "!="])
NUMBERS = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12)


@given(agg=AGGS, op=OPS, value=NUMBERS, spaces=st.booleans())
def test_parse_round_trip(agg: str, op: str, value: float, spaces: bool) -> None:
    sep = " " if spaces else ""
    expr = parse_threshold(f"{agg}{sep}{op}{sep}{value!r}")
    assert (expr.aggregation, expr.op, expr.value) == (agg, op, value)
    again = parse_threshold(str(expr))
    assert (again.aggregation, again.op, again.value) == (agg, op, value)


@pytest.mark.parametrize(
    ("text", "agg", "op", "value"),
    [("p(95)<500", "p(95)", "<", 500), ("rate <= 0.01", "rate", "<=", 0.01), ("count===3", "count", "==", 3),
     ("p(99.9) < 1.5", "p(99.9)", "<", 1.5), ("value!=0", "value", "!=", 0)],
)
def test_parse_examples(text: str, agg: str, op: str, value: float) -> None:
    expr = parse_threshold(text)
    assert (expr.aggregation, expr.op, expr.value) == (agg, op, value)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("p95<500", "unknown aggregation 'p95'"), ("p(101)<1", "between 0 and 100"), ("avg 500", "no comparison operator"),
     ("<5", "no aggregation"), ("avg<fast", "'fast' is not a number")],
)
def test_malformed_expressions_explain_themselves(text: str, fragment: str) -> None:
    with pytest.raises(ThresholdError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        parse_threshold(text)


@pytest.mark.parametrize(
    ("mtype", "good", "bad"),
    [(MetricType.COUNTER, "count>1", "p(95)<1"), (MetricType.GAUGE, "value<1", "rate<1"),
     (MetricType.RATE, "rate<0.1", "count<1"), (MetricType.TREND, "p(99)<300", "rate<1")],
)
def test_aggregations_follow_metric_types(mtype: MetricType, good: str, bad: str) -> None:
    validate_threshold("m", mtype, good)
    with pytest.raises(ThresholdError, match=f"a {mtype} metric allows"):
        validate_threshold("m", mtype, bad)


@given(values=st.lists(st.floats(min_value=0, max_value=10_000, allow_nan=False), min_size=1, max_size=200),
       limit=st.floats(min_value=0, max_value=10_000, allow_nan=False))
def test_evaluation_agrees_with_the_aggregate(values: list[float], limit: float) -> None:
    m = Metric.builtin("http_req_duration")
    for v in values:
        m.add(v)
    from assay.results import ThresholdResult

    m.thresholds = [ThresholdResult(source=f"max<{limit!r}"), ThresholdResult(source=f"avg<={limit!r}")]
    failed = evaluate_metric(m, None)
    assert ("max<" + repr(limit) in failed) == (not max(values) < limit)
    assert ("avg<=" + repr(limit) in failed) == (not sum(values) / len(values) <= limit)


def test_a_threshold_without_samples_passes_as_in_k6() -> None:
    from assay.results import ThresholdResult

    m = Metric.builtin("http_req_duration", thresholds=[ThresholdResult(source="p(95)<1")])
    assert evaluate_metric(m, None) == []
    assert m.thresholds[0].ok is True and m.thresholds[0].observed is None
