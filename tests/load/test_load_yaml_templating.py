"""Templates, JSON paths, data files, weighted choice and durations used by YAML scenarios."""

from __future__ import annotations

import json
import random
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assay.load.yaml.data import DataSource, WeightedChoice, load_rows
from assay.load.yaml.jsonpath import compile_json_path
from assay.load.yaml.template import Names, TemplateError, compile_template, compile_value, parse_seconds

NAMES = Names({"x": None, "user": {"name", "email"}, "vu": None, "env": None, "item": None})


class FakeVuAttrs:
    """Only attributes, like the VU object templates read ({{ vu.id }})."""

    id = 7
    iteration = 3


def render(text: str, scope: dict[str, Any] | None = None, *, keep_type: bool = False) -> Any:
    return compile_template(text, NAMES, keep_type=keep_type).render(scope or {})


def test_plain_text_is_a_constant_and_costs_nothing() -> None:
    t = compile_template("/items?page=1", NAMES)
    assert t.is_constant and t.constant == "/items?page=1" and t.roots == frozenset()


def test_variables_paths_indexes_and_attributes() -> None:
    scope = {"x": 5, "user": {"name": "ada", "email": "a@x"}, "vu": FakeVuAttrs(), "item": {"tags": ["a", "b"]}}
    assert render("/u/{{ user.name }}/{{x}}", scope) == "/u/ada/5"
    assert render("{{ vu.id }}-{{ vu.iteration }}", scope) == "7-3"
    assert render("{{ item.tags[1] }}|{{ item['tags'][-1] }}|{{ item.tags[9] }}", scope) == "b|b|"
    assert render("{{ item }}", scope) == '{"tags":["a","b"]}'
    assert compile_template("/u/{{ user.name }}/{{x}}", NAMES).roots == {"user", "x"}


def test_a_lone_expression_keeps_its_type_for_json_bodies() -> None:
    assert render("{{ x }}", {"x": 5}, keep_type=True) == 5
    assert render("{{ x }}", {"x": 5}) == "5"
    assert render("{{ true }}", keep_type=True) is True
    body = compile_value({"n": "{{ x }}", "s": "n={{ x }}", "l": ["{{ x }}", 1], "{{ user.name }}": "k"}, NAMES)
    assert not body.is_constant
    assert body.render({"x": 2, "user": {"name": "ada"}}) == {"n": 2, "s": "n=2", "l": [2, 1], "ada": "k"}
    fixed = compile_value({"a": [1, {"b": "c"}]}, NAMES)
    assert fixed.is_constant and fixed.constant == {"a": [1, {"b": "c"}]}


def test_filters() -> None:
    scope = {"x": "a b/c", "user": {"name": "Ada", "email": ""}}
    assert render("{{ x | urlencode }}", scope) == "a%20b%2Fc"
    assert render("{{ user.name | upper }}{{ user.name | lower }}", scope) == "ADAada"
    assert render("{{ user | json }}", scope) == '{"name":"Ada","email":""}'
    assert render("{{ user.email | default('none') }}", scope) == "none"
    assert render("{{ x | length }}", scope) == "5"
    assert render("{{ x | base64 }}", scope) == "YSBiL2M="
    assert render("{{ '42.7' | int }}", keep_type=True) == 42
    assert render("{{ 'abc' | upper }}") == "ABC"  # constant folding through filters
    assert compile_template("{{ 'abc' | upper }}", NAMES).is_constant


def test_random_and_time_functions() -> None:
    for _ in range(50):
        n = render("{{ random.int(3, 5) }}", keep_type=True)
        assert isinstance(n, int) and 3 <= n <= 5
        f = render("{{ random.float(1, 2) }}", keep_type=True)
        assert 1.0 <= f <= 2.0
        assert render("{{ random.choice('a', 'b') }}") in {"a", "b"}
    uuid.UUID(render("{{ random.uuid }}"))
    assert re.fullmatch(r"[A-Za-z0-9]{12}", render("{{ random.string(12) }}"))
    assert re.fullmatch(r"[0-9a-f]{8}", render("{{ random.hex(8) }}"))
    assert re.fullmatch(r"\d{4}", render("{{ random.digits(4) }}"))
    assert re.fullmatch(r"[a-z0-9]+@test\.dev", render("{{ random.email('test.dev') }}"))
    assert " " in render("{{ random.name }}")
    assert render("{{ random.bool }}", keep_type=True) in (True, False)
    assert render("{{ time.ms }}", keep_type=True) > 1_600_000_000_000
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", render("{{ time.iso }}"))
    t = compile_template("{{ random.uuid }}", NAMES)
    assert not t.is_constant and t.render({}) != t.render({})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{{ nope }}", "unknown name 'nope' in template; known names: env, item, user, vu, x"),
        ("{{ usr.name }}", "unknown name 'usr' in template; did you mean 'user'?"),
        ("{{ user.mail }}", "'user' has no field 'mail' in template; did you mean user.email?"),
        ("{{ random.integer(1, 2) }}", "unknown function 'random.integer'; did you mean 'random.int'?"),
        ("{{ random.int(1, 2, 3) }}", "random.int takes 0..2 arguments, got 3"),
        ("{{ random.choice() }}", "random.choice takes 1..any arguments, got 0"),
        ("{{ x | nope }}", "unknown filter 'nope'"),
        ("{{ x | default(1, 2) }}", "filter 'default' takes 0..1 arguments, got 2"),
        ("{{ }}", "empty {{ }} expression"),
        ("{{ x y }}", "unexpected 'y'"),
        ("{{ x[1.5] }}", "an index must be an integer or a quoted key"),
        ("{{ x # }}", "cannot read '#'"),
        ("a {{ x", "unclosed '{{'"),
    ],
)
def test_template_errors_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(TemplateError) as info:
        compile_template(text, NAMES)
    assert message in str(info.value)


def test_json_path_forms() -> None:
    doc = {"id": 1, "items": [{"id": 10, "tags": ["x"]}, {"id": 11, "tags": []}], "odd key": {"a": None}}
    assert compile_json_path("$").first(doc) == doc
    assert compile_json_path("$.id").first(doc) == 1
    assert compile_json_path("$.items[1].id").first(doc) == 11
    assert compile_json_path("$.items[-1].id").first(doc) == 11
    assert compile_json_path("$['odd key'].a").first(doc) is None  # present, null
    assert compile_json_path("$.items[*].id").value(doc) == [10, 11]
    assert compile_json_path("$.items.*.id").value(doc) == [10, 11]
    assert compile_json_path("$..id").find(doc) == [1, 10, 11]
    assert compile_json_path("$.items.length()").first(doc) == 2
    assert compile_json_path("$.items[0].tags.length()").first(doc) == 1
    missing = compile_json_path("$.items[5].id").first(doc)
    assert missing is compile_json_path("$.nope").first(doc)  # the same "missing" marker
    for bad in ("id", "$.", "$[", "$.a[b]"):
        with pytest.raises(TemplateError):
            compile_json_path(bad)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.from_regex(r"[a-z_][a-z0-9_]{0,5}", fullmatch=True), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(doc=json_values, seed=st.integers(0, 2**32))
def test_json_path_finds_every_value_by_the_route_to_it(doc: Any, seed: int) -> None:
    """Property: for any document and any route into it, the path built from the route finds that value."""
    rng = random.Random(seed)
    node, parts = doc, ["$"]
    while isinstance(node, dict | list) and node and rng.random() < 0.8:
        if isinstance(node, dict):
            key = rng.choice(sorted(node))
            parts.append(f".{key}" if rng.random() < 0.5 else f"['{key}']")
            node = node[key]
        else:
            i = rng.randrange(len(node))
            parts.append(f"[{i if rng.random() < 0.5 else i - len(node)}]")
            node = node[i]
    path = compile_json_path("".join(parts))
    assert path.first(doc) == node
    assert path.find(json.loads(json.dumps(doc))) == [node]


def test_data_files(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("name,age\nada,36\nalan,41\n")
    (tmp_path / "b.json").write_text('[{"sku": "A"}, {"sku": "B", "extra": 1}]')
    assert load_rows(tmp_path / "a.csv") == [{"name": "ada", "age": "36"}, {"name": "alan", "age": "41"}]
    shared = DataSource("b", load_rows(tmp_path / "b.json"))
    assert shared.columns == {"sku", "extra"}
    assert [shared.row_for(1)["sku"] for _ in range(5)] == ["A", "B", "A", "B", "A"]
    per_vu = DataSource("a", load_rows(tmp_path / "a.csv"), mode="per_vu")
    assert [per_vu.row_for(v)["name"] for v in (1, 2, 3, 1, 2)] == ["ada", "alan", "ada", "ada", "alan"]
    rnd = DataSource("a", load_rows(tmp_path / "a.csv"), mode="per_vu", order="random")
    assert all(rnd.row_for(5) is rnd.row_for(5) for _ in range(5))  # a VU keeps its random row
    (tmp_path / "empty.csv").write_text("name\n")
    (tmp_path / "ragged.csv").write_text("a\n1,2\n")
    (tmp_path / "obj.json").write_text('{"a": 1}')
    (tmp_path / "broken.json").write_text('[{"a": 1}')
    (tmp_path / "x.txt").write_text("a")
    for name, message in [
        ("empty.csv", "has no rows"),
        ("ragged.csv", "ragged.csv:2: more values than the 1 header columns"),
        ("obj.json", "must hold a JSON list of objects"),
        ("broken.json", "broken.json:1:10: invalid JSON"),
        ("x.txt", "expected a .csv or .json file"),
        ("absent.csv", "does not exist"),
    ]:
        with pytest.raises(TemplateError, match=re.escape(message)):
            load_rows(tmp_path / name)


def test_weighted_choice_matches_weights_within_tolerance() -> None:
    random.seed(1234)
    chooser = WeightedChoice(["create", "list", "update", "delete"], [40, 30, 20, 10])
    n = 20_000
    counts = {k: 0 for k in chooser.items}
    for _ in range(n):
        counts[chooser.pick()] += 1
    for key, w in zip(chooser.items, [0.4, 0.3, 0.2, 0.1], strict=True):
        sigma = (n * w * (1 - w)) ** 0.5
        assert abs(counts[key] - n * w) < 5 * sigma, counts
    zero = WeightedChoice(["never", "always"], [0, 1])
    assert {zero.pick() for _ in range(200)} == {"always"}
    for items, weights in ([], []), (["a"], [0]), (["a"], [-1]), (["a", "b"], [1]):
        with pytest.raises(TemplateError):
            WeightedChoice(items, weights)


def test_durations() -> None:
    assert parse_seconds("1m30s") == 90
    assert parse_seconds("500ms") == 0.5
    assert parse_seconds("1h") == 3600
    assert parse_seconds(2) == 2.0
    assert parse_seconds("2.5") == 2.5
    for bad in ("soon", "1x", "", "-1s", True, -1):
        with pytest.raises(TemplateError):
            parse_seconds(bad)
