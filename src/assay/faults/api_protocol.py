"""uvicorn's HTTP/1.1 protocol with the limits a small admin API needs.

uvicorn has no read timeout: a client that sends half a request (or nothing) holds its
socket forever, so a thousand slow clients hold a thousand descriptors of the process
that also carries the proxied traffic. Toxiproxy's Go server reads each request within
15 s; this does the same, and also caps how many API connections may be open at once
and how big a request head may grow (the parser copies a growing header on every read).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

REQUEST_TIMEOUT = 15.0  # s to receive a whole request (head and body), as Toxiproxy's ReadTimeout
MAX_CONNECTIONS = 128  # API connections open at once; more are answered 503 and closed
MAX_HEAD = 64 * 1024  # bytes of request line and headers
LINGER = 1.0  # s a refused connection keeps reading (and dropping) so its answer is not lost to an RST


def error_response(status: int, reason: str, message: str) -> bytes:
    """A complete response carrying Toxiproxy's error body, closing the connection."""
    body = json.dumps({"error": message, "status": status}).encode() + b"\n"
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain; charset=utf-8\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


class LimitedHttpProtocol(HttpToolsProtocol):
    """One API connection; subclassed per server by `limited_protocol` with its limits."""

    request_timeout = REQUEST_TIMEOUT
    max_connections = MAX_CONNECTIONS
    max_head = MAX_HEAD

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._in_head = True  # the bytes coming are a request head
        self._head_bytes = 0
        self._refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            self._refuse(503, "Service Unavailable", f"too many API connections (at most {self.max_connections} at once)")
            return
        # Until its first byte the connection is idle: uvicorn's keep-alive handler closes it (silently).
        self.timeout_keep_alive_task = self.loop.call_later(self.request_timeout, self.timeout_keep_alive_handler)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # answered and closing: drop the rest
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._in_head and self._head_bytes > self.max_head and not self.transport.is_closing():
            self._refuse(431, "Request Header Fields Too Large", f"request head over {self.max_head} bytes")

    def eof_received(self) -> None:
        if self._refused:
            self.transport.close()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._disarm()
        self._deadline = self.loop.call_later(self.request_timeout, self._too_slow)

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        self._in_head = True
        self._head_bytes = 0
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        # The handler is still waiting for the body: closing makes its receive() say disconnected.
        self._refuse(408, "Request Timeout", f"the request was not received within {self.request_timeout:g} s", quiet=True)

    def _refuse(self, status: int, reason: str, message: str, quiet: bool = False) -> None:
        (self.logger.info if quiet else self.logger.warning)("proxy API: %s (client %s)", message, self.client)
        transport = self.transport
        if self._refused or transport.is_closing():
            return
        self._refused = True
        self._disarm()
        self._unset_keepalive_if_required()
        transport.write(error_response(status, reason, message))
        # Closing with unread input would send an RST that can destroy the answer in flight:
        # send a FIN, drop what still comes, and close once the client closes or LINGER passes.
        if transport.can_write_eof():
            transport.write_eof()
        self.loop.call_later(min(LINGER, self.request_timeout), transport.close)


def limited_protocol(request_timeout: float, max_connections: int, max_head: int = MAX_HEAD) -> type[LimitedHttpProtocol]:
    """The protocol class for one server's limits (uvicorn builds one instance per connection)."""
    limits = {"request_timeout": request_timeout, "max_connections": max_connections, "max_head": max_head}
    return type("LimitedHttpProtocol", (LimitedHttpProtocol,), limits)
