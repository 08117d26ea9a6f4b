"""Cross-metric thresholds: `delta == messages_sent`, ratios of counters, and k6's forms unchanged."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assay.results import Metric, MetricType, RunResult, ThresholdResult
from assay.threshold_math import MathError, Num, Ref, evaluate, parse_expression, render
from assay.thresholds import ThresholdError, evaluate_result, parse_threshold, validate_threshold

NUMBERS = st.integers(min_value=0, max_value=1000).map(float)


@st.composite
def expressions(draw: st.DrawFn, depth: int = 0) -> str:
    if depth > 3 or draw(st.booleans()):
        return repr(draw(NUMBERS))
    op = draw(st.sampled_from(["+", "-", "*", "/"]))
    return f"({draw(expressions(depth + 1))} {op} {draw(expressions(depth + 1))})"


def _python(text: str) -> float | None:
    try:
        return float(eval(text, {"__builtins__": {}}))  # noqa: S307 - generated arithmetic only
    except ZeroDivisionError:
        return None


@given(expressions())
def test_arithmetic_agrees_with_python(text: str) -> None:
    ours = evaluate(parse_expression(text), lambda m, a: None)
    theirs = _python(text)
    if theirs is None:
        assert ours is None  # a division by zero has no value (and so the threshold waits, as k6's do)
    else:
        assert ours is not None and ours == pytest.approx(theirs)
    again = evaluate(parse_expression(render(parse_expression(text))), lambda m, a: None)
    assert again == ours or (again is not None and ours is not None and again == pytest.approx(ours))


def test_operands() -> None:
    node = parse_expression("delta / (delta + courier_cache_misses_total.delta) * 100")
    refs = []

    def lookup(metric: str | None, agg: str | None) -> float:
        refs.append((metric, agg))
        return {None: 90.0, "courier_cache_misses_total": 10.0}[metric]

    assert evaluate(node, lookup) == pytest.approx(90.0)
    assert refs == [(None, "delta"), (None, "delta"), ("courier_cache_misses_total", "delta")]
    assert parse_expression("http_reqs{status:200}.count") == Ref("http_reqs{status:200}", "count")
    assert parse_expression("p(95)") == Ref(None, "p(95)")
    assert parse_expression("messages_sent") == Ref("messages_sent", None)
    assert parse_expression("-2") != Num(2.0)
    for bad in ("delta +", "(delta", "delta $ 3", ""):
        with pytest.raises(MathError):
            parse_expression(bad)


@pytest.mark.parametrize(
    "text",
    ["delta == messages_sent", "delta / (delta + courier_cache_misses_total.delta) > 0.9", "max < other_gauge.max * 2",
     "p(95) < http_req_duration{name:x}.p(99)"],
)
def test_cross_metric_forms_parse(text: str) -> None:
    expr = parse_threshold(text)
    assert expr.composite and expr.operands()


@pytest.mark.parametrize("text", ["p(95)<500", "rate<0.01", "count>=10", "value < -3", "growth < 10%", "slope<10MB/h"])
def test_k6_forms_stay_plain(text: str) -> None:
    assert not parse_threshold(text).composite


def _result() -> RunResult:
    r = RunResult(duration_s=10)
    r.metrics["messages_sent"] = Metric(type=MetricType.COUNTER, count=100, sum=100)
    r.metrics["courier_messages_delivered_total"] = Metric(
        type=MetricType.COUNTER, count=5, sum=100,
        thresholds=[ThresholdResult(source="delta == messages_sent"), ThresholdResult(source="delta > messages_sent")],
    )
    r.metrics["hits_total"] = Metric(
        type=MetricType.COUNTER, count=3, sum=90,
        thresholds=[ThresholdResult(source="delta / (delta + misses_total.delta) >= 0.9"),
                    ThresholdResult(source="delta / (delta + nowhere_total.delta) < 0")],
    )
    r.metrics["misses_total"] = Metric(type=MetricType.COUNTER, count=3, sum=10)
    r.metrics["queue_depth"] = Metric(type=MetricType.GAUGE, value=3, min=0, max=1200, thresholds=[ThresholdResult(source="max < 1000")])
    return r


def test_evaluation_reads_other_metrics() -> None:
    result = _result()
    failed = evaluate_result(result)
    assert sorted(failed) == [("courier_messages_delivered_total", "delta > messages_sent"), ("queue_depth", "max < 1000")]
    delivered = result.metrics["courier_messages_delivered_total"].thresholds
    assert delivered[0].ok is True and delivered[0].observed == 100
    ratio = result.metrics["hits_total"].thresholds
    assert ratio[0].ok is True and ratio[0].observed == pytest.approx(0.9)
    assert ratio[1].ok is True and ratio[1].observed is None  # a missing operand: no value yet, passes as in k6


def test_validation_names_unknown_metrics_and_wrong_aggregations() -> None:
    types = {"messages_sent": (MetricType.COUNTER, None), "vus": (MetricType.GAUGE, None)}
    validate_threshold("x_total", MetricType.COUNTER, "delta == messages_sent", types)
    with pytest.raises(ThresholdError, match="did you mean 'messages_sent'"):
        validate_threshold("x_total", MetricType.COUNTER, "delta == mesages_sent", types)
    with pytest.raises(ThresholdError, match="allows"):
        validate_threshold("x_total", MetricType.COUNTER, "delta == vus.p(95)", types)
    with pytest.raises(ThresholdError, match="allows"):
        validate_threshold("x_total", MetricType.COUNTER, "max == messages_sent", types)
    with pytest.raises(ThresholdError, match="'fast' is not a number"):
        parse_threshold("avg<fast")
