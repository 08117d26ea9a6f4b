"""k6/http's host functions: requests, batches, response fields and cookie jars for k6.js.

A mixin of JsContext. `http.get(url)` without params does not come here (JsContext.bind_fast);
everything else (params, bodies, other methods, batch) crosses as strings and JSON, and a
response's fields beyond its status are read only when the script reads them (`_h_res`).
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from assay.load.http.client import ClientOptions
from assay.load.http.cookies import CookieJar

if TYPE_CHECKING:
    from assay.load.http.response import Response
    from assay.load.js.driver import Driver
    from assay.load.js.runtime import Program
    from assay.load.vu import VU


class HttpHost:
    """k6/http on the VU's HttpClient (the `__h_request`, `__h_batch`, `__h_res`, ... host functions)."""

    vu: VU | None
    program: Program
    driver: Driver
    responses: list[Response | None]
    kinds: dict[int, str]
    jars: dict[int, CookieJar]
    expected_override: bytes | None

    def _h_request(self, method: str, url: str, body_kind: str, body: str, params: str | None) -> int:
        vu = self.vu
        if vu is None:
            raise RuntimeError("http requests are not allowed in the init context (outside functions), as in k6")
        client = vu.http
        if params is None and not body_kind and method == "GET" and self.expected_override is None and not self.program.no_reuse:
            res = self.driver.wait(client.get(url))
            self.responses.append(res)
            return int(res.status)
        res = self.driver.wait(self._request(method, url, body_kind, body, params))
        self.responses.append(res)
        return int(res.status)

    def _h_batch(self, reqs: str) -> str:
        vu = self.vu
        if vu is None:
            raise RuntimeError("http.batch is not allowed in the init context")

        async def all_of() -> list[Response]:
            return list(await asyncio.gather(*(self._request(*r) for r in json.loads(reqs))))

        results = self.driver.wait(all_of())
        self.responses.extend(results)
        return json.dumps([r.status for r in results])

    async def _request(self, method: str, url: str, body_kind: str, body: str, params: str | None) -> Response:
        vu = self.vu
        assert vu is not None
        client = vu.http
        p: dict[str, Any] = json.loads(params) if params else {}
        headers = {str(k): str(v) for k, v in (p.get("headers") or {}).items()}
        payload: bytes | str | None = None
        if body_kind == "s":
            payload = body
        elif body_kind == "b":
            payload = base64.b64decode(body)
        elif body_kind == "f":
            payload = urlencode([tuple(pair) for pair in json.loads(body)]).encode()
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        elif body_kind == "m":
            payload, ctype = _multipart(json.loads(body))
            headers["Content-Type"] = ctype
        cookies = p.get("cookies")
        if cookies:
            pairs = "; ".join(f"{k}={v['value'] if isinstance(v, dict) else v}" for k, v in cookies.items())
            headers["Cookie"] = f"{headers['Cookie']}; {pairs}" if "Cookie" in headers else pairs
        tags = str_map(p["tags"]) if p.get("tags") else None
        timeout = _timeout(p.get("timeout"))
        auth = p.get("auth")
        if auth not in (None, "basic"):
            raise RuntimeError(f"params.auth {auth!r} is not supported (basic auth from the URL is)")
        redirects = p.get("redirects")
        saved_jar = None
        if "jar" in p:
            saved_jar = client.cookies
            client.cookies = self._jar(int(p["jar"]))
        saved_expected = None
        override = self.expected_override
        if "responseCallback" in p:
            override = _expected_table(p["responseCallback"])
        if override is not None:
            saved_expected = client._expected
            client._expected = override
        try:
            res = await client.request(
                method, url, headers=headers or None, body=payload, tags=tags, timeout=timeout,
                redirects=None if redirects is None else int(redirects),
            )
        finally:
            if saved_jar is not None:
                client.cookies = saved_jar
            if saved_expected is not None:
                client._expected = saved_expected
            if self.program.no_reuse:
                _drop_idle(client)
        res_type = p.get("responseType")
        if res_type is not None:
            self.kinds[id(res)] = str(res_type)
        return res

    def _h_expected(self, ranges: str) -> None:
        self.expected_override = _expected_table(json.loads(ranges))

    def _h_res(self, index: int, field: str) -> Any:
        try:
            res = self.responses[int(index)]
        except IndexError:
            raise RuntimeError("this response belongs to an earlier iteration; keep the values you need, not the response") from None
        assert res is not None
        if field == "kind":
            return self.kinds.get(id(res)) or ("none" if self.program.discard_bodies else "text")
        if field == "body":
            return base64.b64encode(res.body).decode() if self.kinds.get(id(res)) == "binary" else res.text
        if field == "headers":
            return json.dumps({_canonical(k): v for k, v in res.headers.items()})
        if field == "cookies":
            return json.dumps(_response_cookies(res))
        if field == "timings":
            return json.dumps(res.timings.as_dict())
        if field == "error":
            return res.error
        if field == "error_code":  # k6: 1000 + the status for a 4xx/5xx answer (lib/netext/httpext/transport.go)
            return res.error_code or (1000 + res.status if res.status >= 400 else 0)
        if field == "url":
            return res.url
        if field == "status_text":
            try:
                return f"{res.status} {HTTPStatus(res.status).phrase}"
            except ValueError:
                return str(res.status)
        if field == "remote_ip":
            return urlsplit(res.url).hostname or ""
        if field == "remote_port":
            parts = urlsplit(res.url)
            return parts.port or (443 if parts.scheme == "https" else 80)
        if field == "request":
            req = res.request
            if req is None:
                return json.dumps({"method": "GET", "url": res.url, "headers": {}, "body": ""})
            return json.dumps({"method": req.method, "url": req.url, "headers": req.headers, "body": req.body.decode("utf-8", "replace")})
        raise RuntimeError(f"response field {field!r} is not supported")

    def _jar(self, jar_id: int) -> CookieJar:
        vu = self.vu
        assert vu is not None
        if jar_id == 0:
            return self._vu_jar()
        if jar_id < 0:
            return CookieJar()
        return self.jars[jar_id]

    def _vu_jar(self) -> CookieJar:
        jar = self.jars.get(0)
        if jar is None:
            jar = self.jars[0] = self.vu.http.cookies  # type: ignore[union-attr]
        return jar

    def _h_cookie(self, op: str, jar_id: int, url: str, name: str, value: str, opts: str | None) -> Any:
        if op == "new":
            new_id = len(self.jars) + 1
            while new_id in self.jars:
                new_id += 1
            self.jars[new_id] = CookieJar()
            return new_id
        jar = self._vu_jar() if jar_id == 0 else self.jars[int(jar_id)]
        parts = urlsplit(url)
        host = parts.hostname or ""
        if op == "set":
            o = json.loads(opts) if opts else {}
            jar.set(o.get("domain") or host, name, value, o.get("path") or "/")
            return None
        if op == "get":
            header = jar.header_for(host, parts.path or "/", parts.scheme == "https")
            out: dict[str, list[str]] = {}
            for pair in filter(None, header.split("; ")):
                k, _, v = pair.partition("=")
                out.setdefault(k, []).append(v)
            return json.dumps(out)
        if op == "clear":
            jar._cookies.pop(host.lower(), None)
            return None
        if op == "delete":
            jar._cookies.get(host.lower(), {}).pop(name, None)
            return None
        raise RuntimeError(f"cookie jar: unknown operation {op!r}")


class IterationJar(CookieJar):
    """The VU's own cookie jar, emptied when a new iteration first uses it: k6 gives each
    iteration a fresh jar unless `options.noCookiesReset` (jars from `new http.CookieJar()` keep
    theirs). Checked on use, so an iteration that touches no cookie costs nothing."""

    __slots__ = ("_vu", "_iteration")

    def __init__(self, vu: VU) -> None:
        super().__init__()
        self._vu = vu
        self._iteration = vu.iteration

    def _fresh(self) -> None:
        iteration = self._vu.iteration
        if iteration != self._iteration:
            self._iteration = iteration
            self._cookies.clear()

    def set(self, host: str, name: str, value: str, path: str = "/") -> None:
        self._fresh()
        super().set(host, name, value, path)

    def store(self, host: str, request_path: str, set_cookie: str) -> None:
        self._fresh()
        super().store(host, request_path, set_cookie)

    def header_for(self, host: str, path: str, https: bool) -> str:
        self._fresh()
        return super().header_for(host, path, https)

    def as_dict(self, host: str) -> dict[str, str]:
        self._fresh()
        return super().as_dict(host)


def _drop_idle(client: Any) -> None:
    """k6's noConnectionReuse: every request opens its own connection."""
    for conns in client._idle.values():
        for conn in conns:
            conn.close()
        conns.clear()  # in place: prepared GETs hold these lists


def str_map(text: str | Mapping[str, Any]) -> dict[str, str]:
    """Tags from the script (JSON or a mapping) as a dict of strings."""
    data = json.loads(text) if isinstance(text, str) else text
    if not isinstance(data, Mapping):
        raise RuntimeError(f"tags must be an object of strings, got {data!r}")
    return {str(k): str(v) for k, v in data.items()}


def _timeout(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value) / 1000.0  # k6: a number is milliseconds
    from assay.load.durations import parse_duration

    try:
        return parse_duration(value, what="params.timeout")
    except ValueError as exc:
        raise RuntimeError(str(exc)) from None


def _expected_table(ranges: list[list[int]]) -> bytes:
    if not ranges:
        return bytes([1] * 600)  # responseCallback: null -> nothing counts as failed
    return ClientOptions(expected_statuses=[(int(a), int(b)) for a, b in ranges]).expected_table()


def _canonical(name: str) -> str:
    return "-".join(part[:1].upper() + part[1:] for part in name.split("-"))


def _response_cookies(res: Response) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for raw in res.headers.get_all("set-cookie"):
        parts = [p.strip() for p in raw.split(";")]
        name, _, value = parts[0].partition("=")
        cookie: dict[str, Any] = {"name": name, "value": value, "domain": "", "path": "", "http_only": False, "secure": False, "max_age": 0, "expires": 0}
        for attr in parts[1:]:
            k, _, v = attr.partition("=")
            k = k.strip().lower()
            if k in ("domain", "path"):
                cookie[k] = v
            elif k == "httponly":
                cookie["http_only"] = True
            elif k == "secure":
                cookie["secure"] = True
            elif k == "max-age" and v.strip().lstrip("-").isdigit():
                cookie["max_age"] = int(v)
        out.setdefault(name, []).append(cookie)
    return out


def _multipart(fields: list[list[Any]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    chunks: list[bytes] = []
    for name, value in fields:
        chunks.append(f"--{boundary}\r\n".encode())
        if isinstance(value, dict) and value.get("file"):
            data = base64.b64decode(value["b64"]) if value.get("b64") is not None else str(value.get("text", "")).encode()
            chunks.append(
                f'Content-Disposition: form-data; name="{name}"; filename="{value["filename"]}"\r\n'
                f'Content-Type: {value["content_type"]}\r\n\r\n'.encode()
            )
            chunks.append(data + b"\r\n")
        else:
            chunks.append(f'Content-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + str(value).encode() + b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"
