"""JSON paths (`$.items[0].id`, `items.0.id`) for captures, checks and the delivery ledger.

A path is compiled once; at run time it walks the parsed body without parsing the path again.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from assay.load.yaml.template import MISSING, TemplateError, unquote

_JP_TOKEN = re.compile(
    r"""
      \.\.(?P<deep>[A-Za-z_][\w-]*|\*)
    | \.(?P<fn>length)\(\)
    | \.(?P<key>[A-Za-z_$][\w$-]*|\*)
    | \[\s*(?P<idx>-?\d+)\s*\]
    | \[\s*(?P<star>\*)\s*\]
    | \[\s*(?P<qkey>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")\s*\]
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class JsonPath:
    """A compiled JSONPath subset: `$`, `.key`, `['key']`, `[n]` (negative ok), `[*]`, `.*`, `..key`, `.length()`.

    `find` returns every match; `first` the first match or MISSING. A path with a
    wildcard or recursive step is `multi`: captures then hold the list of matches.
    """

    source: str
    steps: tuple[tuple[str, Any], ...]
    multi: bool

    def find(self, doc: Any) -> list[Any]:
        current = [doc]
        for kind, arg in self.steps:
            nxt: list[Any] = []
            for node in current:
                if kind == "key":
                    if isinstance(node, dict) and arg in node:
                        nxt.append(node[arg])
                elif kind == "idx":
                    if isinstance(node, list) and -len(node) <= arg < len(node):
                        nxt.append(node[arg])
                elif kind == "star":
                    if isinstance(node, dict):
                        nxt.extend(node.values())
                    elif isinstance(node, list):
                        nxt.extend(node)
                elif kind == "deep":
                    _descend(node, arg, nxt)
                elif kind == "length":
                    if isinstance(node, list | dict | str):
                        nxt.append(len(node))
            current = nxt
            if not current:
                return []
        return current

    def first(self, doc: Any) -> Any:
        if not self.multi:
            node = doc
            for kind, arg in self.steps:
                if kind == "key":
                    if not isinstance(node, dict) or arg not in node:
                        return MISSING
                    node = node[arg]
                elif kind == "idx":
                    if not isinstance(node, list) or not -len(node) <= arg < len(node):
                        return MISSING
                    node = node[arg]
                else:  # length
                    if not isinstance(node, list | dict | str):
                        return MISSING
                    node = len(node)
            return node
        found = self.find(doc)
        return found[0] if found else MISSING

    def value(self, doc: Any) -> Any:
        """What a capture stores: the single match, or the list of matches for a multi path."""
        if self.multi:
            found = self.find(doc)
            return found if found else MISSING
        return self.first(doc)


def _descend(node: Any, key: str, out: list[Any]) -> None:
    if isinstance(node, dict):
        for k, v in node.items():
            if key == "*" or k == key:
                out.append(v)
            _descend(v, key, out)
    elif isinstance(node, list):
        for v in node:
            if key == "*":
                out.append(v)
            _descend(v, key, out)


def compile_json_path(text: str, *, dotted: bool = False) -> JsonPath:
    """Compile a JSONPath (`$.items[0].id`); with `dotted`, k6's `res.json()` selector form
    (`items.0.id`, `items.#` for the length) is read as the same path."""
    src = text.strip()
    if dotted and not src.startswith("$"):
        src = _dotted_to_json_path(src)
    if not src.startswith("$"):
        raise TemplateError(f"a JSON path starts with '$', e.g. '$.id' or '$.items[0].id', got {text!r}")
    pos = 1
    steps: list[tuple[str, Any]] = []
    multi = False
    while pos < len(src):
        m = _JP_TOKEN.match(src, pos)
        if m is None:
            raise TemplateError(f"cannot read JSON path {text!r} at {src[pos:]!r}")
        if m.group("deep") is not None:
            steps.append(("deep", m.group("deep")))
            multi = True
        elif m.group("key") is not None:
            if m.group("key") == "*":
                steps.append(("star", None))
                multi = True
            else:
                steps.append(("key", m.group("key")))
        elif m.group("idx") is not None:
            steps.append(("idx", int(m.group("idx"))))
        elif m.group("star") is not None:
            steps.append(("star", None))
            multi = True
        elif m.group("qkey") is not None:
            steps.append(("key", unquote(m.group("qkey"))))
        else:
            steps.append(("length", None))
        pos = m.end()
    return JsonPath(src, tuple(steps), multi)


def _dotted_to_json_path(text: str) -> str:
    parts: list[str] = []
    for part in text.split("."):
        if part == "#":
            parts.append(".length()")
        elif part.lstrip("-").isdigit():
            parts.append(f"[{part}]")
        elif part == "*" or re.fullmatch(r"[A-Za-z_$][\w$-]*", part):
            parts.append(f".{part}")
        else:
            parts.append("[" + json.dumps(part) + "]")
    return "$" + "".join(parts)
