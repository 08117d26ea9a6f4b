"""A small JSONPath evaluator for jsonpath tolerances: `$`, `.key`, `['key']`, `[n]`, `[*]`, `..key`,
and filters `[?(@.key OP value)]`. Enough for what Chaos Toolkit experiments write."""

from __future__ import annotations

import json
import re
from typing import Any

_TOKEN = re.compile(
    r"\.\.(?P<deep>[A-Za-z_][\w\-]*|\*)"
    r"|\.(?P<key>[A-Za-z_][\w\-]*|\*)"
    r"|\[(?P<bracket>[^\]]*)\]"
)
_FILTER = re.compile(r"^\?\(?\s*@\.?(?P<key>[\w\-.]*)\s*(?:(?P<op>==|!=|<=|>=|<|>|=)\s*(?P<val>.+?))?\s*\)?$")


class JsonPathError(ValueError):
    pass


def parse(path: str) -> list[tuple[str, Any]]:
    path = path.strip()
    if not path.startswith("$"):
        raise JsonPathError(f"a JSONPath starts with '$': {path!r}")
    steps: list[tuple[str, Any]] = []
    pos = 1
    while pos < len(path):
        m = _TOKEN.match(path, pos)
        if not m:
            raise JsonPathError(f"cannot read JSONPath {path!r} at character {pos + 1}")
        pos = m.end()
        if m.group("deep"):
            steps.append(("deep", m.group("deep")))
        elif m.group("key"):
            steps.append(("key", m.group("key")))
        else:
            steps.append(_bracket(m.group("bracket").strip(), path))
    return steps


def _bracket(body: str, path: str) -> tuple[str, Any]:
    if body == "*":
        return ("key", "*")
    if re.fullmatch(r"-?\d+", body):
        return ("index", int(body))
    if len(body) >= 2 and body[0] == body[-1] and body[0] in "'\"":
        return ("key", body[1:-1])
    f = _FILTER.match(body)
    if f:
        val: Any = None
        if f.group("val") is not None:
            raw = f.group("val").strip()
            if raw[:1] in "'\"":
                val = raw[1:-1]
            else:
                try:
                    val = json.loads(raw)
                except ValueError:
                    val = raw
        return ("filter", (f.group("key"), f.group("op"), val))
    raise JsonPathError(f"unsupported JSONPath selector [{body}] in {path!r}")


def _children(node: Any) -> list[Any]:
    if isinstance(node, dict):
        return list(node.values())
    if isinstance(node, list):
        return list(node)
    return []


def _get(node: Any, dotted: str) -> tuple[bool, Any]:
    for part in [p for p in dotted.split(".") if p]:
        if isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return False, None
    return True, node


def _compare(op: str | None, left: Any, right: Any) -> bool:
    try:
        if op in ("==", "="):
            return bool(left == right)
        if op == "!=":
            return bool(left != right)
        if op == "<":
            return bool(left < right)
        if op == "<=":
            return bool(left <= right)
        if op == ">":
            return bool(left > right)
        if op == ">=":
            return bool(left >= right)
    except TypeError:
        return False
    return True


def find(path: str, document: Any) -> list[Any]:
    """Every value `path` selects in `document`, in document order."""
    nodes = [document]
    for kind, arg in parse(path):
        out: list[Any] = []
        for node in nodes:
            if kind == "key":
                if arg == "*":
                    out.extend(_children(node))
                elif isinstance(node, dict) and arg in node:
                    out.append(node[arg])
            elif kind == "index":
                if isinstance(node, list) and -len(node) <= arg < len(node):
                    out.append(node[arg])
            elif kind == "deep":
                out.extend(_descend(node, arg))
            else:
                key, op, val = arg
                for child in _children(node):
                    found, got = _get(child, key)
                    if found and _compare(op, got, val):
                        out.append(child)
        nodes = out
    return nodes


def _descend(node: Any, key: str) -> list[Any]:
    out: list[Any] = []
    if isinstance(node, dict):
        if key == "*":
            out.extend(node.values())
        elif key in node:
            out.append(node[key])
    elif isinstance(node, list) and key == "*":
        out.extend(node)
    for child in _children(node):
        out.extend(_descend(child, key))
    return out
