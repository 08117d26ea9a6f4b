"""One keep-alive HTTP/1.1 connection: an asyncio Protocol feeding httptools.

This is the hot path of the engine: no per-request Python objects beyond the response
itself, no stream wrappers, and timeouts checked by one watchdog per event loop instead
of a timer per request.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httptools

from assay.load.http.errors import (
    GENERIC,
    REQUEST_TIMEOUT,
    TCP_BROKEN_PIPE,
    TCP_RESET,
    RequestError,
    classify,
)

_perf = time.perf_counter
# A response head larger than this fails the request (curl allows 300 kB in all, Node 16 kB):
# an endless header line must not grow without bound. The compiled path leaves bigger heads
# to `_feed`, which applies this limit (`_fastresp.MAX_HEAD` is the same number).
MAX_HEAD = 256 * 1024
# Kept response bodies larger than this fail the request (options.maxResponseBodySize).
DEFAULT_MAX_BODY = 16 * 1024 * 1024
# headers the client must act on; searched in the raw head in one C call
_PEEK = socket.MSG_PEEK | socket.MSG_DONTWAIT
# Connections idle less than this are reused without a look at the socket (a few µs each):
# servers close kept-alive connections after idle timeouts of seconds (uvicorn 5 s, nginx 75 s).
QUIET_BEFORE_PEEK_S = 0.01
_SPECIAL = re.compile(rb"\n(?:set-cookie|content-encoding)[ \t]*:", re.IGNORECASE).search


class _ConnectionState:
    """The fields the compiled `FastConnection` holds, for a Python without the extension."""

    __slots__ = (
        "waiter",
        "driver",
        "head",
        "last_data",
        "chunks",
        "special",
        "t_first",
        "t_last",
        "received",
        "status",
        "keep_alive",
        "complete",
        "head_request",
        "closed",
        "discard",
        "max_body",
        "kept",
    )
    waiter: asyncio.Future[None] | None
    # set while a request loop runs on this connection without a coroutine per request
    # (HttpClient.run_static): called with each complete response; True = it sent the next one
    driver: Callable[[Connection], bool] | None
    head: bytes | None
    last_data: bytes
    chunks: list[bytes]
    # headers the client must act on (set-cookie, content-encoding), lower-cased; None when there are none
    special: list[tuple[bytes, bytes]] | None
    t_first: float
    t_last: float
    received: int
    status: int
    keep_alive: bool
    complete: bool
    head_request: bool
    closed: bool
    # discardResponseBodies: body bytes are counted (received) and dropped as they arrive
    discard: bool
    # the largest kept body; `kept` is the current response's body bytes so far
    max_body: int
    kept: int

    def data_received(self, data: bytes) -> None:
        self._feed(data, _perf())  # type: ignore[attr-defined]


if TYPE_CHECKING:
    _ConnectionBase = _ConnectionState
else:
    _ConnectionBase = _ConnectionState
    if not os.environ.get("ASSAY_PURE_HTTP"):
        try:
            from assay.load.http._fastresp import FastConnection as _ConnectionBase
        except ImportError:  # built without a C compiler: everything takes the Python path
            pass

COMPILED = _ConnectionBase is not _ConnectionState


class Connection(_ConnectionBase, asyncio.Protocol):
    """A client connection; at most one request in flight (HTTP/1.1 without pipelining).

    `data_received` is compiled when the extension is built (`_fastresp.c`): a whole plain
    response in one read completes there; everything else comes to `_feed`.
    """

    __slots__ = (
        "loop",
        "key",
        "transport",
        "parser",
        "deadline",
        "reused",
        "tls_version",
        "dog",
        "sock",
        "unsent",
    )

    def __init__(
        self, loop: asyncio.AbstractEventLoop, key: tuple[str, str, int], discard: bool = False, max_body: int = DEFAULT_MAX_BODY
    ) -> None:
        self.loop = loop
        self.discard = discard
        self.max_body = max_body
        self.kept = 0
        self.key = key
        self.transport: Any = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter = None
        self.closed = False
        self.status = 0
        self.chunks = []
        self.t_first = 0.0
        self.t_last = 0.0
        self.received = 0
        self.keep_alive = True
        self.head_request = False
        self.deadline = 0.0
        self.complete = False
        self.reused = False
        self.tls_version = ""
        self.special = None
        self.dog = _watchdog(loop)
        self.head = None
        self.last_data = b""
        self.driver = None
        self.sock: tuple[int, int] | None = None  # (fd, family): to look at an idle socket (peer_closed)
        self.unsent = False  # the last request's write failed before any byte of it left

    # -- asyncio.Protocol -----------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.dog.add(self)
        raw = transport.get_extra_info("socket")
        if raw is not None:
            self.sock = (raw.fileno(), raw.family)

    def _feed(self, data: bytes, now: float) -> None:
        # one clock reading per read (taken by data_received): the first is when the response
        # started arriving, the last (t_last) when it finished
        self.t_last = now
        if not self.t_first:
            self.t_first = now
            self.last_data = data
        elif self.status == 0:
            # the head spans several reads: keep all of it until the headers are complete
            self.head = (self.head if self.head is not None else self.last_data) + data
        self.received += len(data)
        if self.waiter is None:
            # Bytes nobody asked for (a server speaking out of turn): this connection is unusable.
            self.close()
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(RequestError(GENERIC, f"malformed HTTP response: {exc}"))
            self.close()
            return
        if self.status == 0 and self.received > MAX_HEAD and not self.closed:
            self._fail(RequestError(GENERIC, f"response head larger than {MAX_HEAD // 1024} KiB"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.dog.conns.discard(self)
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            if exc is None and self.status and not self.complete and self.t_first and not _framed(self.head):
                # A body delimited by the end of the connection (one with a length or chunks
                # that ends early is cut short, and fails below).
                self.complete = True
                self.keep_alive = False
                self.waiter = None
                waiter.set_result(None)
                return
            if exc is not None:
                err = classify(exc, dialing=False)
            elif self.status:
                err = RequestError(TCP_RESET, "unexpected EOF: the server closed the connection mid-response")
            else:
                err = RequestError(TCP_RESET, "EOF: server closed the connection")
            self.waiter = None
            waiter.set_exception(err)

    # -- httptools callbacks --------------------------------------------------------------------------

    def on_headers_complete(self) -> None:
        # No per-header callback: the raw head is kept and parsed only if someone reads it
        # (Response.headers), or when it mentions a header the client must act on.
        self.status = self.parser.get_status_code()
        head = self.head
        if head is None:
            # the read that holds the whole head (it may run on into the body: whoever parses
            # it stops at the blank line, so it is not sliced here)
            head = self.head = self.last_data
        else:
            end = head.find(b"\r\n\r\n")
            if end >= 0:
                head = self.head = head[: end + 4]
        if _SPECIAL(head) is not None:
            self.special = special_headers(head)
        if self.head_request and self.status >= 200:
            # A HEAD response has no body whatever Content-Length says; the parser would wait for one.
            self.keep_alive = False
            self._done()

    def on_body(self, body: bytes) -> None:
        if self.discard or self.closed:
            return
        kept = self.kept + len(body)
        if kept > self.max_body:
            self._fail(
                RequestError(
                    GENERIC,
                    f"response body larger than maxResponseBodySize ({self.max_body} bytes): "
                    "set discardResponseBodies or raise maxResponseBodySize",
                )
            )
            self.close()
            return
        self.kept = kept
        self.chunks.append(body)

    def on_message_complete(self) -> None:
        if 100 <= self.status < 200 and self.status != 101:
            self.status = 0
            self.head = None
            self.t_first = 0.0
            self.chunks = []
            return
        if self.complete:
            return
        self.keep_alive = self.parser.should_keep_alive()
        self.complete = True
        driver = self.driver
        if driver is not None and driver(self):
            return
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(None)

    # -- used by the client ---------------------------------------------------------------------------

    def start(self, data: bytes, deadline: float, head: bool) -> asyncio.Future[None]:
        """Send one request; the returned future completes when the response has been read."""
        self.status = 0
        self.head = None
        self.chunks = []
        self.special = None
        self.t_first = 0.0
        self.received = 0
        self.complete = False
        self.head_request = head
        self.deadline = deadline
        self.kept = 0
        waiter = self.waiter = self.loop.create_future()
        transport = self.transport
        try:
            transport.write(data)
        except RuntimeError:
            # the transport closed before connection_lost reached us (a server that closes at once)
            self.closed = self.unsent = True
            self.waiter = None
            waiter.set_exception(RequestError(TCP_BROKEN_PIPE, "write: broken pipe (the server closed the connection)"))
            return waiter
        # A transport that writes at once and fails closes itself before write() returns: then
        # nothing of this request left (Go's nothingWrittenError), so it may be sent again.
        self.unsent = transport.is_closing()
        return waiter

    def restart(self, data: bytes, deadline: float) -> None:
        """Send the next request of a driven loop (the loop's waiter stays in place)."""
        self.expect(deadline)
        self.send(data)

    def expect(self, deadline: float) -> None:
        """Get ready to read the response to a request about to be sent (by `send`)."""
        self.status = 0
        self.head = None
        self.chunks = []
        self.special = None
        self.t_first = 0.0
        self.received = 0
        self.kept = 0
        self.complete = False
        self.deadline = deadline

    def send(self, data: bytes) -> None:
        """Write a request; a write that fails fails the waiter as a broken pipe."""
        try:
            self.transport.write(data)
        except RuntimeError:
            self.closed = self.unsent = True
            self._fail(RequestError(TCP_BROKEN_PIPE, "write: broken pipe (the server closed the connection)"))
            return
        self.unsent = self.transport.is_closing()

    def peer_closed(self) -> bool:
        """True when this idle connection cannot carry a request: the server closed it (its FIN
        or RST waits on the socket, not yet seen by a busy event loop) or sent bytes nobody
        asked for. Go's transport learns this from a read loop that runs while the connection
        is idle; here one non-blocking peek before reuse does it, so the request goes on a new
        connection instead of failing (or being sent twice)."""
        if self.closed or self.transport is None or self.transport.is_closing():
            return True
        if self.sock is None or _perf() - self.t_last < QUIET_BEFORE_PEEK_S:
            return False  # in use a moment ago: no server's idle timeout closed it since
        fd, family = self.sock
        try:
            peek = socket.socket(family, socket.SOCK_STREAM, 0, fd)
        except OSError:
            return True
        try:
            data = peek.recv(1, _PEEK)
        except (BlockingIOError, InterruptedError):
            return False  # nothing to read: the connection is open and quiet
        except OSError:
            return True  # reset
        finally:
            peek.detach()  # the fd stays the transport's
        # b"": the server's FIN; bytes on a TLS socket may be the server's session tickets
        return not data or not self.tls_version

    def body(self) -> bytes:
        chunks = self.chunks
        if not chunks:
            return b""
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def timeout(self) -> None:
        self._fail(RequestError(REQUEST_TIMEOUT, "request timeout"))
        self.close()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    def _done(self) -> None:
        self.complete = True
        waiter = self.waiter
        self.waiter = None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, err: RequestError) -> None:
        waiter = self.waiter
        self.waiter = None
        if waiter is not None and not waiter.done():
            waiter.set_exception(err)


_FRAMING = re.compile(rb"\n(?:content-length|transfer-encoding)[ \t]*:", re.IGNORECASE).search


def _framed(head: bytes | None) -> bool:
    """True when the response says where its body ends (Content-Length or chunked), so the
    end of the connection cannot be the end of the body."""
    if not head:
        return False
    end = head.find(b"\r\n\r\n")
    return _FRAMING(head, 0, end if end >= 0 else len(head)) is not None


def parse_head(head: bytes) -> list[tuple[str, str]]:
    """Header (name, value) pairs of a raw response head (status line first)."""
    out: list[tuple[str, str]] = []
    end = head.find(b"\r\n\r\n")
    if end >= 0:
        head = head[:end]
    for line in head.split(b"\r\n")[1:]:
        if not line:
            continue
        name, sep, value = line.partition(b":")
        if sep:
            out.append((name.strip().decode("latin-1"), value.strip().decode("latin-1")))
    return out


def special_headers(head: bytes) -> list[tuple[bytes, bytes]]:
    """The Set-Cookie and Content-Encoding headers of a raw head, names lower-cased."""
    out: list[tuple[bytes, bytes]] = []
    end = head.find(b"\r\n\r\n")
    if end >= 0:
        head = head[:end]
    for line in head.split(b"\r\n")[1:]:
        name, sep, value = line.partition(b":")
        low = name.strip().lower()
        if sep and (low == b"set-cookie" or low == b"content-encoding"):
            out.append((low, value.strip()))
    return out


class _Watchdog:
    """Times out requests for one event loop by scanning its open connections every 50 ms.

    Connections register once (when connected), so a request costs nothing here: the scan
    looks at each connection's waiter and deadline.
    """

    INTERVAL = 0.05

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.conns: set[Connection] = set()
        self.handle: asyncio.TimerHandle | None = None

    def add(self, conn: Connection) -> None:
        self.conns.add(conn)
        if self.handle is None:
            self.handle = self.loop.call_later(self.INTERVAL, self._scan)

    def _scan(self) -> None:
        self.handle = None
        now = _perf()
        late = [c for c in self.conns if c.waiter is not None and c.deadline and now >= c.deadline]
        for conn in late:
            conn.timeout()
        if self.conns:
            self.handle = self.loop.call_later(self.INTERVAL, self._scan)


_WATCHDOGS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Watchdog] = weakref.WeakKeyDictionary()


def _watchdog(loop: asyncio.AbstractEventLoop) -> _Watchdog:
    dog = _WATCHDOGS.get(loop)
    if dog is None:
        dog = _WATCHDOGS[loop] = _Watchdog(loop)
    return dog
