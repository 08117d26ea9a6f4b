"""HTTP/1.1 on the wire: URLs parsed once, request heads and bodies encoded, bodies decoded.

Pure functions shared by the client, its static loop and quick mode; nothing here holds a
connection or records a metric.
"""

from __future__ import annotations

import base64
import json as _json
import zlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from assay.load.http.errors import INVALID_URL, RequestError

if TYPE_CHECKING:
    from assay.load.http.client import ClientOptions

USER_AGENT = "assay/0.1 (https://github.com/assay)"

# url -> (https, host, port, target, host_header, userinfo, pool key, path without query)
ParsedUrl = tuple[bool, str, int, str, str, str, tuple[str, str, int], str]
URL_CACHE: dict[str, ParsedUrl] = {}
URL_CACHE_MAX = 10_000


def parse_url(url: str) -> ParsedUrl:
    """The parts of an http(s) URL a request needs, cached per URL; RequestError for a bad one."""
    cached = URL_CACHE.get(url)
    if cached is not None:
        return cached
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise RequestError(INVALID_URL, f"invalid URL {url!r}: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RequestError(INVALID_URL, f"invalid URL {url!r}: expected http:// or https:// with a host")
    https = parts.scheme == "https"
    host = parts.hostname
    if port is None:
        port = 443 if https else 80
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    host_for_header = f"[{host}]" if ":" in host else host
    default_port = (https and port == 443) or (not https and port == 80)
    host_header = host_for_header if default_port else f"{host_for_header}:{port}"
    userinfo = ""
    if parts.username is not None:
        userinfo = f"{parts.username}:{parts.password or ''}"
    parsed = (https, host, port, target, host_header, userinfo, ("https" if https else "http", host, port), parts.path or "/")
    if len(URL_CACHE) < URL_CACHE_MAX:
        URL_CACHE[url] = parsed
    return parsed


def head_bytes(
    method: str,
    target: str,
    host_header: str,
    headers: Mapping[str, str] | None,
    body_len: int,
    send_length: bool,
    cookie: str,
    options: ClientOptions,
) -> bytes:
    """The request line and headers (Host, User-Agent, Accept-Encoding, Content-Length, Cookie added)."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host_header}"]
    names: set[str] = set()
    # the request's own headers, then options.headers (sent with every request, a plain get(url)
    # too) where the request has no header of that name
    for given, defaults in ((headers or {}, False), (options.headers, True)):
        for k, v in given.items():
            if defaults and k.lower() in names:
                continue
            if "\r" in k or "\n" in k or "\r" in str(v) or "\n" in str(v):
                raise ValueError(f"header {k!r} contains a line break")
            lines.append(f"{k}: {v}")
            names.add(k.lower())
    if "user-agent" not in names:
        lines.append(f"User-Agent: {options.user_agent}")
    if options.accept_gzip and "accept-encoding" not in names:
        lines.append("Accept-Encoding: gzip, deflate")
    if send_length and "content-length" not in names:
        lines.append(f"Content-Length: {body_len}")
    if cookie:
        lines.append(f"Cookie: {cookie}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def encode_body(body: Any, json: Any) -> tuple[bytes, dict[str, str]]:
    """The body bytes and the content type they imply: JSON, a form from a dict, or as given."""
    if json is not None:
        return _json.dumps(json, separators=(",", ":")).encode(), {"Content-Type": "application/json"}
    if body is None:
        return b"", {}
    if isinstance(body, bytes):
        return body, {}
    if isinstance(body, str):
        return body.encode(), {}
    if isinstance(body, Mapping):
        return urlencode(body, doseq=True).encode(), {"Content-Type": "application/x-www-form-urlencoded"}
    raise TypeError(f"body must be bytes, str or a dict, not {type(body).__name__}")


def auth_header(auth: tuple[str, str] | str) -> str:
    """`(user, password)` as basic auth; a token as bearer unless it names its scheme."""
    if isinstance(auth, tuple):
        user, password = auth
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    return auth if auth.lower().startswith(("bearer ", "basic ")) else f"Bearer {auth}"


def decompress(body: bytes, encoding: str, limit: int) -> bytes:
    """The decoded body; ValueError when it would exceed `limit` bytes (a compression bomb)."""
    enc = encoding.strip().lower()
    if enc in ("gzip", "x-gzip"):
        return _inflate(body, 16 + zlib.MAX_WBITS, limit)
    if enc == "deflate":
        try:
            return _inflate(body, zlib.MAX_WBITS, limit)
        except zlib.error:
            return _inflate(body, -zlib.MAX_WBITS, limit)
    return body


def _inflate(body: bytes, wbits: int, limit: int) -> bytes:
    inflater = zlib.decompressobj(wbits)
    out = inflater.decompress(body, limit + 1)
    if len(out) > limit:
        raise ValueError(f"decompressed response body larger than maxResponseBodySize ({limit} bytes)")
    return out + inflater.flush()
