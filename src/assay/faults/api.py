"""The Toxiproxy HTTP API as a plain ASGI app (reference: faults.md §1).

Routes, status codes, JSON shapes and error bodies follow Toxiproxy 2.12 exactly,
including its quirks: errors are JSON sent as text/plain, toxic create answers 200,
browsers are refused, POST and PATCH both update.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Awaitable, Callable
from typing import Any

from assay.faults.collection import ProxyCollection
from assay.faults.errors import ApiError
from assay.faults.metrics import CONTENT_TYPE, registry_for, render

VERSION = "2.12.0"
MAX_INT_DIGITS = 20  # an int64 has 19 digits; anything longer is out of range for every field
MAX_BODY = 16 * 1024 * 1024  # the largest request body read (a /populate of thousands of proxies fits)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

_PROXY = re.compile(r"^/proxies/([^/]+)$")
_TOXICS = re.compile(r"^/proxies/([^/]+)/toxics$")
_TOXIC = re.compile(r"^/proxies/([^/]+)/toxics/([^/]+)$")


class _NoMatch(Exception):
    pass


def _go_float(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def _dumps(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def _toxic_json(entry: Any) -> dict[str, Any]:
    out: dict[str, Any] = entry.as_json()
    out["toxicity"] = _go_float(out["toxicity"])
    return out


def _proxy_json(proxy: Any, with_stats: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = proxy.as_json(with_stats)
    out["toxics"] = [_toxic_json(t) for t in proxy.toxic_list()]
    return out


class ToxiproxyApi:
    def __init__(self, collection: ProxyCollection) -> None:
        self.collection = collection
        self.metrics = registry_for(collection)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        parts: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left (or was too slow) before the request was whole: act on nothing
            part = message.get("body", b"")
            size += len(part)
            if size > MAX_BODY:
                err = _dumps({"error": f"request body over {MAX_BODY} bytes", "status": 413}) + b"\n"
                await _respond(send, 413, err, "text/plain; charset=utf-8")
                return
            parts.append(part)
            if not message.get("more_body"):
                break
        body = b"".join(parts)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if headers.get("user-agent", "").startswith("Mozilla/"):
            await _respond(send, 403, b"User agent not allowed\n", "text/plain; charset=utf-8")
            return
        try:
            status, payload, ctype = await self._route(scope["method"], scope["path"], body)
        except _NoMatch:
            await _respond(send, 404, b"404 page not found\n", "text/plain; charset=utf-8")
            return
        except ApiError as exc:
            err = _dumps({"error": exc.message, "status": exc.status}) + b"\n"
            await _respond(send, exc.status, err, "text/plain; charset=utf-8")
            return
        await _respond(send, status, payload, ctype)

    async def _route(self, method: str, path: str, body: bytes) -> tuple[int, bytes, str]:
        c = self.collection
        js = "application/json"
        if path == "/proxies":
            if method == "GET":
                return 200, _dumps({n: _proxy_json(p) for n, p in c.proxies.items()}), js
            if method == "POST":
                proxy = await c.create(_decode(body))
                return 201, _dumps(_proxy_json(proxy)), js
            return _not_allowed()
        if path == "/populate":
            if method != "POST":
                return _not_allowed()
            try:
                data = _decode(body)
            except ApiError as exc:
                return exc.status, _dumps({"error": exc.message, "status": exc.status, "proxies": []}), js
            done, error = await c.populate(data)
            proxies = [_proxy_json(p) for p in done]
            if error is not None:
                return error.status, _dumps({"error": error.message, "status": error.status, "proxies": proxies}), js
            return 201, _dumps({"proxies": proxies}), js
        if path == "/reset":
            if method != "POST":
                return _not_allowed()
            await c.reset()
            return 204, b"", ""
        if path == "/version":
            if method != "GET":
                return _not_allowed()
            return 200, _dumps({"version": VERSION}) + b"\n", "application/json;charset=utf-8"
        if path == "/metrics":
            if method != "GET":
                return _not_allowed()
            return 200, render(self.metrics), CONTENT_TYPE
        m = _PROXY.match(path)
        if m:
            name = m.group(1)
            if method == "GET":
                return 200, _dumps(_proxy_json(c.get(name), with_stats=True)), js
            if method in ("POST", "PATCH"):
                c.get(name)  # 404 before the body is read, as Toxiproxy does
                proxy = await c.update(name, _decode(body))
                return 200, _dumps(_proxy_json(proxy)), js
            if method == "DELETE":
                await c.remove(name)
                return 204, b"", ""
            return _not_allowed()
        m = _TOXICS.match(path)
        if m:
            proxy = c.get(m.group(1))
            if method == "GET":
                return 200, _dumps([_toxic_json(t) for t in proxy.toxic_list()]), js
            if method == "POST":
                data = _decode(body)
                if data is None:
                    data = {}
                if not isinstance(data, dict):
                    raise ApiError(400, "bad request body: json: cannot unmarshal array into Go value of type toxics.ToxicWrapper")
                async with proxy.lock:
                    entry = await proxy.add_toxic(data)
                return 200, _dumps(_toxic_json(entry)), js
            return _not_allowed()
        m = _TOXIC.match(path)
        if m:
            proxy = c.get(m.group(1))
            name = m.group(2)
            if method == "GET":
                return 200, _dumps(_toxic_json(proxy.find_toxic(name))), js
            if method in ("POST", "PATCH"):
                data = _decode(body)
                if data is None:
                    data = {}
                if not isinstance(data, dict):
                    raise ApiError(400, "bad request body: json: cannot unmarshal array into Go value of type struct")
                async with proxy.lock:
                    entry = await proxy.update_toxic(name, data)
                return 200, _dumps(_toxic_json(entry)), js
            if method == "DELETE":
                async with proxy.lock:
                    await proxy.remove_toxic(name)
                return 204, b"", ""
            return _not_allowed()
        raise _NoMatch


def _not_allowed() -> tuple[int, bytes, str]:
    return 405, b"", ""


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text} is out of range")
    return value


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"number {text[:20]}... ({len(text)} digits) is out of range")
    return int(text)


def _decode(body: bytes) -> Any:
    """JSON as Go decodes it: no NaN or infinities, no numbers past 64 bits, no stack-deep nesting."""
    if not body.strip():
        raise ApiError(400, "bad request body: EOF")
    try:
        return json.loads(body, parse_constant=_no_constant, parse_float=_finite, parse_int=_bounded_int)
    except RecursionError:
        raise ApiError(400, "bad request body: nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
        raise ApiError(400, f"bad request body: {exc}") from None


async def _respond(send: Send, status: int, body: bytes, ctype: str) -> None:
    headers = [(b"content-length", str(len(body)).encode())]
    if ctype:
        headers.append((b"content-type", ctype.encode()))
    if ctype.startswith("text/plain") and status >= 400:
        headers.append((b"x-content-type-options", b"nosniff"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
