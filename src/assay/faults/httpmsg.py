"""Incremental HTTP/1.1 message framing for the HTTP toxics.

It finds where each request or response starts and ends in a byte stream and hands
back the exact bytes, so unmatched traffic is forwarded byte for byte. Bodies are
framed by Content-Length, chunked encoding, or (responses only) the connection's end.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

MAX_HEAD = 64 * 1024


@dataclass
class Head:
    raw: bytes
    start: str  # the request line or the status line
    headers: list[tuple[str, str]]
    method: str = ""
    path: str = ""
    status: int = 0
    request: RequestInfo | None = None  # for a response: the request it answers

    def header(self, name: str) -> str | None:
        lname = name.lower()
        for k, v in self.headers:
            if k.lower() == lname:
                return v
        return None

    def render(self, headers: list[tuple[str, str]] | None = None) -> bytes:
        lines = [self.start] + [f"{k}: {v}" for k, v in (self.headers if headers is None else headers)]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


@dataclass
class RequestInfo:
    method: str
    path: str
    headers: list[tuple[str, str]] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        lname = name.lower()
        for k, v in self.headers:
            if k.lower() == lname:
                return v
        return None


class FramingError(ValueError):
    """Not HTTP/1.x: the reader switches to raw pass-through."""


HEAD, BODY, END, RAW = "head", "body", "end", "raw"
Event = tuple[str, object]


class MessageReader:
    """Feed bytes, get events: (HEAD, Head), (BODY, raw bytes), (END, None), (RAW, bytes)."""

    def __init__(self, is_request: bool, request_for_response: Callable[[], RequestInfo | None] | None = None) -> None:
        self.is_request = is_request
        self.request_for_response = request_for_response
        self.buf = bytearray()
        self.state = "head"  # head | length | chunk_size | chunk_data | chunk_crlf | trailers | until_close | raw
        self.remaining = 0

    def feed(self, data: bytes) -> list[Event]:
        self.buf += data
        events: list[Event] = []
        while self.buf:
            st = self.state
            if st == "raw":
                events.append((RAW, bytes(self.buf)))
                self.buf.clear()
            elif st == "head":
                end = self.buf.find(b"\r\n\r\n")
                if end < 0:
                    if len(self.buf) > MAX_HEAD or (len(self.buf) >= 4 and not _looks_http(self.buf, self.is_request)):
                        self.state = "raw"
                        continue
                    break
                raw = bytes(self.buf[: end + 4])
                del self.buf[: end + 4]
                try:
                    head = self._parse_head(raw)
                except FramingError:
                    self.state = "raw"
                    events.append((RAW, raw))
                    continue
                events.append((HEAD, head))
                self._frame(head, events)
            elif st == "length":
                take = min(self.remaining, len(self.buf))
                events.append((BODY, bytes(self.buf[:take])))
                del self.buf[:take]
                self.remaining -= take
                if self.remaining == 0:
                    self._end(events)
            elif st == "until_close":
                events.append((BODY, bytes(self.buf)))
                self.buf.clear()
            elif st == "chunk_size":
                end = self.buf.find(b"\r\n")
                if end < 0:
                    break
                line = bytes(self.buf[: end + 2])
                del self.buf[: end + 2]
                try:
                    size = int(line.split(b";", 1)[0].strip() or b"x", 16)
                except ValueError:
                    self.state = "raw"
                    events.append((RAW, line))
                    continue
                events.append((BODY, line))
                if size == 0:
                    self.state = "trailers"
                else:
                    self.remaining = size
                    self.state = "chunk_data"
            elif st == "chunk_data":
                take = min(self.remaining, len(self.buf))
                events.append((BODY, bytes(self.buf[:take])))
                del self.buf[:take]
                self.remaining -= take
                if self.remaining == 0:
                    self.state = "chunk_crlf"
            elif st == "chunk_crlf":
                if len(self.buf) < 2:
                    break
                events.append((BODY, bytes(self.buf[:2])))
                del self.buf[:2]
                self.state = "chunk_size"
            elif st == "trailers":
                end = self.buf.find(b"\r\n")
                if end < 0:
                    break
                line = bytes(self.buf[: end + 2])
                del self.buf[: end + 2]
                events.append((BODY, line))
                if end == 0:
                    self._end(events)
        return events

    def feed_eof(self) -> list[Event]:
        """The stream ended: a body framed by the connection's end is complete."""
        events: list[Event] = []
        if self.buf:
            events.append((RAW, bytes(self.buf)))
            self.buf.clear()
        if self.state == "until_close":
            self._end(events)
        return events

    def _parse_head(self, raw: bytes) -> Head:
        try:
            text = raw.decode("latin-1")
        except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes everything
            raise FramingError from None
        lines = text[:-4].split("\r\n")
        start = lines[0]
        headers: list[tuple[str, str]] = []
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                raise FramingError(line)
            headers.append((name.strip(), value.strip()))
        parts = start.split(" ", 2)
        head = Head(raw, start, headers)
        if self.is_request:
            if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
                raise FramingError(start)
            head.method, head.path = parts[0], parts[1]
        else:
            if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
                raise FramingError(start)
            head.status = int(parts[1])
        return head

    def _frame(self, head: Head, events: list[Event]) -> None:
        te = (head.header("transfer-encoding") or "").lower()
        cl = head.header("content-length")
        if not self.is_request:
            if head.status == 101:
                events.append((END, None))
                self.state = "raw"
                return
            if 100 <= head.status < 200:
                events.append((END, None))
                self.state = "head"
                return
            req = self.request_for_response() if self.request_for_response else None
            head.request = req
            head.method = req.method if req else ""
            head.path = req.path if req else ""
            if head.method == "HEAD" or head.status in (204, 304):
                self._end(events)
                return
        if "chunked" in te:
            self.state = "chunk_size"
        elif cl is not None and cl.strip().isdigit():
            self.remaining = int(cl)
            if self.remaining == 0:
                self._end(events)
            else:
                self.state = "length"
        elif self.is_request:
            self._end(events)
        else:
            self.state = "until_close"

    def _end(self, events: list[Event]) -> None:
        events.append((END, None))
        self.state = "head"


def _looks_http(buf: bytearray, is_request: bool) -> bool:
    if is_request:
        return bool(buf[:1].isalpha() and buf[:1].isupper())
    return bytes(buf[:5]) == b"HTTP/"[: len(buf[:5])]


def dechunk(raw: bytes) -> bytes:
    """The payload of a chunked body given its exact wire bytes."""
    out = bytearray()
    i = 0
    while i < len(raw):
        end = raw.find(b"\r\n", i)
        if end < 0:
            break
        size = int(raw[i:end].split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            break
        out += raw[end + 2 : end + 2 + size]
        i = end + 2 + size + 2
    return bytes(out)


class RequestTap:
    """Records request heads seen on a connection's upstream link, so that response-side
    toxics know which request each response answers (method, path, headers)."""

    def __init__(self) -> None:
        self.reader = MessageReader(is_request=True)
        self.requests: deque[RequestInfo] = deque()

    def __call__(self, data: bytes) -> None:
        for kind, value in self.reader.feed(data):
            if kind == HEAD:
                assert isinstance(value, Head)
                self.requests.append(RequestInfo(value.method, value.path, value.headers))

    def pop(self) -> RequestInfo | None:
        return self.requests.popleft() if self.requests else None
