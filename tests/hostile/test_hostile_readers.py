"""Property tests: any JSON (random depth, any number, NaN, infinities, huge integers,
duplicate keys) fed to every reader either reads or raises one located ConfigError; and
YAML alias bombs and duplicate keys are refused by the config loader."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assay import strict
from assay.config import ConfigError, parse_config, parse_data
from assay.errors import UsageError
from assay.formats import load_result
from assay.formats.k6_csv import read_csv
from assay.formats.k6_ndjson import read_ndjson
from assay.results import RunResult

NUMBER_TEXT = st.one_of(
    st.integers().map(str),
    st.integers(min_value=10**20, max_value=10**80).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(lambda f: json.dumps(f)),
    st.sampled_from(["1e999", "-1e999", "NaN", "Infinity", "-Infinity", "9" * 5000, "1e-999", "0.0", "-0"]),
)
SCALARS = st.one_of(st.none(), st.booleans(), st.text(max_size=5).map(json.dumps), NUMBER_TEXT)


def _object(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    keys = st.sampled_from(["schema", "metrics", "count", "sum", "type", "hdr", "a", "data", "value"])
    pair = st.tuples(keys, children).map(lambda kv: f"{json.dumps(kv[0])}: {kv[1]}")
    return st.lists(pair, max_size=4).map(lambda items: "{" + ", ".join(items) + "}")


JSON_TEXT = st.recursive(
    SCALARS.map(lambda s: "null" if s is None else s if isinstance(s, str) else json.dumps(s)),
    lambda children: st.one_of(st.lists(children, max_size=4).map(lambda xs: "[" + ", ".join(xs) + "]"), _object(children)),
    max_leaves=20,
)


@st.composite
def deep(draw: st.DrawFn) -> str:
    depth = draw(st.integers(min_value=0, max_value=3000))
    inner = draw(JSON_TEXT)
    opener, closer = draw(st.sampled_from([('{"a": ', "}"), ("[", "]")]))
    return opener * depth + inner + closer * depth


ANY_JSON = st.one_of(JSON_TEXT, deep(), JSON_TEXT.map(lambda t: '{"schema": "assay.run/1", "metrics": ' + t + "}"))
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _no_bad_values(value: object, depth: int = 0) -> None:
    assert depth <= strict.MAX_DEPTH + 1
    if isinstance(value, float):
        assert math.isfinite(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        assert len(str(abs(value))) <= strict.MAX_INT_DIGITS
    elif isinstance(value, dict):
        for v in value.values():
            _no_bad_values(v, depth + 1)
    elif isinstance(value, list):
        for v in value:
            _no_bad_values(v, depth + 1)


@SETTINGS
@given(ANY_JSON)
def test_strict_json_returns_only_finite_bounded_values_or_a_located_error(text: str) -> None:
    try:
        value = strict.loads(text)
    except strict.StrictError as exc:
        assert exc.message
        return
    except json.JSONDecodeError:
        return
    _no_bad_values(value)


@SETTINGS
@given(ANY_JSON)
def test_config_json_reader_never_crashes(text: str) -> None:
    try:
        parse_data(text, source="c.json", fmt="json")
    except ConfigError as exc:
        assert exc.message.startswith("c.json")


@SETTINGS
@given(ANY_JSON)
def test_result_reader_never_crashes(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    path = tmp_path_factory.mktemp("r") / "r.json"
    path.write_text(text)
    try:
        result = load_result(path)
    except UsageError as exc:  # ConfigError is one
        assert str(path) in exc.message
        return
    assert isinstance(result, RunResult)
    result.to_json()  # what was read can be written back


@SETTINGS
@given(st.lists(ANY_JSON, min_size=1, max_size=3), NUMBER_TEXT)
def test_ndjson_reader_never_crashes(lines: list[str], value: str) -> None:
    point = '{"type":"Point","data":{"time":"2024-01-01T00:00:00Z","value":' + value + ',"tags":{}},"metric":"m"}'
    try:
        read_ndjson([point, *lines], "k6.ndjson")
    except ConfigError as exc:
        assert exc.message.startswith("k6.ndjson:")


@SETTINGS
@given(st.lists(st.tuples(NUMBER_TEXT, NUMBER_TEXT), min_size=1, max_size=5))
def test_csv_reader_never_crashes(rows: list[tuple[str, str]]) -> None:
    lines = ["metric_name,timestamp,metric_value"] + [f"http_req_duration,{t},{v}" for t, v in rows]
    try:
        result = read_csv(lines, "k6.csv")
    except ConfigError as exc:
        assert exc.message.startswith("k6.csv:")
        return
    result.to_json()


def test_json_duplicate_keys_name_both_positions() -> None:
    text = '{\n  "a": 1,\n  "b": {"x": 1,\n        "x": 2}\n}'
    with pytest.raises(ConfigError) as err:
        parse_data(text, source="c.json", fmt="json")
    assert err.value.message == "c.json:4:9: invalid JSON: duplicate key 'x' (first at line 3, column 9)"


def test_yaml_duplicate_keys_name_both_positions() -> None:
    with pytest.raises(ConfigError) as err:
        parse_data("a: 1\nb:\n  c: 1\n  c: 2\n", source="c.yaml")
    assert err.value.message == "c.yaml:4:3: invalid YAML: duplicate key 'c' (first at line 3, column 3)"


@pytest.mark.parametrize("levels", [6, 9])
def test_yaml_alias_bombs_are_refused_quickly(levels: int) -> None:
    names = "abcdefghij"
    text = 'a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]\n'
    for prev, name in zip(names, names[1:levels], strict=False):
        text += f"{name}: &{name} [{', '.join(['*' + prev] * 9)}]\n"
    expanded = 9 ** levels
    if expanded <= strict.MAX_YAML_NODES:
        assert parse_data(text, source="b.yaml")["a"] == ["x"] * 9
        return
    with pytest.raises(ConfigError) as err:
        parse_data(text, source="b.yaml")
    assert err.value.message.startswith("b.yaml:") and "alias" in err.value.message


def test_yaml_aliases_within_the_bound_still_work(tmp_path: Path) -> None:
    from pydantic import BaseModel

    class Doc(BaseModel):
        base: dict[str, int]
        again: dict[str, int]

    doc = parse_config("base: &b {x: 1, y: 2}\nagain: *b\n", Doc, source="ok.yaml")
    assert doc.again == {"x": 1, "y": 2}


def test_deep_yaml_is_refused_with_its_position() -> None:
    text = "a:\n" + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(150)) + "  " * 151 + "v\n"
    with pytest.raises(ConfigError) as err:
        parse_data(text, source="d.yaml")
    assert err.value.message.startswith("d.yaml:") and "nested deeper" in err.value.message
