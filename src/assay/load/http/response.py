"""Responses as scenarios see them: status, headers, body, k6 timings, error and error_code."""

from __future__ import annotations

import functools
import json as _json
from collections.abc import Iterator, Mapping
from typing import Any


class Headers(Mapping[str, str]):
    """Case-insensitive, read-only response headers; repeated headers join with ', ' (get_all keeps them)."""

    __slots__ = ("_items", "_map")

    def __init__(self, items: list[tuple[str, str]] | bytes | None = None) -> None:
        if isinstance(items, bytes):
            from assay.load.http.connection import parse_head

            items = parse_head(items)
        self._items: list[tuple[str, str]] = items or []
        merged: dict[str, str] = {}
        for name, value in self._items:
            key = name.lower()
            merged[key] = f"{merged[key]}, {value}" if key in merged else value
        self._map = merged

    def __getitem__(self, key: str) -> str:
        return self._map[key.lower()]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._map

    def __iter__(self) -> Iterator[str]:
        return iter(self._map)

    def __len__(self) -> int:
        return len(self._map)

    def get_all(self, key: str) -> list[str]:
        k = key.lower()
        return [v for n, v in self._items if n.lower() == k]

    def items_raw(self) -> list[tuple[str, str]]:
        return list(self._items)

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


class Timings:
    """k6's per-request timings in milliseconds (`duration` = sending + waiting + receiving)."""

    __slots__ = ("blocked", "connecting", "tls_handshaking", "sending", "waiting", "receiving", "duration")

    def __init__(
        self,
        blocked: float = 0.0,
        connecting: float = 0.0,
        tls_handshaking: float = 0.0,
        sending: float = 0.0,
        waiting: float = 0.0,
        receiving: float = 0.0,
        duration: float = 0.0,
    ) -> None:
        self.blocked = blocked
        self.connecting = connecting
        self.tls_handshaking = tls_handshaking
        self.sending = sending
        self.waiting = waiting
        self.receiving = receiving
        self.duration = duration

    def as_dict(self) -> dict[str, float]:
        return {k: getattr(self, k) for k in self.__slots__}

    def __repr__(self) -> str:
        return "Timings(" + ", ".join(f"{k}={getattr(self, k):.3f}" for k in self.__slots__) + ")"


class Request:
    """What was sent (for debugging and captures): method, url, headers, body."""

    __slots__ = ("method", "url", "headers", "body")

    def __init__(self, method: str, url: str, headers: dict[str, str], body: bytes) -> None:
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body

    def __repr__(self) -> str:
        return f"Request({self.method} {self.url})"


class Response:
    """One HTTP response, or a failed request (status 0, `error` and `error_code` set)."""

    __slots__ = ("status", "_raw_headers", "_headers", "body", "_timings", "error", "error_code", "url", "request", "proto")

    def __init__(
        self,
        status: int,
        raw_headers: bytes | list[tuple[str, str]] | None,
        body: bytes,
        timings: Timings | tuple[float, ...],
        url: str,
        request: Request | None = None,
        error: str = "",
        error_code: int = 0,
    ) -> None:
        self.status = status
        self._raw_headers = raw_headers  # the raw head bytes, parsed on first access
        self._headers: Headers | None = None
        self.body = body
        self._timings = timings
        self.url = url
        self.request = request
        self.error = error
        self.error_code = error_code
        self.proto = "HTTP/1.1"

    @property
    def timings(self) -> Timings:
        t = self._timings
        if isinstance(t, tuple):
            t = self._timings = Timings(*t[:7])
        return t

    @property
    def headers(self) -> Headers:
        if self._headers is None:
            self._headers = Headers(self._raw_headers)
        return self._headers

    @property
    def text(self) -> str:
        charset = "utf-8"
        ctype = self.headers.get("content-type", "")
        if "charset=" in ctype:
            charset = ctype.split("charset=", 1)[1].split(";", 1)[0].strip().strip('"') or "utf-8"
        try:
            return self.body.decode(charset, errors="replace")
        except LookupError:
            return self.body.decode("utf-8", errors="replace")

    def json(self, path: str | None = None) -> Any:
        """The body parsed as JSON; with `path` one value of it (None when absent, as k6's undefined).

        `path` is k6's selector (`"a.b.0.c"`, `"items.#"`) or a JSONPath (`"$.a.b[0].c"`),
        read by the same code as YAML scenarios' `json:` checks and captures.
        """
        data = _json.loads(self.body)
        if path:
            found = _selector(path).value(data)
            return None if found is _missing() else found
        return data

    @property
    def ok(self) -> bool:
        return self.error_code == 0 and 200 <= self.status < 400

    def __repr__(self) -> str:
        if self.error_code:
            return f"Response(error_code={self.error_code}, error={self.error!r}, url={self.url!r})"
        return f"Response(status={self.status}, url={self.url!r}, {len(self.body)} bytes)"


@functools.lru_cache(maxsize=256)
def _selector(path: str) -> Any:
    from assay.load.yaml.jsonpath import compile_json_path

    return compile_json_path(path, dotted=True)


def _missing() -> Any:
    from assay.load.yaml.template import MISSING

    return MISSING
