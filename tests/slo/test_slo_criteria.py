"""Keptn criteria strings: every form, targets against a baseline, malformed input, round trips."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assay.slo.criteria import ACCEPTED_FORMS, OPERATORS, CriteriaError, Criterion, parse_criterion


@pytest.mark.parametrize(
    ("text", "op", "value", "sign", "percent", "relative"),
    [
        ("<350", "<", 350.0, "", False, False),
        ("<=350", "<=", 350.0, "", False, False),
        ("=0", "=", 0.0, "", False, False),
        (">=0.99", ">=", 0.99, "", False, False),
        (">30", ">", 30.0, "", False, False),
        ("<=+10%", "<=", 10.0, "+", True, True),
        ("<+15%", "<", 15.0, "+", True, True),
        (">-8%", ">", 8.0, "-", True, True),
        (">=-5%", ">=", 5.0, "-", True, True),
        ("<=10%", "<=", 10.0, "", True, True),  # % without a sign: an increase (Keptn #1498)
        ("<+50", "<", 50.0, "+", False, True),
        (">=-20", ">=", 20.0, "-", False, True),
        ("< = 350", "<=", 350.0, "", False, False),  # Keptn strips every space
        (" <= +10 % ", "<=", 10.0, "+", True, True),
        ("<.5", "<", 0.5, "", False, False),
        ("<5.", "<", 5.0, "", False, False),
    ],
)
def test_every_criteria_form(text: str, op: str, value: float, sign: str, percent: bool, relative: bool) -> None:
    c = parse_criterion(text)
    assert (c.op, c.value, c.sign, c.percent, c.relative) == (op, value, sign, percent, relative)


@pytest.mark.parametrize(
    ("text", "baseline", "target"),
    [
        ("<350", None, 350.0),
        ("<=+10%", 200.0, 220.0),  # agg * (100 + v) / 100
        ("<=10%", 200.0, 220.0),
        (">-8%", 100.0, 92.0),  # agg * (100 - v) / 100
        ("<+50", 200.0, 250.0),  # agg + v
        (">=-20", 200.0, 180.0),  # agg - v
    ],
)
def test_targets_follow_keptn(text: str, baseline: float | None, target: float) -> None:
    assert parse_criterion(text).target(baseline) == pytest.approx(target)


@pytest.mark.parametrize(
    ("text", "measured", "holds"),
    [
        ("<350", 349.9, True),
        ("<350", 350.0, False),
        ("<=350", 350.0, True),
        ("=0", 0.0, True),
        ("=0", 0.1, False),
        (">=0.99", 0.99, True),
        (">30", 30.0, False),
    ],
)
def test_operators(text: str, measured: float, holds: bool) -> None:
    assert parse_criterion(text).holds(measured) is holds


@pytest.mark.parametrize(
    "text",
    ["", "350", "<<350", "=>350", "<", "<abc", "< 3 5 0 ms", "<=+10%%", "!=3", "==3", "<1e3", "p(95)<350", "<+-5", "<=10%+"],
)
def test_malformed_criteria_show_the_accepted_forms(text: str) -> None:
    with pytest.raises(CriteriaError) as info:
        parse_criterion(text)
    assert ACCEPTED_FORMS in str(info.value)
    assert repr(text) in str(info.value)


def test_relative_criterion_needs_a_baseline() -> None:
    with pytest.raises(ValueError):
        parse_criterion("<=+10%").target(None)


numbers = st.floats(min_value=0, max_value=1e12, allow_nan=False, allow_infinity=False)


@given(op=st.sampled_from(OPERATORS), value=numbers, sign=st.sampled_from(["", "+", "-"]), percent=st.booleans())
def test_format_then_parse_round_trips(op: str, value: float, sign: str, percent: bool) -> None:
    c = Criterion(op=op, value=value, sign=sign, percent=percent)
    assert parse_criterion(str(c)) == c


@given(
    op=st.sampled_from(OPERATORS),
    value=numbers,
    sign=st.sampled_from(["", "+", "-"]),
    percent=st.booleans(),
    spaces=st.lists(st.sampled_from(["", " ", "  ", "\t"]), min_size=5, max_size=5),
)
def test_spaces_anywhere_parse_the_same(op: str, value: float, sign: str, percent: bool, spaces: list[str]) -> None:
    c = Criterion(op=op, value=value, sign=sign, percent=percent)
    text = str(c)
    body = text[len(op) :]
    spaced = spaces[0] + op[0] + (spaces[1] + op[1:] if len(op) > 1 else "") + spaces[2] + body + spaces[3]
    assert parse_criterion(spaced + spaces[4]) == c


@given(st.text(max_size=12))
def test_parser_accepts_or_explains_any_text(text: str) -> None:
    try:
        c = parse_criterion(text)
    except CriteriaError as exc:
        assert ACCEPTED_FORMS in str(exc)
    else:
        assert math.isfinite(c.value)
        assert parse_criterion(str(c)) == c
