"""Properties of the strict pact reader: what is JSON round-trips; depth and NaN/Infinity are located errors."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assay.contracts import pactfile
from assay.errors import UsageError

finite_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=30,
)


def write(text: str) -> Path:
    f = Path(tempfile.mkdtemp(prefix="assay-pactfile-")) / "p.json"
    f.write_text(text)
    return f


def pact_text(body: Any, indent: int | None = None) -> str:
    return json.dumps({"consumer": {"name": "C"}, "provider": {"name": "P"}, "x": body}, indent=indent)


@settings(max_examples=60, deadline=None)
@given(body=finite_json, indent=st.sampled_from([None, 1, 2]))
def test_contracts_strict_reader_round_trips_finite_json(body: Any, indent: int | None) -> None:
    text = pact_text(body, indent)
    raw, doc = pactfile.read(write(text))
    assert raw == text.encode() and doc == json.loads(text)


@settings(max_examples=40, deadline=None)
@given(
    body=finite_json,
    constant=st.sampled_from(["NaN", "Infinity", "-Infinity"]),
    blank_lines=st.integers(min_value=0, max_value=5),
)
def test_contracts_strict_reader_locates_non_finite_numbers(
    body: Any, constant: str, blank_lines: int
) -> None:
    # the constant goes after any strings that merely mention it, on a known line and column
    text = pact_text(body)[:-1] + ",\n" * 1 + "\n" * blank_lines + f'  "bad": {constant}}}'
    with pytest.raises(UsageError) as err:
        pactfile.read(write(text))
    line = text.count("\n") + 1
    assert f"p.json:{line}:10: {constant} is not valid JSON" in str(err.value)


@settings(max_examples=20, deadline=None)
@given(depth=st.integers(min_value=1, max_value=3000))
def test_contracts_strict_reader_bounds_nesting(depth: int) -> None:
    """Up to MAX_DEPTH always reads; beyond what json can read it is a located error, never a crash."""
    text = pact_text(None)[:-1] + ', "deep": ' + "[" * depth + "]" * depth + "}"
    try:
        doc = pactfile.read(write(text))[1]
    except UsageError as exc:
        assert depth > pactfile.MAX_DEPTH
        column = len(pact_text(None)) + len(' "deep": ') + pactfile.MAX_DEPTH
        assert f"p.json:1:{column}: nested more than {pactfile.MAX_DEPTH} levels deep" in str(exc)
        return
    level, node = 0, doc["deep"]
    while node:
        level, node = level + 1, node[0]
    assert level == depth - 1
