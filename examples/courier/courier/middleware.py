"""Two ASGI middlewares: per-route metrics, and a bounded request queue (admission control).

A server that queues without bound only turns overload into timeouts for everyone;
here at most `max_concurrency` requests run, `max_queue` wait (each at most
`queue_timeout_s`), and the rest get an immediate 503 OVERLOADED with Retry-After.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from courier.metrics import Metrics
from courier.settings import Settings

UNQUEUED = frozenset({"/health/live", "/health/ready", "/metrics"})
ERROR_CODE_KEY = "courier.error_code"


def route_of(scope: Scope) -> str:
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "unmatched"


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = route_of(scope)
            self.metrics.request_latency.labels(scope["method"], route, str(status)).observe(
                time.perf_counter() - start
            )
            if status >= 400:
                code = scope.get(ERROR_CODE_KEY) or str(status)
                self.metrics.errors.labels(route, code).inc()


async def _reject(send: Send, code: str, message: str) -> None:
    body = json.dumps({"status": 503, "message": message, "error_code": code}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/json"),
                (b"retry-after", b"1"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class AdmissionMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings, metrics: Metrics) -> None:
        self.app = app
        self.s = settings
        self.metrics = metrics
        self.slots: asyncio.Semaphore | None = None
        self.waiting = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNQUEUED:
            await self.app(scope, receive, send)
            return
        if self.slots is None:
            self.slots = asyncio.Semaphore(self.s.max_concurrency)
        slots = self.slots
        if slots.locked():
            if self.waiting >= self.s.max_queue:
                self.metrics.rejected.labels("queue_full").inc()
                scope[ERROR_CODE_KEY] = "OVERLOADED"
                await _reject(send, "OVERLOADED", "the server is at capacity; retry shortly")
                return
            self.waiting += 1
            self.metrics.request_queue.set(self.waiting)
            try:
                await asyncio.wait_for(slots.acquire(), self.s.queue_timeout_s)
            except TimeoutError:
                self.metrics.rejected.labels("queue_timeout").inc()
                scope[ERROR_CODE_KEY] = "OVERLOADED"
                await _reject(send, "OVERLOADED", "waited too long for a free worker; retry shortly")
                return
            finally:
                self.waiting -= 1
                self.metrics.request_queue.set(self.waiting)
        else:
            await slots.acquire()
        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send)
        finally:
            slots.release()
            self.metrics.in_flight.dec()


class BodyLimitMiddleware:
    """Refuse a request whose declared body exceeds `limit` bytes with a 413, before reading it."""

    def __init__(self, app: ASGIApp, limit: int, metrics: Metrics) -> None:
        self.app = app
        self.limit = limit
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            declared = dict(scope.get("headers") or ()).get(b"content-length")
            if declared is not None and declared.isdigit() and int(declared) > self.limit:
                self.metrics.too_large.labels("request").inc()
                scope[ERROR_CODE_KEY] = "REQUEST_TOO_LARGE"
                body = json.dumps(
                    {
                        "status": 413,
                        "message": f"the request body is {int(declared)} bytes; the limit is {self.limit} bytes",
                        "error_code": "REQUEST_TOO_LARGE",
                        "limit_bytes": self.limit,
                        "size_bytes": int(declared),
                    }
                ).encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 413,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close"),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
