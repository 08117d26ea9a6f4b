"""Load YAML, JSON or TOML files into pydantic models with errors people can act on.

Every user-written file (scenarios, SLOs, plans, experiments, proxies) goes through
here, so every mistake is reported the same way: file, line, column, key path, what
was expected, and the closest known key for a typo. Never a raw traceback.
"""

from __future__ import annotations

import difflib
import json
import re
import tomllib
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from assay import strict
from assay.errors import UsageError

M = TypeVar("M", bound=BaseModel)
Format = Literal["yaml", "json", "toml"]
KeyPath = tuple[str | int, ...]

_SUFFIXES: dict[str, Format] = {".yaml": "yaml", ".yml": "yaml", ".json": "json", ".toml": "toml"}


class StrictModel(BaseModel):
    """Base for config models: unknown keys are errors (with a suggestion), not silently ignored."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


@dataclass(frozen=True)
class ConfigIssue:
    source: str
    line: int | None
    column: int | None
    path: KeyPath
    message: str

    def render(self) -> str:
        where = self.source
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        key = format_key_path(self.path)
        return f"{where}: {key + ': ' if key else ''}{self.message}"


class ConfigError(UsageError):
    """A config file is wrong; the message lists each problem on its own located line."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = issues
        shown = [i.render() for i in issues[:10]]
        if len(issues) > 10:
            shown.append(f"... and {len(issues) - 10} more problems")
        super().__init__("\n".join(shown))


def format_key_path(path: KeyPath) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def detect_format(path: Path) -> Format:
    fmt = _SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise UsageError(f"{path}: unknown config format {path.suffix!r}; expected .yaml, .yml, .json or .toml")
    return fmt


def read_text(path: str | Path) -> str:
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{p}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{p}: is a directory, expected a file") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"{p}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise UsageError(f"{p}: cannot read ({exc.strerror})") from None


def load_config(path: str | Path, model: type[M], *, fmt: Format | None = None) -> M:
    """Read `path` (format from its suffix unless given) and validate it as `model`."""
    p = Path(path)
    return parse_config(read_text(p), model, source=str(p), fmt=fmt or detect_format(p))


def load_data(path: str | Path, *, fmt: Format | None = None) -> Any:
    """Parse a config file into plain data (dicts and lists), with located syntax errors."""
    p = Path(path)
    return parse_data(read_text(p), source=str(p), fmt=fmt or detect_format(p))


def parse_data(text: str, *, source: str = "<config>", fmt: Format = "yaml") -> Any:
    if fmt == "json":
        try:
            return strict.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError([ConfigIssue(source, exc.lineno, exc.colno, (), f"invalid JSON: {exc.msg}")]) from None
        except strict.StrictError as exc:
            raise ConfigError([ConfigIssue(source, exc.line, exc.column, (), f"invalid JSON: {exc.message}")]) from None
    if fmt == "toml":
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            line, col, msg = _toml_position(str(exc))
            raise ConfigError([ConfigIssue(source, line, col, (), f"invalid TOML: {msg}")]) from None
    try:
        return strict.yaml_load(text)
    except strict.StrictError as exc:
        raise ConfigError([ConfigIssue(source, exc.line, exc.column, (), f"invalid YAML: {exc.message}")]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([yaml_issue(exc, source)]) from None


def yaml_issue(exc: yaml.YAMLError, source: str) -> ConfigIssue:
    """A YAML syntax error as a located issue (the parser's mark of the problem)."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    line = mark.line + 1 if mark is not None else None
    col = mark.column + 1 if mark is not None else None
    return ConfigIssue(source, line, col, (), f"invalid YAML: {problem}")


def parse_config(text: str, model: type[M], *, source: str = "<config>", fmt: Format = "yaml") -> M:
    data = parse_data(text, source=source, fmt=fmt)
    if data is None:
        data = {}
    return validate_data(data, model, source=source, positions=key_positions(text, fmt))


def validate_data(
    data: Any,
    model: type[M],
    *,
    source: str = "<config>",
    positions: dict[KeyPath, tuple[int, int]] | None = None,
) -> M:
    """Validate already-parsed data, turning pydantic's errors into located ConfigIssues."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_issues_from(exc, model, source, positions or {})) from None


# --- positions --------------------------------------------------------------------------------


def key_positions(text: str, fmt: Format) -> dict[KeyPath, tuple[int, int]]:
    """Map each key path to the (line, column) where its key (or list item) starts."""
    if fmt == "toml":
        return _toml_positions(text)
    try:
        node = yaml.compose(text)  # JSON is (close enough to) YAML for positions
    except yaml.YAMLError:
        return {}
    except RecursionError:
        return {}
    out: dict[KeyPath, tuple[int, int]] = {}
    if node is not None:
        _walk(node, (), out, set())
    return out


def _walk(node: yaml.Node, path: KeyPath, out: dict[KeyPath, tuple[int, int]], seen: set[int]) -> None:
    # each node once: an aliased node is not walked again under every alias (an alias bomb
    # would otherwise expand here); nor past the nesting the parsers accept
    if id(node) in seen or len(path) > strict.MAX_DEPTH:
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            sub = (*path, key)
            out.setdefault(sub, (key_node.start_mark.line + 1, key_node.start_mark.column + 1))
            _walk(value_node, sub, out, seen)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            sub = (*path, i)
            out[sub] = (item.start_mark.line + 1, item.start_mark.column + 1)
            _walk(item, sub, out, seen)


_TOML_KEY = re.compile(r"^\s*([A-Za-z0-9_\-\"'.]+)\s*=")
_TOML_TABLE = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?")


def _toml_positions(text: str) -> dict[KeyPath, tuple[int, int]]:
    """Best-effort positions for TOML (tables and keys; array-of-tables indexes counted)."""
    out: dict[KeyPath, tuple[int, int]] = {}
    table: KeyPath = ()
    counts: dict[KeyPath, int] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        if m := _TOML_TABLE.match(line):
            parts: KeyPath = tuple(p.strip().strip("\"'") for p in m.group(1).split("."))
            if line.lstrip().startswith("[["):
                idx = counts.get(parts, 0)
                counts[parts] = idx + 1
                table = (*parts, idx)
            else:
                table = parts
            out.setdefault(table, (lineno, 1))
        elif m := _TOML_KEY.match(line):
            parts = tuple(p.strip().strip("\"'") for p in m.group(1).split("."))
            out.setdefault((*table, *parts), (lineno, line.index(m.group(1)[0]) + 1))
    return out


def _toml_position(message: str) -> tuple[int | None, int | None, str]:
    m = re.search(r"\(at line (\d+), column (\d+)\)", message)
    if not m:
        return None, None, message
    return int(m.group(1)), int(m.group(2)), message[: m.start()].strip()


# --- messages ---------------------------------------------------------------------------------


def _issues_from(
    exc: ValidationError, model: type[BaseModel], source: str, positions: dict[KeyPath, tuple[int, int]]
) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    seen: set[tuple[KeyPath, str]] = set()
    for err in exc.errors(include_url=False):
        path = _data_path(err["loc"])
        message = _message(err, model, path)
        if (path, message) in seen:
            continue
        seen.add((path, message))
        line, col = _nearest_position(path, positions)
        issues.append(ConfigIssue(source, line, col, path, message))
    return issues


def _data_path(loc: tuple[Any, ...]) -> KeyPath:
    """Drop pydantic's union/tag markers (e.g. 'function-after[...]', model names) from a location."""
    out: list[str | int] = []
    for part in loc:
        if isinstance(part, int):
            out.append(part)
        elif isinstance(part, str) and ("[" in part and "]" in part or part[:1].isupper()):
            continue
        else:
            out.append(part)
    return tuple(out)


def _nearest_position(
    path: KeyPath, positions: dict[KeyPath, tuple[int, int]]
) -> tuple[int | None, int | None]:
    for n in range(len(path), -1, -1):
        if path[:n] in positions:
            return positions[path[:n]]
    return None, None


def _message(err: Any, model: type[BaseModel], path: KeyPath) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        key = str(path[-1]) if path else "?"
        # a discriminated union tagged with its member's class name: that member's keys
        tags = [p for p in err["loc"] if isinstance(p, str) and p[:1].isupper() and "[" not in p]
        known = allowed_keys(model, path[:-1], prefer=tags[-1] if tags else None)
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else (f"; known keys: {', '.join(known)}" if known else "")
        return f"unknown key {key!r}{hint}"
    if kind == "missing":
        return "required key is missing"
    got = err.get("input")
    shown = _short(got)
    msg = err["msg"]
    if kind in {"literal_error", "enum"}:
        return f"{msg[0].lower() + msg[1:]}, got {shown}"
    if kind.endswith("_type") or kind.endswith("_parsing"):
        return f"expected {_expected(kind)}, got {shown}"
    return f"{msg[0].lower() + msg[1:]} (got {shown})" if got is not None and not isinstance(got, dict) else msg


def _expected(kind: str) -> str:
    base = kind.removesuffix("_type").removesuffix("_parsing")
    return {
        "int": "an integer",
        "float": "a number",
        "string": "a string",
        "bool": "true or false",
        "list": "a list",
        "dict": "a mapping",
        "model": "a mapping",
        "model_attributes": "a mapping",
        "url": "a URL",
    }.get(base, base.replace("_", " "))


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def allowed_keys(model: type[BaseModel], path: KeyPath, *, prefer: str | None = None) -> list[str]:
    """The keys a model accepts at `path` (walking nested models, lists and dicts); in a union, the
    member named `prefer` if there is one, else the first."""
    current: Any = model
    for part in path:
        current = _descend(current, part)
        if current is None:
            return []
    names = (_model_named(current, prefer) if prefer else None) or _model_of(current)
    if names is None:
        return []
    keys: list[str] = []
    for name, field in names.model_fields.items():
        keys.append(field.alias or name)
    return keys


def _model_named(tp: Any, name: str) -> type[BaseModel] | None:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp if tp.__name__ == name else None
    for arg in typing.get_args(tp):
        found = _model_named(arg, name)
        if found is not None:
            return found
    return None


def _model_of(tp: Any) -> type[BaseModel] | None:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp
    for arg in typing.get_args(tp):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def _descend(tp: Any, part: str | int) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            found = _descend(arg, part)
            if found is not None:
                return found
        return None
    if origin is typing.Annotated:
        return _descend(typing.get_args(tp)[0], part)
    if isinstance(part, int):
        if origin in (list, tuple, set, frozenset):
            args = typing.get_args(tp)
            return args[0] if args else None
        return None
    if origin is dict:
        args = typing.get_args(tp)
        return args[1] if len(args) == 2 else None
    model = _model_of(tp)
    if model is None:
        return None
    for name, field in model.model_fields.items():
        if part in (name, field.alias):
            return field.annotation
    return None
