"""`vu.http`: the per-VU HTTP/1.1 client (keep-alive pool, cookies, redirects, auth, gzip).

Every request, failed or not, becomes one sample of each k6 http_* metric in the VU's
sink, tagged with method, name (the URL unless a `name` tag is given), status,
expected_response, error_code, scenario, group and custom tags. Network failures are
returned as a Response with status 0, `error` and `error_code`; they never raise.
"""

from __future__ import annotations

import asyncio
import base64
import time
import zlib
from collections.abc import Coroutine, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urljoin

from assay.load.http.client_options import ClientOptions
from assay.load.http.connection import Connection
from assay.load.http.cookies import CookieJar
from assay.load.http.errors import (
    DECOMPRESSION,
    GENERIC,
    REQUEST_TIMEOUT,
    TOO_MANY_REDIRECTS,
    RequestError,
)
from assay.load.http.pool import ConnectionPool
from assay.load.http.resend import may_send_again
from assay.load.http.response import Request, Response, Timings
from assay.load.http.series import NO_KEY, FrozenTags, name_and_tag_key, pack_row, series_key
from assay.load.http.static import REDIRECTS, StaticRequest, StaticRun
from assay.load.http.wire import (
    URL_CACHE,
    auth_header,
    decompress,
    encode_body,
    head_bytes,
    parse_url,
)

__all__ = ["HttpClient", "ClientOptions", "may_send_again"]  # the options and the resend rule have their own modules

if TYPE_CHECKING:
    from assay.load.sink import MetricsSink

_perf = time.perf_counter


class _PreparedGet:
    """What `get(url)` needs again for a URL it has sent before (see HttpClient._get_prepared)."""

    __slots__ = ("url", "data", "idle", "version", "status", "series")

    def __init__(self, url: str, data: bytes, idle: list[Connection]) -> None:
        self.url = url
        self.data = data
        self.idle = idle  # the client's idle list for this URL's pool key (the same list object)
        self.version = -1
        self.status = -1
        self.series: Any = None


# a request still waiting for its response when its iteration was interrupted (the end of the
# test or its gracefulStop, Ctrl-C): recorded as failed with k6's timeout code, never dropped
CUT_OFF = RequestError(REQUEST_TIMEOUT, "request cut off: the test ended before the response")
_NO_BODY_ON_REDIRECT = {301, 302, 303}
class HttpClient:
    """The HTTP client of one VU. Connections are kept alive and reused by this VU only."""

    def __init__(self, sink: MetricsSink | None = None, options: ClientOptions | None = None) -> None:
        self.client_options = options or ClientOptions()
        self.sink = sink
        self.cookies = CookieJar()
        opts = self.client_options
        self.pool = ConnectionPool(
            connect_timeout=opts.connect_timeout, verify_tls=opts.verify_tls, discard_body=opts.discard_body, max_body=opts.max_body
        )
        self._idle = self.pool.idle  # the same dict: the hot paths below pop and append inline
        self._vu: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._simple_heads: dict[tuple[str, str], bytes] = {}
        self._static: dict[int, tuple[Any, ...]] = {}
        self._gets: dict[str, _PreparedGet] = {}
        self._series = sink.http_series if sink is not None else None
        self._expected = self.client_options.expected_table()
        self._tracer = self.client_options.tracer

    def bind(self, vu: Any) -> None:
        """Attach to the VU whose tags the samples carry."""
        self._vu = vu

    # -- verbs ----------------------------------------------------------------------------------------
    # Plain functions returning the request's coroutine: `await vu.http.get(url)` then runs one
    # coroutine per request, not two.

    def get(self, url: str, **kw: Any) -> Coroutine[Any, Any, Response]:
        if kw:
            return self.request("GET", url, **kw)
        if self._tracer is not None:
            sampled = self._tracer.due()
            if sampled is not None:
                return self._traced("GET", url, {"traceparent": sampled[0]}, b"", None, None, -1, sampled[1])
        if not self.cookies._cookies:
            prepared = self._gets.get(url)
            if prepared is not None:
                return self._get_prepared(prepared)
        return self._send("GET", url, None, b"", None, None, -1)

    def head(self, url: str, **kw: Any) -> Coroutine[Any, Any, Response]:
        return self.request("HEAD", url, **kw)

    def options(self, url: str, **kw: Any) -> Coroutine[Any, Any, Response]:
        return self.request("OPTIONS", url, **kw)

    def post(self, url: str, body: Any = None, **kw: Any) -> Coroutine[Any, Any, Response]:
        return self.request("POST", url, body=body, **kw)

    def put(self, url: str, body: Any = None, **kw: Any) -> Coroutine[Any, Any, Response]:
        return self.request("PUT", url, body=body, **kw)

    def patch(self, url: str, body: Any = None, **kw: Any) -> Coroutine[Any, Any, Response]:
        return self.request("PATCH", url, body=body, **kw)

    def delete(self, url: str, **kw: Any) -> Coroutine[Any, Any, Response]:
        return self.request("DELETE", url, **kw)

    # -- the request ----------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | str | Mapping[str, Any] | None = None,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
        timeout: float | None = None,
        auth: tuple[str, str] | str | None = None,
        redirects: int | None = None,
        name: str | None = None,
    ) -> Coroutine[Any, Any, Response]:
        """Send one request (following redirects); always returns a Response, never raises for network errors.

        `body` may be bytes, str, or a dict (sent as a form); `json` is serialised with a JSON
        content type; `auth` is `(user, password)` for basic auth or a bearer token string;
        `tags={"name": ...}` (or `name=`) groups URLs into one sub-metric. Tags that never
        change can be made once with `FrozenTags({...})`, which saves sorting them per request.
        """
        if not method.isupper():
            method = method.upper()
        if params:
            url = url + ("&" if "?" in url else "?") + urlencode(params, doseq=True)
        req_headers, payload = self._prepare(headers, body, json, auth)
        if name is not None:
            tags = {**(tags or {}), "name": name}
        if self._tracer is not None:
            sampled = self._tracer.due()
            if sampled is not None and not any(k.lower() == "traceparent" for k in req_headers or ()):
                req_headers = {**(req_headers or {}), "traceparent": sampled[0]}
                return self._traced(method, url, req_headers, payload, tags, timeout, -1 if redirects is None else redirects, sampled[1])
        return self._send(method, url, req_headers, payload, tags, timeout, -1 if redirects is None else redirects)

    async def _traced(
        self, method: str, url: str, headers: dict[str, str], payload: bytes, tags: Mapping[str, str] | None,
        timeout: float | None, redirects: int, trace_id: str,
    ) -> Response:
        """A sampled request (`--trace-requests`): sent with its traceparent, its duration kept by trace id."""
        response = await self._send(method, url, headers, payload, tags, timeout, redirects)
        name = tags.get("name") if tags else None
        assert self._tracer is not None
        self._tracer.record(f"{method} {name or url}", response.timings.duration, trace_id)
        return response

    def _prepare(
        self, headers: Mapping[str, str] | None, body: Any, json: Any, auth: tuple[str, str] | str | None
    ) -> tuple[dict[str, str] | None, bytes]:
        """The headers and encoded body a request sends (the client's default headers merged in)."""
        if body is None and json is None:
            payload: bytes = b""
            extra_headers = None
        else:
            payload, extra_headers = encode_body(body, json)
        req_headers: dict[str, str] | None = None
        if headers or extra_headers or auth or self.client_options.headers:
            req_headers = {**self.client_options.headers, **(extra_headers or {}), **(headers or {})}
            if auth is not None:
                req_headers["Authorization"] = auth_header(auth)
        return req_headers, payload

    async def _follow(
        self,
        response: Response,
        method: str,
        url: str,
        req_headers: dict[str, str] | None,
        payload: bytes,
        tags: Mapping[str, str] | None,
        timeout: float | None,
        max_hops: int,
    ) -> Response:
        hops = 0
        while response.status in REDIRECTS and not response.error_code:
            location = response.headers.get("location")
            if not location:
                return response
            if hops >= max_hops:
                if max_hops > 0:
                    response.error = f"stopped after {max_hops} redirects"
                    response.error_code = TOO_MANY_REDIRECTS
                return response
            hops += 1
            url = urljoin(url, location)
            if response.status in _NO_BODY_ON_REDIRECT and method != "HEAD":
                method = "GET"
                payload = b""
                if req_headers:
                    req_headers = {k: v for k, v in req_headers.items() if k.lower() not in ("content-type", "content-length")}
            response = await self._send(method, url, req_headers, payload, tags, timeout, 0)
        return response

    async def _send(
        self,
        method: str,
        url: str,
        headers: dict[str, str] | None,
        payload: bytes,
        tags: Mapping[str, str] | None,
        timeout: float | None,
        redirects: int,
        adopt: tuple[Connection, float, float] | None = None,
    ) -> Response:
        """One request; `redirects` is how many redirects to follow (-1: the client's maxRedirects).

        `adopt=(conn, t_send, t_sent)`: the request was already sent on `conn` by `run_static`
        and its response is complete; only finish it (record, cookies, redirects).
        """
        t_start = _perf() if adopt is None else adopt[1]
        parsed = URL_CACHE.get(url)
        if parsed is None:
            try:
                parsed = parse_url(url)
            except RequestError as err:
                return self._failed(method, url, tags, err, t_start, t_start, 0.0, 0.0, 0)
        https, host, port, target, host_header, userinfo, key, path = parsed
        asked_headers = headers  # what redirects re-send (credentials from the URL are not carried over)
        if userinfo and (headers is None or "Authorization" not in headers):
            headers = dict(headers or {})
            headers["Authorization"] = "Basic " + base64.b64encode(userinfo.encode()).decode()
        cookie = self.cookies.header_for(host, path, https) if self.cookies._cookies else ""
        if headers is None and not payload and not cookie:
            data = self._simple_heads.get((method, url))
            if data is None:
                data = head_bytes(method, target, host_header, None, 0, False, "", self.client_options)
                if len(self._simple_heads) < 1000:
                    self._simple_heads[(method, url)] = data
                    if method == "GET" and self._series is not None and self._vu is not None:
                        self._gets[url] = _PreparedGet(url, data, self._idle.setdefault(key, []))
        else:
            data = head_bytes(method, target, host_header, headers, len(payload), bool(payload) or method in ("POST", "PUT", "PATCH"), cookie, self.client_options)
            if payload:
                data += payload
        deadline = t_start + (timeout if timeout is not None else self.client_options.timeout)
        connecting = tls_ms = 0.0
        conn: Connection | None = None
        idle = self._idle.get(key)
        if adopt is not None:
            conn, t_send, t_sent = adopt
            idle = None
        while idle:
            candidate = idle.pop()
            if not candidate.peer_closed():
                conn = candidate
                break
            candidate.close()
        if adopt is None:
            t_send = t_start  # a kept-alive connection: nothing blocked the request
        if conn is None:
            try:
                conn, t_send, connecting, tls_ms = await self.pool.connect(key, https, host, port, deadline)
            except RequestError as err:
                return self._failed(method, url, tags, err, t_start, _perf(), 0.0, 0.0, 0)
            except asyncio.CancelledError:
                self._failed(method, url, tags, CUT_OFF, t_start, _perf(), 0.0, 0.0, 0)
                raise
        t_ready = t_send
        retried = False
        while adopt is None:
            waiter = conn.start(data, deadline, method == "HEAD")
            t_sent = _perf()
            try:
                await waiter
                break
            except asyncio.CancelledError:
                conn.close()
                self._failed(method, url, tags, CUT_OFF, t_start, _perf(), connecting, tls_ms, len(data), t_send=t_send)
                raise
            except RequestError as err:
                conn.close()
                if not retried and may_send_again(conn, err, method, headers):
                    # The server closed a kept-alive connection as we wrote to it: once more on a new one.
                    retried = True
                    try:
                        conn, t_send, connecting, tls_ms = await self.pool.connect(key, https, host, port, deadline)
                    except RequestError as err2:
                        return self._failed(method, url, tags, err2, t_start, _perf(), connecting, tls_ms, 0)
                    t_ready = t_send
                    continue
                return self._failed(method, url, tags, err, t_start, _perf(), connecting, tls_ms, len(data), t_send=t_send)
        t_done = conn.t_last or _perf()
        t_first = conn.t_first or t_done
        status = conn.status
        raw_headers = conn.head
        chunks = conn.chunks
        body = chunks[0] if len(chunks) == 1 else (b"".join(chunks) if chunks else b"")
        received = conn.received
        special = conn.special
        if conn.keep_alive and not conn.closed:
            conn.reused = True
            if idle is None:
                idle = self._idle.get(key)
                if idle is None:
                    idle = self._idle[key] = []
            idle.append(conn)
        else:
            conn.close()
        error = ""
        error_code = 0
        if special is not None:
            for lname, hvalue in special:
                if lname == b"set-cookie":
                    self.cookies.store(host, path, hvalue.decode("latin-1"))
                elif body:
                    try:
                        body = decompress(body, hvalue.decode("latin-1"), self.client_options.max_body)
                    except zlib.error as exc:
                        error, error_code = f"failed to decompress the response body: {exc}", DECOMPRESSION
                    except ValueError as exc:
                        error, error_code, body = str(exc), GENERIC, b""
        # k6 timings, ms
        if connecting or tls_ms or t_ready != t_start:
            blocked = (t_ready - t_start) * 1000.0 - connecting - tls_ms
            if blocked < 0.0:
                blocked = 0.0
        else:
            blocked = 0.0
        sending = (t_sent - t_send) * 1000.0
        waiting = (t_first - t_sent) * 1000.0
        if waiting < 0.0:
            waiting = 0.0
        receiving = (t_done - t_first) * 1000.0
        duration = (t_done - t_send) * 1000.0
        if self.client_options.discard_body:
            body = b""
        response = Response(status, raw_headers, body, (blocked, connecting, tls_ms, sending, waiting, receiving, duration), url, None, error, error_code)
        if headers is not None or payload:
            response.request = Request(method, url, dict(headers or {}), payload)
        series_map = self._series
        if series_map is not None:
            expected = error_code == 0 and status < 600 and self._expected[status] == 1
            vu = self._vu
            if vu is not None and vu._tags_cache is not None:
                # the common case inlined: no per-request tags (or frozen ones), VU tags unchanged
                if tags is None:
                    skey = series_key(vu._tags_version, url, method, status, error_code, expected, None)
                elif type(tags) is FrozenTags:
                    skey = series_key(vu._tags_version, url if tags.name is None else tags.name, method, status, error_code, expected, tags.key)
                else:
                    skey = NO_KEY
                series = series_map.get(skey)
                if series is not None:
                    lateness = vu.lateness
                    series.buf.frombytes(
                        pack_row(blocked, connecting, tls_ms, sending, waiting, receiving, duration,
                               duration + lateness * 1000.0 if lateness >= 0.0 else -1.0)
                    )
                    series.sent += len(data)
                    series.received += received
                    if status in REDIRECTS and redirects and not error_code:
                        return await self._follow(response, method, url, asked_headers, payload, tags, timeout,
                                                  self.client_options.max_redirects if redirects < 0 else redirects)
                    return response
            self._record(method, url, tags, status, error_code, expected, blocked, connecting, tls_ms, sending, waiting, receiving, duration, len(data), received)
        if status in REDIRECTS and redirects and not error_code:
            return await self._follow(response, method, url, asked_headers, payload, tags, timeout,
                                      self.client_options.max_redirects if redirects < 0 else redirects)
        return response

    async def _get_prepared(self, prep: _PreparedGet) -> Response:
        """`get(url)` without options on a URL seen before: the request bytes, the pool and the
        metrics series are already known. Anything beyond a plain kept-alive 2xx/4xx/5xx answer
        (connecting, cookies, compression, redirects, a closing connection, errors) goes the
        general way (`_send`), so the recorded samples are the same."""
        t_start = _perf()
        conn = self.idle_for(prep)
        if conn is None:
            return await self._send("GET", prep.url, None, b"", None, None, -1)
        waiter = conn.start(prep.data, t_start + self.client_options.timeout, False)
        t_sent = _perf()
        try:
            await waiter
        except asyncio.CancelledError:
            self.cut_off_get(prep, conn, t_start)
            raise
        except RequestError as err:
            return await self.failed_get(prep, conn, err, t_start)
        response = self.complete_get(prep, conn, t_start, t_sent)
        if response is None:
            return await self.finish_get(prep, conn, t_start, t_sent)
        return response

    # The steps of `_get_prepared`, also driven from a connection's response callback (a k6 JS
    # VU's requests, assay.load.js.vu_loop): take a connection, record a plain answer, or hand
    # anything else to the general path.

    def prepared_get(self, url: str) -> _PreparedGet | None:
        """The prepared record of `get(url)` when it may take the prepared path (no cookies to
        send, no request tracing, a URL sent before), else None."""
        if self._tracer is not None or self.cookies._cookies:
            return None
        return self._gets.get(url)

    def idle_for(self, prep: _PreparedGet) -> Connection | None:
        """An open kept-alive connection for `prep`'s URL, taken from the pool; None to connect."""
        idle = prep.idle
        while idle:
            candidate = idle.pop()
            if not candidate.closed:
                return candidate
        return None

    def complete_get(self, prep: _PreparedGet, conn: Connection, t_start: float, t_sent: float) -> Response | None:
        """Record the plain answer `conn` just read and return it (the connection goes back to the
        pool); None when it needs the general path (`finish_get`)."""
        status = conn.status
        if conn.special is not None or not conn.keep_alive or conn.closed or status in REDIRECTS:
            return None
        conn.reused = True
        prep.idle.append(conn)
        t_done = conn.t_last
        t_first = conn.t_first or t_done
        sending = (t_sent - t_start) * 1000.0
        waiting = (t_first - t_sent) * 1000.0
        receiving = (t_done - t_first) * 1000.0
        duration = (t_done - t_start) * 1000.0
        chunks = conn.chunks
        body = b"" if self.client_options.discard_body else chunks[0] if len(chunks) == 1 else b"".join(chunks)
        url = prep.url
        data = prep.data
        response = Response(status, conn.head, body, (0.0, 0.0, 0.0, sending, waiting, receiving, duration), url)
        vu = self._vu
        if vu._tags_cache is None or vu._tags_version != prep.version or status != prep.status:
            expected = status < 600 and self._expected[status] == 1
            if vu._tags_cache is None:
                vu.tags_key()
            series = self._series.get(series_key(vu._tags_version, url, "GET", status, 0, expected, None))  # type: ignore[union-attr]
            if series is None:
                self._record("GET", url, None, status, 0, expected, 0.0, 0.0, 0.0, sending, waiting, receiving, duration, len(data), conn.received)
                prep.status = -1
                return response
            prep.version = vu._tags_version
            prep.status = status
            prep.series = series
        else:
            series = prep.series
        lateness = vu.lateness
        series.buf.frombytes(
            pack_row(0.0, 0.0, 0.0, sending, waiting, receiving, duration, duration + lateness * 1000.0 if lateness >= 0.0 else -1.0)
        )
        series.sent += len(data)
        series.received += conn.received
        return response

    async def finish_get(self, prep: _PreparedGet, conn: Connection, t_start: float, t_sent: float) -> Response:
        """The general path for a response `complete_get` declined (cookies, compression, redirects, closing)."""
        return await self._send("GET", prep.url, None, b"", None, None, -1, adopt=(conn, t_start, t_sent))

    async def failed_get(self, prep: _PreparedGet, conn: Connection, err: RequestError, t_start: float) -> Response:
        """A prepared request that failed: sent again on a fresh connection when the server closed
        the kept-alive one as we wrote to it (as `_send` retries), else recorded as failed."""
        conn.close()
        if not conn.t_first and err.code != REQUEST_TIMEOUT:
            return await self._send("GET", prep.url, None, b"", None, None, -1)
        return self._failed("GET", prep.url, None, err, t_start, _perf(), 0.0, 0.0, len(prep.data), t_send=t_start)

    def cut_off_get(self, prep: _PreparedGet, conn: Connection, t_start: float) -> None:
        """The prepared request in flight when its iteration was interrupted: failed, not lost."""
        conn.close()
        self._failed("GET", prep.url, None, CUT_OFF, t_start, _perf(), 0.0, 0.0, len(prep.data), t_send=t_start)

    # -- requests nobody reads: a loop driven by the connection -----------------------------------------

    async def run_static(self, req: StaticRequest, vu: Any, end_at: float, worker: Any, flags: dict[str, bool] | None, iters: Any, iter_durations: Any) -> bool:
        """Iterations that are exactly `req`, whose response nobody reads, back to back on one
        kept-alive connection: the connection sends the next request from its response callback
        (as wrk does), with no coroutine resumed per request. Each request is recorded exactly as
        `_send` records it (timings, data, status, expected_response); each iteration counts in
        `iters` (a Counter series) and `iter_durations` (a Trend series), as the runner counts them.

        Runs until perf-counter time `end_at`, `worker.stopping`, `flags["stop"]`, or a response
        that needs more than recording (cookies, compression, redirects, a closing connection,
        an error): that one is finished the general way. Returns False without sending anything
        when the loop cannot start (no idle connection yet, cookies to send, no sink).
        """
        if self._series is None or self.cookies._cookies or vu._tags_cache is None:
            return False
        prepared = self._static.get(id(req))
        if prepared is None or prepared[0] is not req:
            # None when this request cannot loop (HEAD, a bad URL, per-request tags): remembered
            prepared = self._static[id(req)] = (req, self._build_static(req))
        built = prepared[1]
        if built is None:
            return False
        data, key, url, headers, payload, tags, loop_key = built
        idle = self._idle.get(key)
        conn: Connection | None = None
        while idle:
            candidate = idle.pop()
            if not candidate.peer_closed():
                conn = candidate
                break
            candidate.close()
        if conn is None:
            return False
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        timeout = req.timeout if req.timeout is not None else self.client_options.timeout
        run = StaticRun(self._record, self._series, self._expected, vu, data, timeout, end_at, worker, flags, iters, iter_durations, loop_key, req.redirects != 0, url, req.tags)
        batch: asyncio.Future[None] = loop.create_future()
        conn.waiter = batch
        conn.driver = run
        conn.head_request = False
        run.t_iter = run.t_send = _perf()
        conn.restart(data, run.t_send + timeout)
        run.t_sent = _perf()
        try:
            await batch
        except RequestError as err:
            conn.driver = None
            conn.close()
            if may_send_again(conn, err, req.method, headers):
                # closed as we wrote to it: sent again on a fresh connection, as `_send` retries
                await self._send(req.method, url, headers, payload, tags, req.timeout, req.redirects)
            else:
                self._failed(req.method, url, tags, err, run.t_send, _perf(), 0.0, 0.0, len(data), t_send=run.t_send)
            run.count_iteration(_perf())
            return True
        except BaseException:
            conn.driver = None
            conn.close()
            # the request in flight when the run ended: failed, not lost
            self._failed(req.method, url, tags, CUT_OFF, run.t_send, _perf(), 0.0, 0.0, len(data), t_send=run.t_send)
            raise
        conn.driver = None
        if run.finished:
            if conn.keep_alive and not conn.closed:
                if idle is None:
                    idle = self._idle.setdefault(key, [])
                idle.append(conn)
            else:
                conn.close()
            return True
        # a response that needs more than recording: finish it the general way
        await self._send(req.method, url, headers, payload, tags, req.timeout, req.redirects, adopt=(conn, run.t_send, run.t_sent))
        run.count_iteration(_perf())
        return True

    def _build_static(self, req: StaticRequest) -> tuple[Any, ...] | None:
        try:
            https, host, port, target, host_header, userinfo, key, path = parse_url(req.url)
        except RequestError:
            return None
        if req.method == "HEAD":
            return None
        headers, payload = self._prepare(req.headers, req.body, None, None)
        sent_headers = headers
        if userinfo and (headers is None or "Authorization" not in headers):
            sent_headers = dict(headers or {})
            sent_headers["Authorization"] = "Basic " + base64.b64encode(userinfo.encode()).decode()
        data = head_bytes(
            req.method, target, host_header, sent_headers, len(payload),
            bool(payload) or req.method in ("POST", "PUT", "PATCH"), "", self.client_options,
        )
        tags = req.tags
        if tags is not None and type(tags) is not FrozenTags:
            return None
        name, tag_key = name_and_tag_key(req.url, tags)
        return (data + payload, key, req.url, headers, payload, tags, (name, req.method, tag_key))

    def _failed(
        self,
        method: str,
        url: str,
        tags: Mapping[str, str] | None,
        err: RequestError,
        t_start: float,
        t_end: float,
        connecting: float,
        tls_ms: float,
        sent: int,
        t_send: float | None = None,
    ) -> Response:
        if t_send is None:
            blocked = max(0.0, (t_end - t_start) * 1000.0 - connecting - tls_ms)
            waited = 0.0
        else:
            blocked = max(0.0, (t_send - t_start) * 1000.0 - connecting - tls_ms)
            waited = (t_end - t_send) * 1000.0
        timings = Timings(blocked, connecting, tls_ms, 0.0, waited, 0.0, waited)
        response = Response(0, b"", b"", timings, url, None, err.message, err.code)
        if self._series is not None:
            self._record(method, url, tags, 0, err.code, False, blocked, connecting, tls_ms, 0.0, waited, 0.0, waited, sent, 0)
        return response

    def _record(
        self,
        method: str,
        url: str,
        tags: Mapping[str, str] | None,
        status: int,
        error_code: int,
        expected: bool,
        blocked: float,
        connecting: float,
        tls_ms: float,
        sending: float,
        waiting: float,
        receiving: float,
        duration: float,
        sent: int,
        received: int,
    ) -> None:
        vu = self._vu
        if vu is not None:
            if vu._tags_cache is None:
                vu.tags_key()
            version = vu._tags_version
            lateness = vu.lateness
        else:
            version, lateness = 0, -1.0
        name, tag_key = name_and_tag_key(url, tags)
        key = series_key(version, name, method, status, error_code, expected, tag_key)
        series = self._series.get(key)  # type: ignore[union-attr]
        if series is None:
            vu_tags = vu.tags_key()[1] if vu is not None else {}
            all_tags = dict(vu_tags)
            all_tags.update({"name": name, "method": method, "status": str(status), "expected_response": "true" if expected else "false"})
            if error_code:
                all_tags["error_code"] = str(error_code)
            elif status >= 400:
                all_tags["error_code"] = str(1000 + status)  # k6 tags a 4xx/5xx answer so (httpext/transport.go)
            if tag_key:
                all_tags.update(tag_key)
            series = self.sink.new_http_series(key, all_tags, not expected)  # type: ignore[union-attr]
        series.buf.frombytes(
            pack_row(blocked, connecting, tls_ms, sending, waiting, receiving, duration, duration + lateness * 1000.0 if lateness >= 0.0 else -1.0)
        )
        series.sent += sent
        series.received += received

    async def close(self) -> None:
        """Close the VU's kept-alive connections."""
        self.pool.close()
        self._gets.clear()

