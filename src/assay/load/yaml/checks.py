"""Captures and checks: what a response (or a WebSocket message) is asked, compiled once.

`Reply` is a response as captures and checks see it (JSON parsed and text decoded at most
once); a capture is a function of a Reply, a check a predicate on one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from assay.config import KeyPath
from assay.load.spec import Check, Expect, HeaderCapture, JsonCapture, RegexCapture
from assay.load.yaml.context import CompileContext
from assay.load.yaml.jsonpath import compile_json_path
from assay.load.yaml.template import (
    MISSING,
    Names,
    Render,
    Scope,
    TemplateError,
    compile_template,
    compile_value,
    to_text,
)


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
        """The parsed JSON body, or MISSING when the body is not JSON."""
        if self._doc is None:
            try:
                self._doc = json.loads(self.res.body) if self.res.body else MISSING
            except (ValueError, TypeError):
                self._doc = MISSING
        return self._doc

    def text(self) -> str:
        if self._text is None:
            self._text = self.res.text
        return self._text

    def header(self, name: str) -> Any:
        value = self.res.headers.get(name)
        return MISSING if value is None else value

    @property
    def duration_ms(self) -> float:
        return float(self.res.timings.duration)


Extract = Callable[[Reply], Any]


def compile_capture(var: str, kind: str, arg: str, *, group: int | str | None = None, default: Any = MISSING) -> Extract:
    """A capture: kind is json (a JSON path), header (a name) or regex (searched in the body)."""
    if kind == "json":
        jp = compile_json_path(arg)

        def get(r: Reply) -> Any:
            doc = r.doc()
            return MISSING if doc is MISSING else jp.value(doc)

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
            return MISSING if m is None else m.group(grp)

        what = f"regex {arg!r}"
    else:
        raise TemplateError(f"unknown capture kind {kind!r}; expected json, header or regex")

    def capture(r: Reply) -> Any:
        value = get(r)
        if value is MISSING:
            if default is not MISSING:
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
        return to_text(actual) == to_text(expected)
    if isinstance(actual, str) != isinstance(expected, str):
        return to_text(actual) == to_text(expected)
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
        return to_text(item) in actual
    if isinstance(actual, list):
        return any(_loose_eq(a, item) for a in actual)
    if isinstance(actual, dict):
        return to_text(item) in actual
    return False


def _compare(op: str, expected: Any) -> Callable[[Any, Any], bool]:
    """(actual, rendered expected) -> bool for one comparison operator."""
    if op == "eq":
        return lambda a, e: a is not MISSING and _loose_eq(a, e)
    if op == "ne":
        return lambda a, e: a is not MISSING and not _loose_eq(a, e)
    if op in ("lt", "le", "gt", "ge"):
        import operator as _op

        fn = {"lt": _op.lt, "le": _op.le, "gt": _op.gt, "ge": _op.ge}[op]

        def cmp(a: Any, e: Any) -> bool:
            x, y = _num(a), _num(e)
            return x is not None and y is not None and bool(fn(x, y))

        return cmp
    if op == "contains":
        return lambda a, e: a is not MISSING and _contains(a, e)
    if op == "not_contains":
        return lambda a, e: a is not MISSING and not _contains(a, e)
    if op == "matches":
        try:
            rx = re.compile(str(expected))
        except re.error as exc:
            raise TemplateError(f"invalid regex {expected!r}: {exc}") from None
        return lambda a, e: a is not MISSING and a is not None and rx.search(to_text(a)) is not None
    if op == "in":
        return lambda a, e: a is not MISSING and any(_loose_eq(a, x) for x in e)
    if op == "type":
        if expected not in _JSON_TYPES:
            raise TemplateError(f"unknown type {expected!r}; expected one of {', '.join(_JSON_TYPES)}")
        is_type = _JSON_TYPES[expected]
        return lambda a, e: a is not MISSING and is_type(a)
    if op == "length":
        return lambda a, e: isinstance(a, str | list | dict) and len(a) == int(e)
    if op == "exists":
        want = bool(expected)
        return lambda a, e: (a is not MISSING) is want
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
        return f"{subject} exists", lambda r: get(r) is not MISSING
    if expectation == "absent":
        return f"{subject} is absent", lambda r: get(r) is MISSING
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
        return MISSING if doc is MISSING else jp.first(doc)

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
        return label, lambda r: to_text(t.render(r.scope)) not in r.text()
    return label, lambda r: to_text(t.render(r.scope)) in r.text()


def body_matches_check(pattern: str) -> tuple[str, Predicate]:
    try:
        rx = re.compile(pattern)
    except re.error as exc:
        raise TemplateError(f"invalid regex {pattern!r}: {exc}") from None
    return f"body matches {pattern!r}", lambda r: rx.search(r.text()) is not None


# --- the checks and captures a scenario file declares ---------------------------------------------------------


def compile_checks(cx: CompileContext, check: Check, path: KeyPath, req_name: str, names: Names) -> dict[str, Predicate]:
    out: list[tuple[str, Predicate]] = []

    def add(where: KeyPath, fn: Callable[[], tuple[str, Predicate]]) -> None:
        made = cx.guard(where, fn)
        if made is not None:
            out.append(made)

    if check.json_ or check.body_contains or check.body_not_contains or check.body_matches:
        cx.reads_body.append(f"{req_name} check")
    if check.status is not None:
        add((*path, "status"), lambda: status_check(check.status))  # type: ignore[arg-type]
    for jpath, expectation in (check.json_ or {}).items():
        exp = plain_expectation(expectation)
        where = (*path, "json", jpath)
        add(where, partial(json_expectation, jpath, exp, names))
    for hname, expectation in (check.headers or {}).items():
        exp = plain_expectation(expectation)
        where = (*path, "headers", hname)
        add(where, partial(header_expectation, hname, exp, names))
    for key, negate in (("body_contains", False), ("body_not_contains", True)):
        needles = getattr(check, key)
        if needles is None:
            continue
        for i, needle in enumerate([needles] if isinstance(needles, str) else needles):
            where = (*path, key) if isinstance(needles, str) else (*path, key, i)
            add(where, partial(body_contains_check, needle, names, "check", negate=negate))
    if check.body_matches is not None:
        add((*path, "body_matches"), lambda: body_matches_check(check.body_matches or ""))
    if check.latency_ms is not None:
        add((*path, "latency_ms"), lambda: latency_check(check.latency_ms))  # type: ignore[arg-type]
    if check.payload is not None:
        cx.reads_body.append(f"{req_name} check")
        add((*path, "payload"), lambda: payload_check(check.payload or "$"))
    return {f"{req_name}: {label}": pred for label, pred in out}


def payload_check(path: str) -> tuple[str, Predicate]:
    """Every payload at a JSON path ('$': the body) still matches its digest (assay.load.payload);
    each one is counted on the running VU (payloads_verified, payloads_corrupt). None found fails."""
    from assay.load.context import CURRENT_VU
    from assay.load.payload import check_payload, payload_intact

    jp = None if path.strip() == "$" else compile_json_path(path)

    def intact(r: Reply) -> bool:
        if jp is None:
            values: list[Any] = [r.text()]
        else:
            doc = r.doc()
            values = [] if doc is MISSING else jp.find(doc)
        vu = CURRENT_VU.get()
        ok = bool(values)
        for v in values:
            one = v if isinstance(v, str | bytes) else None
            ok = (check_payload(vu, one) if vu is not None else payload_intact(one)) and ok
        return ok

    return f"payload intact at {path}", intact


def plain_expectation(expectation: Any) -> Any:
    return expectation.comparisons() if isinstance(expectation, Expect) else expectation


def json_expectation(jpath: str, exp: Any, names: Names) -> tuple[str, Predicate]:
    return compile_expectation(jpath, json_getter(jpath), exp, names, f"check {jpath}")


def header_expectation(hname: str, exp: Any, names: Names) -> tuple[str, Predicate]:
    return compile_expectation(f"header {hname}", header_getter(hname), exp, names, f"check header {hname}")


def capture_from_spec(var: str, cap: Any) -> Extract:
    if isinstance(cap, str):
        return compile_capture(var, "json", cap)
    default = cap.default if "default" in cap.model_fields_set else MISSING
    if isinstance(cap, JsonCapture):
        return compile_capture(var, "json", cap.json_, default=default)
    if isinstance(cap, HeaderCapture):
        return compile_capture(var, "header", cap.header, default=default)
    assert isinstance(cap, RegexCapture)
    return compile_capture(var, "regex", cap.regex, group=cap.group, default=default)
