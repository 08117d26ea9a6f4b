"""WebSocket steps of a YAML scenario: a session of send, expect, capture, ping and sleep actions.

A step with `ws:` opens one socket (assay.load.ws), runs its actions in order and closes it.
An `expect` is a k6 check on the first message that matches (with a `send`, the reply's
latency is `ws_msg_latency`); captures read the matched message like a response body.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from assay.config import KeyPath
from assay.load.payload import check_payload
from assay.load.spec import HeaderCapture, WsAction, WsStep
from assay.load.ws import WsError, WsSession, ws_connect
from assay.load.yaml.checks import (
    CaptureError,
    Extract,
    Predicate,
    Reply,
    body_contains_check,
    body_matches_check,
    capture_from_spec,
    json_expectation,
    json_getter,
    plain_expectation,
)
from assay.load.yaml.context import CompileContext, Compiled, group_name, think_time, wrap_step
from assay.load.yaml.template import Names, Scope, compile_template, compile_value, parse_seconds

WsRun = Callable[[Any, WsSession, Scope], Awaitable[None]]


class _WsMessage:
    """A WebSocket message dressed as a response, so body/JSON/regex checks and captures apply."""

    __slots__ = ("body", "text")

    status = 101
    error = ""
    headers: dict[str, str] = {}

    def __init__(self, message: str | bytes) -> None:
        if isinstance(message, bytes):
            self.body = message
            self.text = message.decode("utf-8", errors="replace")
        else:
            self.text = message
            self.body = message.encode()


async def _wait_for(ws: WsSession, match: Callable[[Any], bool], timeout: float) -> Any:
    """The first message `match` accepts (others are read and dropped), or WsError on timeout."""
    deadline = time.perf_counter() + timeout
    while True:
        left = deadline - time.perf_counter()
        if left <= 0:
            raise WsError(f"no matching WebSocket message within {timeout:g}s", timed_out=True)
        try:
            message = await ws.recv(timeout=left)
        except WsError as exc:
            if exc.timed_out:
                raise WsError(f"no matching WebSocket message within {timeout:g}s", timed_out=True) from None
            raise
        if match(message):
            return message


def _to_ws(url: str) -> str:
    if url.startswith("https://"):
        return "wss://" + url[8:]
    if url.startswith("http://"):
        return "ws://" + url[7:]
    return url


def ws_url_template(base_url: Any, url: Any) -> Callable[[Scope], str]:
    def join(base: str, u: str) -> str:
        if "://" in u[:10]:
            return u
        return _to_ws(base.rstrip("/")) + (u if u.startswith("/") else "/" + u)

    if isinstance(base_url, str):
        if url.is_constant:
            fixed = join(base_url, str(url.constant))
            return lambda s: fixed
        return lambda s: join(base_url, str(url.render(s)))
    return lambda s: join(str(base_url.render(s)), str(url.render(s)))


def compile_ws_step(cx: CompileContext, st: WsStep, path: KeyPath, names: Names, base_url: Any) -> Compiled | None:
    n_issues = len(cx.issues)
    name = st.name or st.ws
    url = cx.guard((*path, "ws"), lambda: compile_template(st.ws, names, "ws"))
    hdrs = cx.guard((*path, "headers"), lambda: compile_value(st.headers, names, "headers")) if st.headers else None
    connect_timeout = parse_seconds(st.timeout) if st.timeout is not None else 10.0
    beat = parse_seconds(st.heartbeat) if st.heartbeat is not None else 0.0
    beat_timeout = parse_seconds(st.heartbeat_timeout) if st.heartbeat_timeout is not None else None
    if beat <= 0 and beat_timeout is not None:
        cx.issue((*path, "heartbeat_timeout"), "needs `heartbeat` (how often to ping)")
    group = cx.guard((*path, "group"), lambda: group_name(st.group))
    think = cx.guard((*path, "think_time"), lambda: think_time(st.think_time))
    actions: list[WsRun] = []
    defined: set[str] = set()
    for i, act in enumerate(st.session):
        made = compile_ws_action(cx, act, (*path, "session", i), names.with_names({d: None for d in defined}), name, i)
        if made is not None:
            actions.append(made[0])
            defined |= made[1]
    if len(cx.issues) > n_issues or url is None:
        return None
    for part in (url, hdrs):
        if part is not None:
            cx.used_roots |= part.roots
    url_fn = ws_url_template(base_url, url)
    header_fn = (lambda s: None) if hdrs is None else (lambda s: {str(k): str(v) for k, v in hdrs.render(s).items()})
    tags = dict(st.tags or {})
    subprotocols = list(st.subprotocols) if st.subprotocols else None
    steps = tuple(actions)

    async def session(vu: Any, scope: Scope) -> None:
        async with ws_connect(
            vu, url_fn(scope), headers=header_fn(scope), subprotocols=subprotocols, name=name, tags=tags,
            timeout=connect_timeout,
        ) as ws:
            if beat > 0:
                ws.heartbeat(beat, beat_timeout)
            for act in steps:
                await act(vu, ws, scope)

    return Compiled(wrap_step(session, group, think), frozenset(defined))

def compile_ws_action(
    cx: CompileContext, act: WsAction, path: KeyPath, names: Names, step_name: str, index: int
) -> tuple[WsRun, set[str]] | None:
    if act.sleep is not None:
        seconds = parse_seconds(act.sleep)

        async def pause(vu: Any, ws: WsSession, scope: Scope) -> None:
            await vu.sleep(seconds)

        return pause, set()
    if act.ping:

        async def ping(vu: Any, ws: WsSession, scope: Scope) -> None:
            await ws.ping()

        return ping, set()
    n_issues = len(cx.issues)
    payload: Callable[[Scope], str] | None = None
    if act.send is not None:
        t = cx.guard((*path, "send"), lambda: compile_template(act.send or "", names, "send"))
        if t is not None:
            cx.used_roots |= t.roots
            if t.is_constant:
                fixed_text = str(t.constant)
                payload = lambda s: fixed_text  # noqa: E731
            else:
                payload = lambda s: str(t.render(s))  # noqa: E731
    elif act.json_ is not None:
        v = cx.guard((*path, "json"), lambda: compile_value(act.json_, names, "json"))
        if v is not None:
            cx.used_roots |= v.roots
            if v.is_constant:
                text = json.dumps(v.constant, separators=(",", ":"))
                payload = lambda s: text  # noqa: E731
            else:
                payload = lambda s: json.dumps(v.render(s), separators=(",", ":"))  # noqa: E731
    preds: list[tuple[str, Predicate]] = []
    exp = act.expect
    if exp is not None:
        if exp.contains is not None:
            made = cx.guard((*path, "expect", "contains"), partial(body_contains_check, exp.contains, names, "expect"))
            if made is not None:
                preds.append(made)
        if exp.matches is not None:
            made = cx.guard((*path, "expect", "matches"), partial(body_matches_check, exp.matches))
            if made is not None:
                preds.append(made)
        for jpath, expectation in (exp.json_ or {}).items():
            made = cx.guard((*path, "expect", "json", jpath), partial(json_expectation, jpath, plain_expectation(expectation), names))
            if made is not None:
                preds.append(made)
    payload_at: Callable[[Reply], Any] | None = None
    if exp is not None and exp.payload is not None:
        if exp.payload.strip() == "$":
            payload_at = lambda r: r.res.text  # noqa: E731
        else:
            payload_at = cx.guard((*path, "expect", "payload"), partial(json_getter, exp.payload))
    captures: list[tuple[str, Extract]] = []
    for var, cap in (act.capture or {}).items():
        where = (*path, "capture", var)
        if isinstance(cap, HeaderCapture):
            cx.issue(where, "a WebSocket message has no headers: capture with `json` or `regex`")
            continue
        extract = cx.guard(where, partial(capture_from_spec, var, cap))
        if extract is not None:
            captures.append((var, extract))
    if len(cx.issues) > n_issues:
        return None
    timeout = parse_seconds(act.timeout) if act.timeout is not None else 10.0
    if exp is None:
        assert payload is not None
        send_only = payload

        async def send(vu: Any, ws: WsSession, scope: Scope) -> None:
            await ws.send(send_only(scope))

        return send, set()
    labels = [label for label, _ in preds]
    check_name = f"{step_name}: message {index + 1} " + (" and ".join(labels) if labels else "arrives")
    tests = [p for _, p in preds]

    def matcher(scope: Scope) -> Callable[[Any], bool]:
        return lambda message: all(p(Reply(_WsMessage(message), scope)) for p in tests)

    async def expect(vu: Any, ws: WsSession, scope: Scope) -> None:
        match = matcher(scope)
        try:
            if payload is not None:
                reply, _ = await ws.request(payload(scope), match=match, timeout=timeout)
            else:
                reply = await _wait_for(ws, match, timeout)
        except WsError as exc:
            if not exc.timed_out:
                raise
            vu.check(None, {check_name: False})
            if captures:
                raise CaptureError(f"capture {captures[0][0]!r}: {exc}") from None
            return
        vu.check(None, {check_name: True})
        if payload_at is not None:
            found = payload_at(Reply(_WsMessage(reply), scope))
            intact = check_payload(vu, found if isinstance(found, str | bytes) else None)
            vu.check(None, {f"{step_name}: message {index + 1} payload intact": intact})
        if captures:
            r = Reply(_WsMessage(reply), scope)
            for var, extract in captures:
                scope[var] = extract(r)

    return expect, {v for v, _ in captures}
