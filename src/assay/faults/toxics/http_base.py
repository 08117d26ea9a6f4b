"""The base of the HTTP/1.1-aware toxics: request matching and per-request firing.

An HTTP toxic sits in a link's chain like any toxic, but it frames the byte stream
into messages (httpmsg.py) and acts on whole requests or responses: on the upstream
stream it sees requests, on the downstream stream responses (matched by the request
they answer). Unmatched messages pass byte for byte. Whether a matching message is
faulted is decided per request, not per connection: `probability`, the `first` N
matching requests, or `every` Nth one.
"""

from __future__ import annotations

import abc
import dataclasses
import random
import re
from collections import deque
from typing import Any

from assay.faults.httpmsg import BODY, END, HEAD, RAW, Event, Head, MessageReader, RequestTap
from assay.faults.toxics.base import DATA, AttributeError_, Chunk, Stub, Toxic

PASS, SWALLOW, BUFFER, TRUNCATE = range(4)


class HttpState:
    """Per link: the framing reader, unprocessed events and the current message's mode."""

    def __init__(self) -> None:
        self.reader: MessageReader | None = None
        self.events: deque[Event] = deque()
        self.mode = PASS
        self.firing = False
        self.head: Head | None = None
        self.body = bytearray()
        self.remaining = 0


def request_tap(stub: Stub) -> RequestTap:
    conn = stub.link.conn
    if conn.http is None:
        tap = RequestTap()
        conn.http = tap
        conn.up.tap = tap
    assert isinstance(conn.http, RequestTap)
    return conn.http


@dataclasses.dataclass(frozen=True)
class HttpToxic(Toxic):
    counts_links = False  # activations are counted per faulted request
    method: str = ""  # e.g. "POST"; empty matches any
    path: str = ""  # a path prefix, e.g. "/v1/"
    path_regex: str = ""  # re.search over the request target
    header: str = ""  # "Name" (present) or "Name: regex"
    probability: float = 1.0  # per matching request
    first: int = 0  # fault only the first N matching requests (0: no limit)
    every: int = 0  # fault every Nth matching request (0: each one)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_seen", [0])  # matching requests so far, shared by all links

    def validate(self) -> None:
        super().validate()
        if not 0.0 <= self.probability <= 1.0:
            raise AttributeError_(f"invalid attribute probability: must be between 0 and 1, got {self.probability}")
        for pattern in (self.path_regex, self.header.partition(":")[2].strip()):
            if pattern:
                try:
                    re.compile(pattern)
                except re.error as exc:
                    raise AttributeError_(f"invalid regular expression {pattern!r}: {exc}") from None

    def new_state(self) -> HttpState:
        return HttpState()

    def attach(self, stub: Stub) -> None:
        # Response-side toxics need the requests from the very next byte on.
        if stub.link.direction == "downstream":
            request_tap(stub)

    # -- matching ------------------------------------------------------------------------
    def matches(self, head: Head) -> bool:
        method, path = head.method, head.path
        headers: Any = head if head.request is None and not head.status else head.request
        if self.method and method.upper() != self.method.upper():
            return False
        if self.path and not path.startswith(self.path):
            return False
        if self.path_regex and not re.search(self.path_regex, path):
            return False
        if self.header:
            name, _, pattern = self.header.partition(":")
            value = headers.header(name.strip()) if headers is not None else None
            if value is None:
                return False
            if pattern.strip() and not re.search(pattern.strip(), value):
                return False
        return True

    def fires(self, stub: Stub) -> bool:
        seen: list[int] = self._seen  # type: ignore[attr-defined]
        seen[0] += 1
        n = seen[0]
        if self.first and n > self.first:
            return False
        if self.every and n % self.every:
            return False
        if self.probability < 1.0 and random.random() >= self.probability:
            return False
        stub.link.conn.proxy.stats.activated(stub.name)
        return True

    # -- hooks for the concrete toxics -----------------------------------------------------
    @abc.abstractmethod
    async def on_fire(self, stub: Stub, st: HttpState, head: Head) -> None:
        """Apply the fault to a matching message whose head has just been read."""

    async def on_end(self, stub: Stub, st: HttpState) -> None:
        """The faulted message is complete (its body was swallowed or buffered)."""

    # -- the stage -------------------------------------------------------------------------
    async def pipe(self, stub: Stub) -> None:
        st: HttpState = stub.state
        if st.reader is None:
            if stub.link.direction == "upstream":
                st.reader = MessageReader(is_request=True)
            else:
                st.reader = MessageReader(is_request=False, request_for_response=request_tap(stub).pop)
        while True:
            while st.events:
                kind, value = st.events.popleft()
                await self._handle(stub, st, kind, value)
                if stub.finished:
                    return
            chunk = await stub.read()
            if chunk.kind != DATA:
                for kind, value in st.reader.feed_eof():
                    await self._handle(stub, st, kind, value)
                    if stub.finished:
                        return
                stub.send(chunk)
                return
            # Every byte read is released here and every byte emitted counted again, so
            # swallowed, buffered or rewritten messages never hold back the source.
            stub.discard(len(chunk.data))
            st.events.extend(st.reader.feed(chunk.data))

    async def _handle(self, stub: Stub, st: HttpState, kind: str, value: object) -> None:
        if kind == HEAD:
            assert isinstance(value, Head)
            st.head = value
            st.body = bytearray()
            if self.matches(value) and self.fires(stub):
                st.firing = True
                await self.on_fire(stub, st, value)
            else:
                st.firing = False
                st.mode = PASS
                self.emit(stub, value.raw)
        elif kind == BODY or kind == RAW:
            assert isinstance(value, bytes)
            if kind == RAW or st.mode == PASS:
                self.emit(stub, value)
            elif st.mode == BUFFER:
                st.body += value
            elif st.mode == TRUNCATE:
                part = value[: st.remaining]
                st.remaining -= len(part)
                if part:
                    self.emit(stub, part)
                if st.remaining <= 0:
                    stub.close()
        elif kind == END:
            if st.firing:
                await self.on_end(stub, st)
            st.firing = False
            st.mode = PASS

    @staticmethod
    def emit(stub: Stub, data: bytes) -> None:
        stub.link.backlog += len(data)  # emitted bytes are counted down again by the sink
        stub.send(Chunk(data, stub.now))


def check_str_dict(name: str, value: Any) -> None:
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise AttributeError_(f"invalid attribute {name}: expected an object of strings")


_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")  # RFC 9110 field-name
_BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # CR, LF, NUL and the other controls (TAB is allowed)


def check_header_name(attribute: str, name: str) -> None:
    if not _TOKEN.match(name):
        raise AttributeError_(f"invalid attribute {attribute}: {name[:60]!r} is not a header name (letters, digits and !#$%&'*+-.^_`|~)")


def check_header_value(attribute: str, name: str, value: str) -> None:
    """No CR or LF (nor other control characters): one would end the header and inject the next."""
    if _BAD_VALUE.search(value):
        raise AttributeError_(f"invalid attribute {attribute}: the value of {name[:60]!r} contains a control character (CR, LF, ...)")
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        raise AttributeError_(f"invalid attribute {attribute}: the value of {name[:60]!r} is not Latin-1 text") from None


def check_headers(attribute: str, value: Any) -> None:
    """An object of header names to values, each safe to write into a message head."""
    check_str_dict(attribute, value)
    for name, text in value.items():
        check_header_name(attribute, name)
        check_header_value(attribute, name, text)


def check_str_list(name: str, value: Any) -> None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise AttributeError_(f"invalid attribute {name}: expected an array of strings")
