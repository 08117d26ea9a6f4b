"""Acceptance scenario ids (`US1-AS2`) and the files that declare which ones they cover.

Every source of the traceability matrix (assay.plan.trace) writes ids the same way and is
checked by the same rule, so a mistyped id is a located error (exit 64) wherever it is:
- pytest tests: `@pytest.mark.scenario("US1-AS2")`;
- plan steps: `scenario: [US1-AS2]` (a string or a list);
- load scenario files, the same key: YAML `scenario: [US1-AS2]` at the top level, Python
  `scenario = ["US1-AS2"]` at module level, k6 JavaScript `export const scenario = ["US1-AS2"];`
  (not k6's `options.tags.scenario`: k6 tags every sample with its scenario's *name* under
  `scenario`, and thresholds such as `http_req_duration{scenario:crud}` select by it);
- Chaos Toolkit experiments: the id among the experiment's `tags` (free-form, so only tags
  that are ids count).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from assay.config import (
    ConfigError,
    ConfigIssue,
    key_positions,
    load_data,
    parse_data,
    read_text,
    validate_data,
)

ID_PATTERN = r"[A-Z][A-Z0-9]*\d+-[A-Z]+\d+"
SCENARIO_ID = re.compile(rf"\b({ID_PATTERN})\b")
_FULL = re.compile(rf"^{ID_PATTERN}$")
EXPECTED = "expected an acceptance scenario id such as US1-AS2"


def is_scenario_id(value: object) -> bool:
    return isinstance(value, str) and _FULL.match(value) is not None


def _checked(value: str) -> str:
    if not is_scenario_id(value):
        raise PydanticCustomError("scenario_id", EXPECTED)
    return value


ScenarioId = Annotated[str, AfterValidator(_checked)]
# what `scenario:` takes in plans and YAML load scenarios: a list of ids, or one id alone
_ID_SCHEMA = {"type": "string", "pattern": f"^{ID_PATTERN}$"}
ScenarioIds = Annotated[
    list[ScenarioId],
    BeforeValidator(lambda v: [v] if isinstance(v, str) else v),
    WithJsonSchema({"anyOf": [_ID_SCHEMA, {"type": "array", "items": _ID_SCHEMA}],
                    "description": "acceptance scenario ids such as US1-AS2: one, or a list"}),
]


def as_list(value: str | list[str] | None) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


class _Declared(BaseModel):
    scenario: ScenarioIds | None = None


def load_file_scenarios(path: Path) -> list[str]:
    """The ids a load scenario file says it covers (none: []), read without running it;
    ConfigError (located) for a declaration that is not ids."""
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        return _data_scenarios(path)
    if suffix == ".py":
        return _python_scenarios(path)
    if suffix in (".js", ".mjs"):
        return _js_scenarios(path)
    return []


def experiment_scenarios(path: Path) -> list[str]:
    """The ids among a Chaos Toolkit experiment's `tags`."""
    data = load_data(path)
    tags = data.get("tags") if isinstance(data, dict) else None
    return [t for t in tags if is_scenario_id(t)] if isinstance(tags, list) else []


def _data_scenarios(path: Path) -> list[str]:
    text = read_text(path)
    data = parse_data(text, source=str(path), fmt="yaml")
    if not isinstance(data, dict) or "scenario" not in data:
        return []
    declared = validate_data({"scenario": data["scenario"]}, _Declared, source=str(path), positions=key_positions(text, "yaml"))
    return as_list(declared.scenario)


def _python_scenarios(path: Path) -> list[str]:
    source = str(path)
    try:
        tree = ast.parse(read_text(path), filename=source)
    except SyntaxError as exc:
        raise ConfigError([ConfigIssue(source, exc.lineno, exc.offset, (), f"not valid Python: {exc.msg}")]) from None
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        if not any(isinstance(t, ast.Name) and t.id == "scenario" for t in targets):
            continue
        items = value.elts if isinstance(value, ast.List | ast.Tuple) else [value]
        issues = [ConfigIssue(source, item.lineno, item.col_offset + 1, ("scenario",),
                              f"{EXPECTED} (a string literal), got {ast.unparse(item)[:60]}")
                  for item in items if not (isinstance(item, ast.Constant) and is_scenario_id(item.value))]
        if issues:
            raise ConfigError(issues)
        return [item.value for item in items if isinstance(item, ast.Constant) and isinstance(item.value, str)]
    return []


_JS_EXPORT = re.compile(r"^[ \t]*export[ \t]+(?:const|let|var)[ \t]+scenario[ \t]*=[ \t]*", re.MULTILINE)
_JS_STRING = re.compile(r"""\s*(?:"([^"\\\n]*)"|'([^'\\\n]*)'|`([^`\\$]*)`)\s*(,)?""")


def _js_scenarios(path: Path) -> list[str]:
    """`export const scenario = "US1-AS2"` or `= ["US1-AS2", 'US1-AS3']`: string literals only,
    read from the text (k6 itself ignores an export that is not a function)."""
    source = str(path)
    text = read_text(path)
    m = _JS_EXPORT.search(text)
    if m is None:
        return []
    pos = m.end()

    def at(offset: int) -> tuple[int, int]:
        line = text.count("\n", 0, offset) + 1
        return line, offset - (text.rfind("\n", 0, offset) + 1) + 1

    def bad(offset: int, what: str) -> ConfigError:
        line, col = at(offset)
        return ConfigError([ConfigIssue(source, line, col, ("scenario",), what)])

    def skip(offset: int) -> int:
        return len(text) - len(text[offset:].lstrip())

    bracket = text.startswith("[", pos)
    pos += bracket
    ids: list[str] = []
    while not (bracket and text.startswith("]", skip(pos))):  # `]` ends the array (after a trailing comma too)
        s = _JS_STRING.match(text, pos)
        if s is None:
            raise bad(skip(pos), f"{EXPECTED}: a string literal or an array of string literals")
        value = next(g for g in s.groups()[:3] if g is not None)
        if not is_scenario_id(value):
            raise bad(skip(pos), f"{EXPECTED}, got {value!r}")
        ids.append(value)
        pos = s.end()
        if not bracket:
            break
        if s.group(4) is None and not text.startswith("]", skip(pos)):
            raise bad(skip(pos), f"{EXPECTED}: an array of string literals, closed by ]")
    return ids


__all__ = ["EXPECTED", "ID_PATTERN", "SCENARIO_ID", "ScenarioId", "ScenarioIds", "as_list",
           "experiment_scenarios", "is_scenario_id", "load_file_scenarios"]
