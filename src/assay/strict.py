"""JSON and YAML from files nobody vetted, parsed so they cannot crash a reader or lie to it.

The standard parsers accept what later code cannot survive or silently misreads: `NaN`,
`1e999` (infinity), 5,000-digit integers, nesting deep enough to exhaust the stack, a
duplicated key (the last one wins, so a second `"schema"` turns an assay result into a
k6 summary), and YAML aliases nested so a 400-byte file expands to billions of nodes.
Each of these is refused here with the file, line and column, as a `ConfigError` (exit 64).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Any

import yaml

MAX_DEPTH = 100  # no config or result file nests deeper than ~10
MAX_INT_DIGITS = 30  # counts and sizes fit in 20 digits
MAX_YAML_NODES = 1_000_000  # nodes after alias expansion

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


class StrictError(ValueError):
    """One problem at (line, column) of the text (1-based; None when unknown)."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


def position(text: str, offset: int) -> tuple[int, int]:
    """1-based (line, column) of a character offset."""
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


# --- JSON ------------------------------------------------------------------------------------------


class _Refused(Exception):
    def __init__(self, message: str, literal: str | None = None, key: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.literal = literal
        self.key = key


def _constant(name: str) -> Any:
    raise _Refused(f"{name} is not a number JSON allows", literal=name)


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"{text} is out of range (not a finite number)", literal=text)
    return value


def _int(text: str) -> int:
    if len(text) - (text[0] == "-") > MAX_INT_DIGITS:
        raise _Refused(f"an integer of {len(text)} digits (at most {MAX_INT_DIGITS})", literal=text[:20])
    return int(text)


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Refused(f"duplicate key {key!r}", key=key)
            seen.add(key)
    return out


def check_depth(text: str, limit: int = MAX_DEPTH) -> None:
    """StrictError at the first bracket nested deeper than `limit` (strings are skipped)."""
    if text.count("[") + text.count("{") <= limit:
        return
    # blank out strings, keeping offsets, so brackets inside them do not count
    blanked = _STRING.sub(lambda m: " " * len(m.group()), text)
    depth = 0
    for m in _BRACKET.finditer(blanked):
        if m.group() in "[{":
            depth += 1
            if depth > limit:
                raise StrictError(f"nested deeper than {limit} levels", *position(text, m.start()))
        else:
            depth -= 1


def loads(text: str) -> Any:
    """`json.loads` that refuses NaN, infinities, huge integers, deep nesting and duplicate keys.

    Raises StrictError with the position (line, column) in `text`; syntax errors come as
    json.JSONDecodeError, as from json.loads."""
    check_depth(text)
    try:
        return json.loads(text, parse_constant=_constant, parse_float=_float, parse_int=_int, object_pairs_hook=_object)
    except _Refused as exc:
        if exc.key is not None:
            raise _duplicate_error(text, exc.key) from None
        line = column = None
        if exc.literal is not None:
            at = _find_literal(text, exc.literal)
            if at >= 0:
                line, column = position(text, at)
        raise StrictError(exc.message, line, column) from None
    except RecursionError:
        raise StrictError(f"nested deeper than {MAX_DEPTH} levels") from None


def _find_literal(text: str, literal: str) -> int:
    """Offset of `literal` as a bare token (not inside a string), or -1."""
    blanked = _STRING.sub(lambda m: " " * len(m.group()), text)
    m = re.search(r"(?<![\w.])" + re.escape(literal), blanked)
    return m.start() if m else -1


def _duplicate_error(text: str, key: str) -> StrictError:
    """Name both places of a duplicated key: the YAML composer knows where JSON keys are."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except (yaml.YAMLError, RecursionError):
        node = None
    if node is not None:
        found = _yaml_duplicate(node, only=key)
        if found is not None:
            return found
    hits = [m.start() for m in re.finditer(re.escape(json.dumps(key)) + r"\s*:", text)]
    if len(hits) >= 2:
        first, second = position(text, hits[0]), position(text, hits[1])
        return StrictError(f"duplicate key {key!r} (first at line {first[0]}, column {first[1]})", *second)
    return StrictError(f"duplicate key {key!r}")


# --- YAML ------------------------------------------------------------------------------------------


def yaml_load(text: str) -> Any:
    """`yaml.safe_load` that refuses alias bombs, duplicate keys and deep nesting before building anything."""
    return next(_documents(text, single=True), None)


def yaml_load_all(text: str) -> list[Any]:
    """Every document of a multi-document YAML stream (`---` separated), each checked as `yaml_load` checks one."""
    return list(_documents(text, single=False))


def _documents(text: str, *, single: bool) -> Iterator[Any]:
    loader = yaml.SafeLoader(text)
    try:
        while single or loader.check_node():
            try:
                node = loader.get_single_node() if single else loader.get_node()
            except RecursionError:
                raise StrictError(f"nested deeper than {MAX_DEPTH} levels") from None
            if node is None:
                return
            check_yaml_node(node)
            yield loader.construct_document(node)
            if single:
                return
    finally:
        loader.dispose()


def check_yaml_node(root: yaml.Node) -> None:
    """Refuse a composed document whose aliases expand past MAX_YAML_NODES, that nests deeper
    than MAX_DEPTH, or has a mapping with a repeated key."""
    duplicate = _yaml_duplicate(root)
    if duplicate is not None:
        raise duplicate
    sizes: dict[int, int] = {}
    # iterative post-order: (node, depth, children done)
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, done = stack.pop()
        if id(node) in sizes:
            continue
        kids = _children(node)
        if not done:
            if depth > MAX_DEPTH:
                raise StrictError(f"nested deeper than {MAX_DEPTH} levels", node.start_mark.line + 1, node.start_mark.column + 1)
            stack.append((node, depth, True))
            stack.extend((k, depth + 1, False) for k in kids if id(k) not in sizes)
            continue
        size = 1 + sum(sizes.get(id(k), 1) for k in kids)
        if size > MAX_YAML_NODES:
            raise StrictError(
                f"aliases expand to more than {MAX_YAML_NODES} nodes (a YAML alias bomb?)",
                node.start_mark.line + 1,
                node.start_mark.column + 1,
            )
        sizes[id(node)] = size


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _yaml_duplicate(root: yaml.Node, only: str | None = None) -> StrictError | None:
    seen_nodes: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[str, yaml.Node] = {}
            for key_node, _ in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.value == "<<":
                    continue
                key = key_node.value
                if key in first and (only is None or key == only):
                    a = first[key].start_mark
                    b = key_node.start_mark
                    return StrictError(f"duplicate key {key!r} (first at line {a.line + 1}, column {a.column + 1})", b.line + 1, b.column + 1)
                first.setdefault(key, key_node)
        stack.extend(_children(node))
    return None
