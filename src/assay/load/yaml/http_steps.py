"""HTTP request steps of a YAML scenario: the cheapest closure that sends each request.

URL, headers and body are each prepared once: a constant part is built at compile time, a
templated part renders from the iteration's scope. A request whose every part is constant
and whose response nobody reads is also described as a `StaticRequest`, which the runner may
loop on one connection without calling the iteration (see assay.load.http.static).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any
from urllib.parse import urlencode

from assay.config import KeyPath
from assay.load.http.series import FrozenTags
from assay.load.http.static import StaticRequest
from assay.load.spec import HeaderCapture, Request
from assay.load.yaml.checks import Extract, Predicate, Reply, capture_from_spec, compile_checks
from assay.load.yaml.context import CompileContext, Compiled, Runner, group_name, think_time, wrap_step
from assay.load.yaml.subscribe_steps import ledger_mark
from assay.load.yaml.template import (
    FUNCTION_ROOTS,
    Names,
    Scope,
    compile_template,
    compile_value,
    parse_seconds,
)


def compile_request(cx: CompileContext, req: Request, path: KeyPath, names: Names, base_url: Any, default_headers: dict[str, str]) -> Compiled | None:
    n_issues = len(cx.issues)
    name = req.name or f"{req.method} {req.url}"
    mark = ledger_mark(cx, req, path, names) if req.ledger is not None else None
    if mark is not None:
        req, names = mark[0], mark[1]
    url = cx.guard((*path, "url"), lambda: compile_template(req.url, names, "url"))
    query = cx.guard((*path, "query"), lambda: compile_value(req.query, names, "query")) if req.query else None
    all_headers = {**default_headers, **(req.headers or {})}
    hdrs = cx.guard((*path, "headers"), lambda: compile_value(all_headers, names, "headers")) if all_headers else None
    body = None
    content_type = None
    if req.json_ is not None:
        body = cx.guard((*path, "json"), lambda: compile_value(req.json_, names, "json"))
        content_type = "application/json"
    elif req.body is not None:
        body = cx.guard((*path, "body"), lambda: compile_template(req.body or "", names, "body"))
    captures: list[tuple[str, Extract]] = []
    for var, cap in (req.capture or {}).items():
        where = (*path, "capture", var)
        if var in ("vu", "env") or var in FUNCTION_ROOTS or var in cx.data:
            cx.issue(where, f"capture name {var!r} would hide the built-in or data name of the same name")
            continue
        if not isinstance(cap, HeaderCapture):
            cx.reads_body.append(f"{name} capture {var}")
        extract = cx.guard(where, partial(capture_from_spec, var, cap))
        if extract is not None:
            captures.append((var, extract))
    checks = compile_checks(cx, req.check, (*path, "check"), name, names) if req.check is not None else {}
    think = cx.guard((*path, "think_time"), lambda: think_time(req.think_time))
    timeout = parse_seconds(req.timeout) if req.timeout is not None else None
    group = cx.guard((*path, "group"), lambda: group_name(req.group))
    if len(cx.issues) > n_issues or url is None:
        return None
    for part in (url, query, hdrs, body):
        if part is not None:
            cx.used_roots |= part.roots
    tags = {**(req.tags or {}), "name": name}
    send, static = _sender(req.method, base_url, url, query, hdrs, body, content_type, tags, timeout)
    if mark is not None:
        from assay.load.yaml.ledger_steps import ledgered_send

        send, static = ledgered_send(send, mark[2], mark[3]), None
    run = wrap_step(_request_runner(send, checks, captures, think), group, None)
    # the request alone is the step only when nothing reads the response (no checks, captures, think time, group)
    return Compiled(run, frozenset(v for v, _ in captures), static if run is send else None)


Send = Callable[[Any, Scope], Awaitable[Any]]


def _sender(
    method: str,
    base_url: Any,
    url: Any,
    query: Any,
    headers: Any,
    body: Any,
    content_type: str | None,
    tags: dict[str, str],
    timeout: float | None,
) -> tuple[Send, StaticRequest | None]:
    """The cheapest closure that sends this request (constants prepared once), and the request
    itself when every part of it is constant."""
    # URL
    if isinstance(base_url, str):
        prefix = base_url

        def join(u: str) -> str:
            return u if "://" in u[:10] else prefix + u if u.startswith("/") or not u else prefix + "/" + u

        url_fn: Callable[[Scope], str]
        if url.is_constant:
            fixed = join(str(url.constant))
            url_fn = lambda s: fixed  # noqa: E731
        else:
            render_url = url.render
            url_fn = lambda s: join(str(render_url(s)))  # noqa: E731
    else:
        render_base, render_url = base_url.render, url.render

        def url_fn(s: Scope) -> str:
            u = str(render_url(s))
            if "://" in u[:10]:
                return u
            b = str(render_base(s)).rstrip("/")
            return b + (u if u.startswith("/") else "/" + u)

    if query is not None:
        base_url_fn = url_fn
        if query.is_constant:
            qs = urlencode(query.constant, doseq=True)
            url_fn = lambda s: _add_query(base_url_fn(s), qs)  # noqa: E731
        else:
            render_q = query.render
            url_fn = lambda s: _add_query(base_url_fn(s), urlencode(render_q(s), doseq=True))  # noqa: E731

    # headers
    header_fn: Callable[[Scope], dict[str, str] | None]
    if headers is None:
        fixed_h: dict[str, str] | None = {"Content-Type": content_type} if content_type else None
        header_fn = lambda s: fixed_h  # noqa: E731
    elif headers.is_constant:
        const_h = {str(k): str(v) for k, v in headers.constant.items()}
        if content_type and not any(k.lower() == "content-type" for k in const_h):
            const_h["Content-Type"] = content_type
        header_fn = lambda s: const_h  # noqa: E731
    else:
        render_h = headers.render

        def header_fn(s: Scope) -> dict[str, str] | None:
            h = {str(k): ("" if v is None else str(v)) for k, v in render_h(s).items()}
            if content_type and not any(k.lower() == "content-type" for k in h):
                h["Content-Type"] = content_type
            return h

    # body
    body_fn: Callable[[Scope], bytes | None]
    if body is None:
        body_fn = lambda s: None  # noqa: E731
    elif content_type == "application/json":
        if body.is_constant:
            encoded = json.dumps(body.constant, separators=(",", ":")).encode()
            body_fn = lambda s: encoded  # noqa: E731
        else:
            render_b = body.render
            body_fn = lambda s: json.dumps(render_b(s), separators=(",", ":")).encode()  # noqa: E731
    else:
        if body.is_constant:
            raw = str(body.constant).encode()
            body_fn = lambda s: raw  # noqa: E731
        else:
            render_t = body.render
            body_fn = lambda s: str(render_t(s)).encode()  # noqa: E731

    frozen_tags = FrozenTags(tags)
    if url.is_constant and query is None and isinstance(base_url, str) and body is None and (headers is None or headers.is_constant):
        fixed_url = url_fn({})
        fixed_headers = header_fn({})

        async def send_fixed(vu: Any, scope: Scope) -> Any:
            return await vu.http.request(method, fixed_url, headers=fixed_headers, tags=frozen_tags, timeout=timeout)

        return send_fixed, StaticRequest(method, fixed_url, fixed_headers, None, frozen_tags, timeout)

    async def send(vu: Any, scope: Scope) -> Any:
        return await vu.http.request(
            method, url_fn(scope), headers=header_fn(scope), body=body_fn(scope), tags=frozen_tags, timeout=timeout
        )

    return send, None


def _add_query(url: str, qs: str) -> str:
    if not qs:
        return url
    return url + ("&" if "?" in url else "?") + qs


def _request_runner(
    send: Send,
    checks: dict[str, Predicate],
    captures: list[tuple[str, Extract]],
    think: Callable[[], float] | None,
) -> Runner:
    if not checks and not captures and think is None:
        return send  # type: ignore[return-value]  # its result is simply not used

    async def run(vu: Any, scope: Scope) -> None:
        res = await send(vu, scope)
        reply = Reply(res, scope)
        if checks:
            vu.check(reply, checks)
        for var, extract in captures:
            scope[var] = extract(reply)
        if think is not None:
            await vu.sleep(think())

    return run
