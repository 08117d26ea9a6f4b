"""Templates, JSON paths, data files, captures, checks and weighted choice for YAML scenarios.

Everything here is compiled once, when the scenario file is loaded, into small closures:
a constant URL stays a constant string, a constant JSON body stays pre-encoded bytes, and
a typo in a variable name is an error before any traffic rather than a thousand failed
requests. At run time a template is a function of one dict, the iteration's scope.

Template syntax, inside any string of a request (URL, header, body, check value):

    {{ name }}                       a variable, a capture, or a data row (`{{ users.email }}`)
    {{ item.tags[0] }}               dotted paths and indexes into captured JSON
    {{ vu.id }} {{ vu.iteration }}   the VU (any attribute of the VU object)
    {{ env.BASE_URL }}               environment variables
    {{ random.int(1, 100) }}         random data: int, float, uuid, string, hex, digits,
                                     choice, bool, email, name
    {{ time.ms }} {{ time.iso }}     clock: ms, s, iso
    {{ payload.of('64KiB') }}        a fixed-size payload carrying its digest (assay.load.payload)
    {{ name | urlencode }}           filters: urlencode, json, upper, lower, str, int,
                                     float, base64, length, default('x')

A string that is exactly one `{{ ... }}` keeps the value's type inside JSON bodies
(`{"count": "{{ random.int(1, 9) }}"}` sends a number).
"""

from __future__ import annotations

import base64
import bisect
import csv
import json
import random as _random
import re
import string as _string
import time as _time
import urllib.parse
import uuid as _uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from difflib import get_close_matches
from itertools import accumulate
from pathlib import Path
from typing import Any

from assay.load.durations import parse_duration

Scope = dict[str, Any]
Render = Callable[[Scope], Any]

_MISSING: Any = object()


class TemplateError(ValueError):
    """A template, JSON path, check or data file is wrong; the compiler adds the location."""


# --- names known at compile time -------------------------------------------------------------------


@dataclass
class Names:
    """The names a template may use at one point of a flow, for errors before any traffic.

    `fields` maps a root name to the keys it is known to have (data file columns), or
    None when anything goes (captures, variables holding JSON, the VU, env).
    """

    fields: dict[str, set[str] | None] = field(default_factory=dict)

    def with_names(self, extra: Mapping[str, set[str] | None]) -> Names:
        return Names({**self.fields, **extra})

    def check(self, path: Sequence[str | int], where: str) -> None:
        root = path[0]
        assert isinstance(root, str)
        if root not in self.fields:
            known = sorted(self.fields)
            close = get_close_matches(root, known, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else (f"; known names: {', '.join(known)}" if known else "")
            raise TemplateError(f"unknown name {root!r} in {where}{hint}")
        keys = self.fields[root]
        if keys is not None and len(path) > 1 and isinstance(path[1], str) and path[1] not in keys:
            close = get_close_matches(path[1], sorted(keys), n=1, cutoff=0.6)
            hint = f"; did you mean {root}.{close[0]}?" if close else f"; it has: {', '.join(sorted(keys))}"
            raise TemplateError(f"{root!r} has no field {path[1]!r} in {where}{hint}")


# --- built-in functions and filters --------------------------------------------------------------------

_ALNUM = _string.ascii_letters + _string.digits
_FIRST = ["ada", "alan", "grace", "linus", "barbara", "ken", "margaret", "dennis", "radia", "edsger"]
_LAST = ["lovelace", "turing", "hopper", "torvalds", "liskov", "thompson", "hamilton", "ritchie", "perlman"]


def _rand_string(n: int = 10) -> str:
    return "".join(_random.choices(_ALNUM, k=int(n)))


def _rand_hex(n: int = 16) -> str:
    return "".join(_random.choices("0123456789abcdef", k=int(n)))


def _rand_digits(n: int = 6) -> str:
    return "".join(_random.choices(_string.digits, k=int(n)))


def _rand_email(domain: str = "example.com") -> str:
    return f"{_rand_string(12).lower()}@{domain}"


def _rand_name() -> str:
    return f"{_random.choice(_FIRST).title()} {_random.choice(_LAST).title()}"


def _payload_of(size: Any) -> str:
    """`{{ payload.of('64KiB') }}`: a fixed-size payload carrying its digest (assay.load.payload)."""
    from assay.load.payload import parse_payload_size, payload

    try:
        return payload(parse_payload_size(size if isinstance(size, int) else str(size)))
    except ValueError as exc:
        raise TemplateError(str(exc)) from None


def _rand_choice(*options: Any) -> Any:
    if not options:
        raise TemplateError("random.choice needs at least one option")
    return _random.choice(options)


# name -> (function, min args, max args); max None means any number
FUNCTIONS: dict[str, tuple[Callable[..., Any], int, int | None]] = {
    "random.int": (lambda a=0, b=1_000_000: _random.randint(int(a), int(b)), 0, 2),
    "random.float": (lambda a=0.0, b=1.0: _random.uniform(float(a), float(b)), 0, 2),
    "random.uuid": (lambda: str(_uuid.uuid4()), 0, 0),
    "random.string": (_rand_string, 0, 1),
    "random.hex": (_rand_hex, 0, 1),
    "random.digits": (_rand_digits, 0, 1),
    "random.choice": (_rand_choice, 1, None),
    "random.bool": (lambda: _random.random() < 0.5, 0, 0),
    "random.email": (_rand_email, 0, 1),
    "random.name": (_rand_name, 0, 0),
    "time.ms": (lambda: int(_time.time() * 1000), 0, 0),
    "time.s": (lambda: int(_time.time()), 0, 0),
    "time.iso": (lambda: datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"), 0, 0),
    "payload.of": (_payload_of, 1, 1),
}
FUNCTION_ROOTS = {name.split(".")[0] for name in FUNCTIONS}


def _to_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _default(value: Any, fallback: Any = "") -> Any:
    return fallback if value is None or value == "" else value


FILTERS: dict[str, tuple[Callable[..., Any], int, int]] = {
    "urlencode": (lambda v: urllib.parse.quote(_to_text(v), safe=""), 0, 0),
    "json": (lambda v: json.dumps(v, separators=(",", ":")), 0, 0),
    "upper": (lambda v: _to_text(v).upper(), 0, 0),
    "lower": (lambda v: _to_text(v).lower(), 0, 0),
    "str": (_to_text, 0, 0),
    "int": (lambda v: int(float(v)) if isinstance(v, str) else int(v), 0, 0),
    "float": (float, 0, 0),
    "base64": (lambda v: base64.b64encode(_to_text(v).encode()).decode("ascii"), 0, 0),
    "length": (len, 0, 0),
    "default": (_default, 0, 1),
}


# --- expression parser -----------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<num>-?\d+(?:\.\d+)?)
      | (?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<op>[.\[\](),|])
    )""",
    re.VERBOSE,
)


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise TemplateError(f"cannot read {text[pos:].strip()!r} in expression {text.strip()!r}")
        kind = m.lastgroup
        assert kind is not None
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, text: str, names: Names, where: str) -> None:
        self.text = text.strip()
        self.toks = _tokens(text)
        self.i = 0
        self.names = names
        self.where = where
        self.roots: set[str] = set()

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, value: str | None = None, kind: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok is None or (value is not None and tok[1] != value) or (kind is not None and tok[0] != kind):
            want = repr(value) if value else (kind or "more")
            got = repr(tok[1]) if tok else "the end"
            raise TemplateError(f"expected {want} but found {got} in {{{{ {self.text} }}}}")
        self.i += 1
        return tok

    def parse(self) -> tuple[Render, Any]:
        """The expression's render function, and its constant value (or _MISSING)."""
        if not self.toks:
            raise TemplateError("empty {{ }} expression")
        fn, const = self.primary()
        while self.peek() == ("op", "|"):
            self.take("|")
            fname = self.take(kind="name")[1]
            if fname not in FILTERS:
                close = get_close_matches(fname, list(FILTERS), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else f"; filters: {', '.join(FILTERS)}"
                raise TemplateError(f"unknown filter {fname!r}{hint}")
            ffn, lo, hi = FILTERS[fname]
            args = self.args() if self.peek() == ("op", "(") else []
            if not lo <= len(args) <= hi:
                raise TemplateError(f"filter {fname!r} takes {lo}..{hi} arguments, got {len(args)}")
            fn, const = _apply(ffn, fn, const, args)
        if self.peek() is not None:
            raise TemplateError(f"unexpected {self.peek()[1]!r} in {{{{ {self.text} }}}}")  # type: ignore[index]
        return fn, const

    def args(self) -> list[tuple[Render, Any]]:
        self.take("(")
        out: list[tuple[Render, Any]] = []
        if self.peek() == ("op", ")"):
            self.take(")")
            return out
        while True:
            out.append(self.primary())
            tok = self.take(kind="op")
            if tok[1] == ")":
                return out
            if tok[1] != ",":
                raise TemplateError(f"expected ',' or ')' but found {tok[1]!r} in {{{{ {self.text} }}}}")

    def primary(self) -> tuple[Render, Any]:
        tok = self.peek()
        if tok is None:
            raise TemplateError(f"expression ends too early: {{{{ {self.text} }}}}")
        kind, value = tok
        if kind == "num":
            self.i += 1
            num: Any = float(value) if "." in value else int(value)
            return _const(num), num
        if kind == "str":
            self.i += 1
            text = _unquote(value)
            return _const(text), text
        if kind == "name" and value in ("true", "false", "null"):
            self.i += 1
            lit = {"true": True, "false": False, "null": None}[value]
            return _const(lit), lit
        if kind != "name":
            raise TemplateError(f"unexpected {value!r} in {{{{ {self.text} }}}}")
        path: list[str | int] = [self.take(kind="name")[1]]
        while True:
            nxt = self.peek()
            if nxt == ("op", "."):
                self.take(".")
                path.append(self.take(kind="name")[1])
            elif nxt == ("op", "["):
                self.take("[")
                k, v = self.take()
                if k == "num" and "." not in v:
                    path.append(int(v))
                elif k == "str":
                    path.append(_unquote(v))
                else:
                    raise TemplateError(f"an index must be an integer or a quoted key, got {v!r}")
                self.take("]")
            else:
                break
        dotted = ".".join(str(p) for p in path)
        if dotted in FUNCTIONS or (isinstance(path[0], str) and path[0] in FUNCTION_ROOTS and path[0] not in self.names.fields):
            if dotted not in FUNCTIONS:
                close = get_close_matches(dotted, list(FUNCTIONS), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise TemplateError(f"unknown function {dotted!r}{hint}")
            func, lo, hi = FUNCTIONS[dotted]
            args = self.args() if self.peek() == ("op", "(") else []
            if len(args) < lo or (hi is not None and len(args) > hi):
                raise TemplateError(f"{dotted} takes {lo}..{hi if hi is not None else 'any'} arguments, got {len(args)}")
            return _call(func, args), _MISSING
        self.names.check(path, self.where)
        self.roots.add(str(path[0]))
        return _lookup(tuple(path)), _MISSING


def _const(value: Any) -> Render:
    return lambda s: value


def _unquote(token: str) -> str:
    body = token[1:-1]
    return re.sub(r"\\(.)", r"\1", body)


def _call(func: Callable[..., Any], args: list[tuple[Render, Any]]) -> Render:
    if not args:
        return lambda s: func()
    if all(c is not _MISSING for _, c in args):
        consts = [c for _, c in args]
        return lambda s: func(*consts)
    fns = [f for f, _ in args]
    return lambda s: func(*[f(s) for f in fns])


def _apply(ffn: Callable[..., Any], fn: Render, const: Any, args: list[tuple[Render, Any]]) -> tuple[Render, Any]:
    arg_fns = [f for f, _ in args]
    if const is not _MISSING and all(c is not _MISSING for _, c in args):
        value = ffn(const, *[c for _, c in args])
        return _const(value), value
    if not arg_fns:
        return (lambda s: ffn(fn(s))), _MISSING
    return (lambda s: ffn(fn(s), *[f(s) for f in arg_fns])), _MISSING


def _step(value: Any, key: str | int) -> Any:
    if isinstance(key, int):
        if isinstance(value, list | tuple) and -len(value) <= key < len(value):
            return value[key]
        return None
    if isinstance(value, Mapping):
        return value.get(key)
    return getattr(value, key, None)


def _lookup(path: tuple[str | int, ...]) -> Render:
    root = path[0]
    rest = path[1:]
    if not rest:
        return lambda s: s.get(root)  # type: ignore[arg-type]
    if len(rest) == 1:
        k = rest[0]
        return lambda s: _step(s.get(root), k)  # type: ignore[arg-type]

    def deep(s: Scope) -> Any:
        value = s.get(root)  # type: ignore[arg-type]
        for k in rest:
            if value is None:
                return None
            value = _step(value, k)
        return value

    return deep


def compile_expression(text: str, names: Names, where: str = "template") -> tuple[Render, Any, set[str]]:
    """Compile the inside of `{{ ... }}`: (render, constant value or _MISSING, root names used)."""
    parser = _Parser(text, names, where)
    fn, const = parser.parse()
    return fn, const, parser.roots


# --- templates -----------------------------------------------------------------------------------------

_BRACES = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)


@dataclass(frozen=True)
class Template:
    """A compiled string template: `constant` is set when nothing varies per iteration."""

    source: str
    render: Render
    constant: Any
    roots: frozenset[str]

    @property
    def is_constant(self) -> bool:
        return self.constant is not _MISSING


def compile_template(text: str, names: Names, where: str = "template", *, keep_type: bool = False) -> Template:
    """Compile a string with `{{ }}` parts. With keep_type, a lone `{{ x }}` renders x unchanged."""
    if "{{" not in text:
        return Template(text, _const(text), text, frozenset())
    parts: list[tuple[Render, Any]] = []
    roots: set[str] = set()
    pos = 0
    for m in _BRACES.finditer(text):
        if m.start() > pos:
            lit = text[pos : m.start()]
            parts.append((_const(lit), lit))
        fn, const, used = compile_expression(m.group(1), names, where)
        roots |= used
        parts.append((fn, const))
        pos = m.end()
    tail = text[pos:]
    if "{{" in tail:
        raise TemplateError(f"unclosed '{{{{' in {where}: {text!r}")
    if tail:
        parts.append((_const(tail), tail))
    frozen = frozenset(roots)
    if keep_type and len(parts) == 1:
        fn, const = parts[0]
        return Template(text, fn, const, frozen)
    if all(c is not _MISSING for _, c in parts):
        joined = "".join(_to_text(c) for _, c in parts)
        return Template(text, _const(joined), joined, frozen)
    fns = [f for f, _ in parts]
    if len(fns) == 2:
        a, b = fns
        return Template(text, lambda s: _to_text(a(s)) + _to_text(b(s)), _MISSING, frozen)
    return Template(text, lambda s: "".join([_to_text(f(s)) for f in fns]), _MISSING, frozen)


@dataclass(frozen=True)
class Value:
    """A compiled structure (JSON body, header map, expected value) with templates in its strings."""

    render: Render
    constant: Any
    roots: frozenset[str]

    @property
    def is_constant(self) -> bool:
        return self.constant is not _MISSING


def compile_value(obj: Any, names: Names, where: str = "value") -> Value:
    """Compile nested dicts/lists whose strings (values and keys) may hold templates."""
    if isinstance(obj, str):
        t = compile_template(obj, names, where, keep_type=True)
        return Value(t.render, t.constant, t.roots)
    if isinstance(obj, Mapping):
        items = [
            (compile_template(str(k), names, f"{where} key"), compile_value(v, names, f"{where}.{k}"))
            for k, v in obj.items()
        ]
        roots = frozenset().union(*(k.roots | v.roots for k, v in items)) if items else frozenset()
        if all(k.is_constant and v.is_constant for k, v in items):
            const = {k.constant: v.constant for k, v in items}
            return Value(_const(const), const, roots)
        pairs = [(k.render, v.render) for k, v in items]
        return Value(lambda s: {_to_text(kf(s)): vf(s) for kf, vf in pairs}, _MISSING, roots)
    if isinstance(obj, list | tuple):
        vals = [compile_value(v, names, f"{where}[{i}]") for i, v in enumerate(obj)]
        roots = frozenset().union(*(v.roots for v in vals)) if vals else frozenset()
        if all(v.is_constant for v in vals):
            const_list = [v.constant for v in vals]
            return Value(_const(const_list), const_list, roots)
        fns = [v.render for v in vals]
        return Value(lambda s: [f(s) for f in fns], _MISSING, roots)
    return Value(_const(obj), obj, frozenset())


# --- JSON path ---------------------------------------------------------------------------------------------

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

    `find` returns every match; `first` the first match or _MISSING. A path with a
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
                        return _MISSING
                    node = node[arg]
                elif kind == "idx":
                    if not isinstance(node, list) or not -len(node) <= arg < len(node):
                        return _MISSING
                    node = node[arg]
                else:  # length
                    if not isinstance(node, list | dict | str):
                        return _MISSING
                    node = len(node)
            return node
        found = self.find(doc)
        return found[0] if found else _MISSING

    def value(self, doc: Any) -> Any:
        """What a capture stores: the single match, or the list of matches for a multi path."""
        if self.multi:
            found = self.find(doc)
            return found if found else _MISSING
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
            steps.append(("key", _unquote(m.group("qkey"))))
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


# --- data files ------------------------------------------------------------------------------------------------


def load_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a CSV (header line first) or JSON (a list of objects) data file."""
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TemplateError(f"data file {str(path)!r} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TemplateError(f"cannot read data file {str(path)!r}: {exc}") from None
    suffix = path.suffix.lower()
    if suffix == ".csv":
        reader = csv.DictReader(raw.splitlines())
        if not reader.fieldnames:
            raise TemplateError(f"data file {str(path)!r} has no header line")
        rows: list[dict[str, Any]] = []
        for lineno, row in enumerate(reader, start=2):
            if None in row:
                raise TemplateError(f"{path}:{lineno}: more values than the {len(reader.fieldnames)} header columns")
            rows.append({k: v for k, v in row.items()})
    elif suffix == ".json":
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise TemplateError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise TemplateError(f"data file {str(path)!r} must hold a JSON list of objects")
        rows = data
    else:
        raise TemplateError(f"data file {str(path)!r}: expected a .csv or .json file")
    if not rows:
        raise TemplateError(f"data file {str(path)!r} has no rows")
    return rows


class DataSource:
    """Rows from a data file, handed out per VU or shared by every VU of the process.

    - `shared`: one cursor for all VUs; every iteration takes the next row (wrapping), or
      a random row with order=random. With several worker processes each has its own cursor.
    - `per_vu`: each VU keeps one row for its whole life: row (vu.id - 1) mod n, or a random
      row picked once with order=random. Use it for "each VU logs in as its own user".
    """

    __slots__ = ("name", "rows", "mode", "order", "_cursor", "_per_vu")

    def __init__(self, name: str, rows: list[dict[str, Any]], mode: str = "shared", order: str = "sequential") -> None:
        self.name = name
        self.rows = rows
        self.mode = mode
        self.order = order
        self._cursor = 0
        self._per_vu: dict[int, dict[str, Any]] = {}

    @property
    def columns(self) -> set[str]:
        cols: set[str] = set()
        for row in self.rows:
            cols.update(row)
        return cols

    def row_for(self, vu_id: int) -> dict[str, Any]:
        if self.mode == "per_vu":
            row = self._per_vu.get(vu_id)
            if row is None:
                if self.order == "random":
                    row = _random.choice(self.rows)
                else:
                    row = self.rows[(vu_id - 1) % len(self.rows)]
                self._per_vu[vu_id] = row
            return row
        if self.order == "random":
            return _random.choice(self.rows)
        row = self.rows[self._cursor]
        self._cursor = (self._cursor + 1) % len(self.rows)
        return row


# --- weighted choice ------------------------------------------------------------------------------------------


class WeightedChoice:
    """Pick one of several items with probability proportional to its weight (40/30/20/10)."""

    __slots__ = ("items", "_cumulative", "_total")

    def __init__(self, items: Sequence[Any], weights: Sequence[float]) -> None:
        if len(items) != len(weights) or not items:
            raise TemplateError("weighted choice needs one weight per item and at least one item")
        if any(w < 0 for w in weights) or sum(weights) <= 0:
            raise TemplateError("weights must be >= 0 and add up to more than 0")
        self.items = list(items)
        self._cumulative = list(accumulate(float(w) for w in weights))
        self._total = self._cumulative[-1]

    def pick(self) -> Any:
        i = bisect.bisect_right(self._cumulative, _random.random() * self._total)
        return self.items[min(i, len(self.items) - 1)]


# --- durations ---------------------------------------------------------------------------------------------------

def parse_seconds(value: Any) -> float:
    """k6-style durations ('1m30s', '500ms', '2s') or a plain number of seconds; TemplateError otherwise."""
    try:
        return parse_duration(value)
    except ValueError:
        if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
            raise TemplateError(f"a duration cannot be negative, got {value!r}") from None
        raise TemplateError(f"expected a duration such as '500ms', '2s' or '1m30s', got {value!r}") from None


# --- responses as captures and checks see them ---------------------------------------------------------------------


class CaptureError(Exception):
    """A capture found nothing and has no default: the iteration stops (counted as an iteration error)."""


class Reply:
    """A response plus the iteration's scope; parses the JSON body and decodes text at most once."""

    __slots__ = ("res", "scope", "_doc", "_text")

    def __init__(self, res: Any, scope: Scope) -> None:
        self.res = res
        self.scope = scope
        self._doc: Any = None
        self._text: str | None = None

    @property
    def status(self) -> int:
        return int(self.res.status)

    def doc(self) -> Any:
        """The parsed JSON body, or _MISSING when the body is not JSON."""
        if self._doc is None:
            try:
                self._doc = json.loads(self.res.body) if self.res.body else _MISSING
            except (ValueError, TypeError):
                self._doc = _MISSING
        return self._doc

    def text(self) -> str:
        if self._text is None:
            self._text = self.res.text
        return self._text

    def header(self, name: str) -> Any:
        value = self.res.headers.get(name)
        return _MISSING if value is None else value

    @property
    def duration_ms(self) -> float:
        return float(self.res.timings.duration)


Extract = Callable[[Reply], Any]


def compile_capture(var: str, kind: str, arg: str, *, group: int | str | None = None, default: Any = _MISSING) -> Extract:
    """A capture: kind is json (a JSON path), header (a name) or regex (searched in the body)."""
    if kind == "json":
        jp = compile_json_path(arg)

        def get(r: Reply) -> Any:
            doc = r.doc()
            return _MISSING if doc is _MISSING else jp.value(doc)

        what = f"JSON path {arg}"
    elif kind == "header":

        def get(r: Reply) -> Any:
            return r.header(arg)

        what = f"header {arg}"
    elif kind == "regex":
        try:
            rx = re.compile(arg)
        except re.error as exc:
            raise TemplateError(f"invalid regex {arg!r}: {exc}") from None
        if group is None:
            grp: int | str = 1 if rx.groups else 0
        else:
            grp = group
            if isinstance(grp, int) and grp > rx.groups:
                raise TemplateError(f"regex {arg!r} has {rx.groups} groups, so group {grp} does not exist")
            if isinstance(grp, str) and grp not in rx.groupindex:
                raise TemplateError(f"regex {arg!r} has no group named {grp!r}")

        def get(r: Reply) -> Any:
            m = rx.search(r.text())
            return _MISSING if m is None else m.group(grp)

        what = f"regex {arg!r}"
    else:
        raise TemplateError(f"unknown capture kind {kind!r}; expected json, header or regex")

    def capture(r: Reply) -> Any:
        value = get(r)
        if value is _MISSING:
            if default is not _MISSING:
                return default
            status = r.res.status
            detail = f"error {r.res.error}" if getattr(r.res, "error", "") else f"status {status}"
            raise CaptureError(f"capture {var!r}: {what} found nothing in the response ({detail})")
        return value

    return capture


Predicate = Callable[[Reply], bool]


def _loose_eq(actual: Any, expected: Any) -> bool:
    """Equality that forgives a CSV string against a JSON number ("42" == 42), never bools vs ints."""
    if isinstance(actual, bool) or isinstance(expected, bool):
        if isinstance(actual, bool) and isinstance(expected, bool):
            return actual is expected
        return _to_text(actual) == _to_text(expected)
    if isinstance(actual, str) != isinstance(expected, str):
        return _to_text(actual) == _to_text(expected)
    return bool(actual == expected)


def _num(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


_JSON_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "null": lambda v: v is None,
}


def _contains(actual: Any, item: Any) -> bool:
    if isinstance(actual, str):
        return _to_text(item) in actual
    if isinstance(actual, list):
        return any(_loose_eq(a, item) for a in actual)
    if isinstance(actual, dict):
        return _to_text(item) in actual
    return False


def _compare(op: str, expected: Any) -> Callable[[Any, Any], bool]:
    """(actual, rendered expected) -> bool for one comparison operator."""
    if op == "eq":
        return lambda a, e: a is not _MISSING and _loose_eq(a, e)
    if op == "ne":
        return lambda a, e: a is not _MISSING and not _loose_eq(a, e)
    if op in ("lt", "le", "gt", "ge"):
        import operator as _op

        fn = {"lt": _op.lt, "le": _op.le, "gt": _op.gt, "ge": _op.ge}[op]

        def cmp(a: Any, e: Any) -> bool:
            x, y = _num(a), _num(e)
            return x is not None and y is not None and bool(fn(x, y))

        return cmp
    if op == "contains":
        return lambda a, e: a is not _MISSING and _contains(a, e)
    if op == "not_contains":
        return lambda a, e: a is not _MISSING and not _contains(a, e)
    if op == "matches":
        try:
            rx = re.compile(str(expected))
        except re.error as exc:
            raise TemplateError(f"invalid regex {expected!r}: {exc}") from None
        return lambda a, e: a is not _MISSING and a is not None and rx.search(_to_text(a)) is not None
    if op == "in":
        return lambda a, e: a is not _MISSING and any(_loose_eq(a, x) for x in e)
    if op == "type":
        if expected not in _JSON_TYPES:
            raise TemplateError(f"unknown type {expected!r}; expected one of {', '.join(_JSON_TYPES)}")
        is_type = _JSON_TYPES[expected]
        return lambda a, e: a is not _MISSING and is_type(a)
    if op == "length":
        return lambda a, e: isinstance(a, str | list | dict) and len(a) == int(e)
    if op == "exists":
        want = bool(expected)
        return lambda a, e: (a is not _MISSING) is want
    raise TemplateError(f"unknown comparison {op!r}")


_OP_SYMBOL = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}


def compile_expectation(
    subject: str, get: Callable[[Reply], Any], expectation: Any, names: Names, where: str
) -> tuple[str, Predicate]:
    """One check on a value taken from the response: a name for it and its predicate.

    `expectation` is `exists`, `absent`, a literal (equality; strings may be templates), or
    a mapping of comparisons {eq, ne, lt, le, gt, ge, contains, not_contains, matches, in,
    type, length, exists} that must all hold.
    """
    if expectation == "exists":
        return f"{subject} exists", lambda r: get(r) is not _MISSING
    if expectation == "absent":
        return f"{subject} is absent", lambda r: get(r) is _MISSING
    if isinstance(expectation, Mapping):
        ops = [(op, val) for op, val in expectation.items() if val is not None]
        if not ops:
            raise TemplateError(f"{where}: give at least one comparison (eq, ne, lt, gt, contains, matches, ...)")
    else:
        ops = [("eq", expectation)]
    tests: list[tuple[Callable[[Any, Any], bool], Render]] = []
    labels: list[str] = []
    for op, val in ops:
        compiled = compile_value(val, names, f"{where}.{op}")
        tests.append((_compare(op, compiled.constant if compiled.is_constant else val), compiled.render))
        shown = repr(val) if isinstance(val, str) else json.dumps(val)
        labels.append(f"{_OP_SYMBOL.get(op, op)} {shown}")
    name = f"{subject} " + " and ".join(labels)
    if len(tests) == 1:
        test, render = tests[0]
        return name, lambda r: test(get(r), render(r.scope))

    def all_hold(r: Reply) -> bool:
        actual = get(r)
        return all(t(actual, rend(r.scope)) for t, rend in tests)

    return name, all_hold


def json_getter(path: str) -> Callable[[Reply], Any]:
    jp = compile_json_path(path)

    def get(r: Reply) -> Any:
        doc = r.doc()
        return _MISSING if doc is _MISSING else jp.first(doc)

    return get


def header_getter(name: str) -> Callable[[Reply], Any]:
    return lambda r: r.header(name)


def status_check(spec: int | list[int] | str) -> tuple[str, Predicate]:
    if isinstance(spec, bool):
        raise TemplateError(f"status must be a number, a list of numbers or a class such as '2xx', got {spec!r}")
    if isinstance(spec, int):
        return f"status is {spec}", lambda r: r.res.status == spec
    if isinstance(spec, list):
        allowed = frozenset(int(s) for s in spec)
        return f"status in {sorted(allowed)}", lambda r: r.res.status in allowed
    klass = int(spec[0])
    return f"status is {spec.lower()}", lambda r: r.res.status // 100 == klass


_LATENCY = re.compile(r"^\s*(<=|<|>=|>)?\s*(\d+(?:\.\d+)?)\s*(ms)?\s*$")


def latency_check(spec: str | float) -> tuple[str, Predicate]:
    import operator as _op

    if isinstance(spec, bool):
        raise TemplateError(f"latency_ms expects '<300', '<=250' or a number, got {spec!r}")
    if isinstance(spec, int | float):
        op, limit = "<", float(spec)
    else:
        m = _LATENCY.match(spec)
        if m is None:
            raise TemplateError(f"latency_ms expects '<300', '<=250', '>5' or a number of ms, got {spec!r}")
        op, limit = m.group(1) or "<", float(m.group(2))
    fn = {"<": _op.lt, "<=": _op.le, ">": _op.gt, ">=": _op.ge}[op]
    shown = int(limit) if limit.is_integer() else limit
    return f"latency {op} {shown}ms", lambda r: bool(fn(r.duration_ms, limit))


def body_contains_check(needle: str, names: Names, where: str, *, negate: bool = False) -> tuple[str, Predicate]:
    t = compile_template(needle, names, where)
    label = f"body {'does not contain' if negate else 'contains'} {needle!r}"
    if t.is_constant:
        text = str(t.constant)
        raw = text.encode()
        if negate:
            return label, lambda r: r.res.body.find(raw) < 0
        return label, lambda r: r.res.body.find(raw) >= 0
    if negate:
        return label, lambda r: _to_text(t.render(r.scope)) not in r.text()
    return label, lambda r: _to_text(t.render(r.scope)) in r.text()


def body_matches_check(pattern: str) -> tuple[str, Predicate]:
    try:
        rx = re.compile(pattern)
    except re.error as exc:
        raise TemplateError(f"invalid regex {pattern!r}: {exc}") from None
    return f"body matches {pattern!r}", lambda r: rx.search(r.text()) is not None
