"""Templates for YAML scenarios: `{{ ... }}` in any string, compiled once into closures.

The YAML pipeline (this package) compiles everything once, when the scenario file is loaded, into small closures:
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
from typing import Any

from assay.load.durations import config_duration_problem, parse_duration

Scope = dict[str, Any]
Render = Callable[[Scope], Any]

MISSING: Any = object()


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


def to_text(value: Any) -> str:
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
    "urlencode": (lambda v: urllib.parse.quote(to_text(v), safe=""), 0, 0),
    "json": (lambda v: json.dumps(v, separators=(",", ":")), 0, 0),
    "upper": (lambda v: to_text(v).upper(), 0, 0),
    "lower": (lambda v: to_text(v).lower(), 0, 0),
    "str": (to_text, 0, 0),
    "int": (lambda v: int(float(v)) if isinstance(v, str) else int(v), 0, 0),
    "float": (float, 0, 0),
    "base64": (lambda v: base64.b64encode(to_text(v).encode()).decode("ascii"), 0, 0),
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
        """The expression's render function, and its constant value (or MISSING)."""
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
            text = unquote(value)
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
                    path.append(unquote(v))
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
            return _call(func, args), MISSING
        self.names.check(path, self.where)
        self.roots.add(str(path[0]))
        return _lookup(tuple(path)), MISSING


def _const(value: Any) -> Render:
    return lambda s: value


def unquote(token: str) -> str:
    """A quoted string literal's text: the quotes dropped, backslash escapes resolved."""
    body = token[1:-1]
    return re.sub(r"\\(.)", r"\1", body)


def _call(func: Callable[..., Any], args: list[tuple[Render, Any]]) -> Render:
    if not args:
        return lambda s: func()
    if all(c is not MISSING for _, c in args):
        consts = [c for _, c in args]
        return lambda s: func(*consts)
    fns = [f for f, _ in args]
    return lambda s: func(*[f(s) for f in fns])


def _apply(ffn: Callable[..., Any], fn: Render, const: Any, args: list[tuple[Render, Any]]) -> tuple[Render, Any]:
    arg_fns = [f for f, _ in args]
    if const is not MISSING and all(c is not MISSING for _, c in args):
        value = ffn(const, *[c for _, c in args])
        return _const(value), value
    if not arg_fns:
        return (lambda s: ffn(fn(s))), MISSING
    return (lambda s: ffn(fn(s), *[f(s) for f in arg_fns])), MISSING


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
    """Compile the inside of `{{ ... }}`: (render, constant value or MISSING, root names used)."""
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
        return self.constant is not MISSING


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
    if all(c is not MISSING for _, c in parts):
        joined = "".join(to_text(c) for _, c in parts)
        return Template(text, _const(joined), joined, frozen)
    fns = [f for f, _ in parts]
    if len(fns) == 2:
        a, b = fns
        return Template(text, lambda s: to_text(a(s)) + to_text(b(s)), MISSING, frozen)
    return Template(text, lambda s: "".join([to_text(f(s)) for f in fns]), MISSING, frozen)


@dataclass(frozen=True)
class Value:
    """A compiled structure (JSON body, header map, expected value) with templates in its strings."""

    render: Render
    constant: Any
    roots: frozenset[str]

    @property
    def is_constant(self) -> bool:
        return self.constant is not MISSING


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
        return Value(lambda s: {to_text(kf(s)): vf(s) for kf, vf in pairs}, MISSING, roots)
    if isinstance(obj, list | tuple):
        vals = [compile_value(v, names, f"{where}[{i}]") for i, v in enumerate(obj)]
        roots = frozenset().union(*(v.roots for v in vals)) if vals else frozenset()
        if all(v.is_constant for v in vals):
            const_list = [v.constant for v in vals]
            return Value(_const(const_list), const_list, roots)
        fns = [v.render for v in vals]
        return Value(lambda s: [f(s) for f in fns], MISSING, roots)
    return Value(_const(obj), obj, frozenset())


# --- durations ---------------------------------------------------------------------------------------------------

def parse_seconds(value: Any) -> float:
    """k6-style durations ('1m30s', '500ms', '2s') or a plain number of seconds; TemplateError otherwise."""
    problem = config_duration_problem(value)
    if problem is not None:
        raise TemplateError(problem)
    return parse_duration(value)
