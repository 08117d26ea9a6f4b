"""One QuickJS context per VU running a k6 script, with k6's API as host functions.

k6's `http.get` is synchronous from the script's view while assay's HTTP client is asyncio.
Each VU's JavaScript runs in its own greenlet on the event-loop thread: a host function that
needs I/O hands its coroutine to the VU's driver (`_Driver.run`, awaiting in the VU's
asyncio task) by switching greenlets, and gets the result back the same way. No thread per
VU, no lock: measured at ~8 us per request round trip, against ~60 us for a thread per VU
with a blocking bridge (benchmarks/load/bench_js_engines.py).

Everything a script records goes through the VU (`vu.http`, `vu.check`, `vu.group`,
`vu.record`), so metrics, tags, checks and groups are those of Python and YAML scenarios.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import re
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

import greenlet
import quickjs

from assay.load.http.client import ClientOptions
from assay.load.http.cookies import CookieJar
from assay.load.js.source import Bundle

if TYPE_CHECKING:
    from assay.load.http.response import Response
    from assay.load.vu import VU

_K6_SOURCE = (Path(__file__).with_name("k6.js")).read_text()


def _split_sections(text: str) -> tuple[str, dict[str, str]]:
    """k6.js -> (the core every context evaluates, module name -> source compiled on first import)."""
    core, _, rest = text.partition("//@section ")
    sections: dict[str, str] = {}
    for chunk in ("//@section " + rest).split("//@section ")[1:]:
        names, _, body = chunk.partition("\n")
        source = body.split("//@end", 1)[0]
        for name in names.split():
            sections[name] = source
    return core, sections


_K6_JS, _SECTIONS = _split_sections(_K6_SOURCE)
_PRELUDE = _K6_JS.rstrip("\n") + "\n__ENV = JSON.parse(__ENV_JSON); __ENV_JSON = undefined;\n"
_PRELUDE_LINES = _PRELUDE.count("\n")
RUNTIME_FILE = "assay:k6.js"
_perf = time.perf_counter
_LINE = re.compile(r"\(?<input>:(\d+)\)?")


class JsError(Exception):
    """An exception thrown by the script (its message, with the file and line it came from)."""


class AbortTest(Exception):
    """`exec.test.abort()` was called."""


class Program:
    """A bundled script and what every context of this process shares (open() files, SharedArrays)."""

    def __init__(self, bundle: Bundle, *, discard_bodies: bool = False, scenarios: Mapping[str, Any] | None = None) -> None:
        self.bundle = bundle
        self.base = bundle.entry.parent
        self.files: dict[tuple[str, bool], str] = {}
        self.shared: dict[str, str] = {}
        self.discard_bodies = discard_bodies
        self.scenarios = dict(scenarios or {})
        self.metrics: dict[str, tuple[str, bool]] = {}  # declared by `new Trend(...)` etc.
        self.options_json = "{}"
        self.exported: list[str] = []
        self.log: Callable[[str, str], None] | None = None
        self.no_reuse = False  # options.noConnectionReuse

    def error(self, exc: BaseException) -> JsError:
        """A QuickJS exception with `<input>:N` turned into `file.js:N`."""
        text = str(exc).strip()

        def fix(m: re.Match[str]) -> str:
            n = int(m.group(1))
            if n <= _PRELUDE_LINES:
                inner = f"{RUNTIME_FILE}:{n}"
            else:
                path, line = self.bundle.locate(n - _PRELUDE_LINES)
                inner = f"{_short(path, self.base)}:{line}"
            return f"({inner})" if m.group(0).startswith("(") else inner

        text = _LINE.sub(fix, text)
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        frames = [ln for ln in lines[1:] if RUNTIME_FILE not in ln and "(<input>)" not in ln]
        head = lines[0] if lines else "error"
        return JsError(f"{head} {frames[0]}" if frames else head)

    def where(self, exc: BaseException) -> str | None:
        """`file.js:N` of the innermost script frame of a QuickJS exception."""
        text = _LINE.sub(lambda m: f"({m.group(1)})" if m.group(0).startswith("(") else m.group(1), str(exc))
        for n in re.findall(r"\((\d+)\)", text):
            line = int(n)
            if line > _PRELUDE_LINES:
                path, local = self.bundle.locate(line - _PRELUDE_LINES)
                return f"{_short(path, self.base)}:{local}"
        return None


def _short(path: str, base: Path) -> str:
    try:
        return str(Path(path).relative_to(base))
    except ValueError:
        return path


class _Driver:
    """Runs JavaScript in a greenlet; its host calls await coroutines in the VU's task."""

    __slots__ = ("g", "parent", "result", "error", "ctx")

    def __init__(self, ctx: JsContext) -> None:
        self.g: greenlet.greenlet | None = None
        self.parent: greenlet.greenlet | None = None
        self.result: Any = None
        self.error: BaseException | None = None
        self.ctx = ctx

    def _body(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        while True:
            try:
                self.result = fn(*args)
            except BaseException as exc:  # handed to the awaiting task
                self.error = exc
            fn, args = self.parent.switch(DONE)  # type: ignore[union-attr]

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """`fn(*args)` in the greenlet; every awaitable it hands over (`wait`) is awaited here, and
        a URL (`http.get(url)` on the fast path, JsContext.bind_fast) is fetched for the script.
        (The loader inlines this loop for iterations.)"""
        g = self.g
        if g is None or g.dead:
            g = self.g = greenlet.greenlet(self._body)
        self.parent = greenlet.getcurrent()
        ctx = self.ctx
        value = g.switch(fn, args)
        while value is not DONE:
            fast = value.__class__ is str
            try:
                result = await (ctx.vu.http.get(value) if fast else value)  # type: ignore[union-attr]
            except asyncio.CancelledError:
                # interrupted (gracefulStop): unwind the script, then stop the task
                self._cancel(value)
                raise
            except BaseException as exc:
                if fast:
                    ctx.host_error = exc
                value = g.throw(exc)
            else:
                if fast:
                    ctx.responses.append(result)
                    result = result.status
                value = g.switch(result)
        error = self.error
        if error is not None:
            self.error = None
            raise error
        result, self.result = self.result, None
        return result

    def _cancel(self, value: Any) -> None:
        g = self.g
        while g is not None and not g.dead and value is not DONE:
            if hasattr(value, "close"):
                value.close()
            value = g.throw(asyncio.CancelledError())
        self.g = None
        self.error = None

    def wait(self, awaitable: Any) -> Any:
        """From JavaScript (inside the greenlet): await `awaitable` in the VU's task."""
        if self.parent is None:
            if hasattr(awaitable, "close"):
                awaitable.close()
            raise RuntimeError("network and sleep calls are not allowed in the init context (outside functions)")
        return self.parent.switch(awaitable)


DONE = object()
_INSTANCE_FIELDS = ("iterationsInterrupted", "iterationsCompleted", "vusActive", "vusInitialized", "currentTestRunDuration")


class JsContext:
    """A QuickJS context with k6's modules and the script evaluated; bound to `vu` once it runs."""

    def __init__(self, program: Program, *, vu: VU | None = None, env: Mapping[str, str] | None = None) -> None:
        self.program = program
        self.vu = vu
        self.init = True  # the script's top level runs in k6's init context (open() allowed, requests not)
        self.driver = _Driver(self)
        self.responses: list[Response | None] = []
        self.jars: dict[int, CookieJar] = {}
        self.ws: Any = None  # the WebSocket sessions (assay.load.js.websockets)
        self.expected_override: bytes | None = None
        self._groups: list[Any] = []
        self.kinds: dict[int, str] = {}  # id(Response) -> params.responseType, for this iteration
        self.ctx = ctx = quickjs.Context()
        ctx.set_max_stack_size(8 * 1024 * 1024)
        self.host_error: BaseException | None = None
        for name in dir(self):
            if name.startswith("_h_"):
                ctx.add_callable("__h" + name[2:], self._keep_error(getattr(self, name)))
        try:
            ctx.set("__ENV_JSON", json.dumps(dict(env if env is not None else (vu.env if vu is not None else os.environ))))
            # one evaluation, so a line number in any stack trace identifies runtime or script (Program.error)
            ctx.eval(_PRELUDE + program.bundle.code)
        except quickjs.JSException as exc:
            raise self.failure(exc) from None
        self.init = False
        self._run = ctx.get("__run")
        self._call = ctx.get("__call")
        self._runners: dict[str, Any] = {}  # export name -> its bound JS runner (k6.js __runner)
        self.ready = False  # setup() data handed over (prepare)
        self.fast_parent: greenlet.greenlet | None = None  # the greenlet http.get's fast path switches to

    def _keep_error(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """QuickJS reports a host function's exception as "Python call failed": keep the real one."""

        def host(*args: Any) -> Any:
            try:
                return fn(*args)
            except BaseException as exc:
                self.host_error = exc
                raise

        return host

    def failure(self, exc: BaseException) -> BaseException:
        """The exception to report for a QuickJS exception (the host function's own, when it was one)."""
        host, self.host_error = self.host_error, None
        if host is not None and "Python call failed" in str(exc):
            if isinstance(host, AbortTest | asyncio.CancelledError | greenlet.GreenletExit):
                return host
            where = self.program.where(exc)
            return JsError(f"{host}" + (f" (at {where})" if where else ""))
        return self.program.error(exc)

    # -- running -------------------------------------------------------------------------------------

    def runner(self, name: str) -> Any:
        """The JS function running one iteration of exports[name] with (vu, iter)."""
        fn = self._runners.get(name)
        if fn is None:
            fn = self._runners[name] = self.ctx.get("__runner")(name)
        return fn

    def prepare(self) -> None:
        """Hand the VU's setup() data to the script (once, before its first iteration)."""
        vu = self.vu
        assert vu is not None
        self.ctx.get("__setData")(None if vu.data is None else json.dumps(vu.data))
        self.bind_fast()
        self.ready = True

    def bind_fast(self) -> None:
        """Let `http.get(url)` without params hand its URL straight to the greenlet driving this VU.

        The host function is that greenlet's own `switch` (C): no Python frame runs on the script's
        side of a request. The driver (`_Driver.run`, the loader's inlined copy) sends the URL with
        `vu.http.get`, keeps the response and switches back with its status. Not with
        noConnectionReuse (each request drops its connection, `_request`); setResponseCallback
        turns it off in k6.js.
        """
        parent = greenlet.getcurrent()
        self.fast_parent = parent
        if self.program.no_reuse or self.vu is None:
            return
        self.ctx.add_callable("__h_fast", parent.switch)
        self.ctx.get("__bindFast")()

    async def iteration(self, name: str) -> None:
        """One iteration of exports[name] (the loader inlines this on its hot path)."""
        vu = self.vu
        assert vu is not None
        if not self.ready:
            self.prepare()
        if self.responses:
            self.responses.clear()
            self.kinds.clear()
        result = await self.driver.run(self.runner(name), vu.id, vu.iteration)
        if result is not None:
            await self.settle()

    async def call(self, name: str, arg: Any = None) -> Any:
        """setup() / teardown(data) / handleSummary(data): the JSON-able result."""
        self.responses.clear()
        text = await self.driver.run(self._call, name, None if arg is None else json.dumps(arg))
        return None if text is None else json.loads(text)

    async def settle(self) -> None:
        # an async default function: run its promise jobs (their host calls still go through the driver)
        await self.driver.run(_drain, self.ctx)

    # -- host functions: core ---------------------------------------------------------------------------

    def _h_log(self, level: str, message: str) -> None:
        # the script's own output (as print() in a Python scenario), on stderr as k6 writes it
        if self.program.log is not None:
            self.program.log(level, message)
        else:
            where = f" vu={self.vu.id} iter={self.vu.iteration}" if self.vu is not None and self.vu.id else ""
            sys.stderr.write(f"{level.upper()}[{where.strip() or 'init'}] {message}\n")

    def _h_section(self, module: str) -> str | None:
        return _SECTIONS.get(module)

    def _h_now(self) -> float:
        return _perf() * 1000.0

    def _h_open(self, path: str, binary: int) -> str:
        if not self.init:
            raise RuntimeError("open() is only available in the init context (outside functions), as in k6")
        key = (path, bool(binary))
        cached = self.program.files.get(key)
        if cached is None:
            target = Path(path) if Path(path).is_absolute() else self.program.base / path
            try:
                raw = target.read_bytes()
            except OSError as exc:
                raise RuntimeError(f"open({path!r}): {exc.strerror or exc}") from None
            cached = base64.b64encode(raw).decode() if binary else raw.decode("utf-8", errors="replace")
            self.program.files[key] = cached
        return cached

    def _h_check(self, name: str, ok: int, tags: str | None) -> None:
        vu = self.vu
        if vu is None:
            return
        vu.sink.add_check(name, vu._group, bool(ok), vu._current_tags() if tags is None else {**vu._current_tags(), **_str_map(tags)})

    def _h_group(self, name: str, enter: int) -> None:
        vu = self.vu
        if vu is None:
            return
        if enter:
            group = vu.group(name)
            group.__enter__()
            self._groups.append(group)
        elif self._groups:
            self._groups.pop().__exit__(None, None, None)

    def _h_sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.driver.wait(asyncio.sleep(seconds))

    def _h_metric(self, name: str, kind: str, is_time: int) -> None:
        from assay.load.custom_metrics import make_metric

        try:
            make_metric(name, kind)
        except ValueError as exc:
            raise RuntimeError(str(exc)) from None
        known = self.program.metrics.get(name)
        if known is not None and known[0] != kind:
            raise RuntimeError(f"metric {name!r} is a {known[0]}, it cannot also be a {kind}")
        self.program.metrics[name] = (kind, bool(is_time))

    def _h_metric_add(self, name: str, value: float, tags: str | None) -> None:
        vu = self.vu
        if vu is None:
            raise RuntimeError(f"metric {name!r}: add() is not allowed in the init context")
        kind, is_time = self.program.metrics[name]
        vu.metric(name, kind, "time" if is_time else "default")
        vu.record(name, value, None if tags is None else _str_map(tags))

    def _h_exec(self, field: str) -> str:
        vu = self.vu
        if vu is None:
            raise RuntimeError(f"k6/execution {field} is not available in the init context")
        scenario = self.program.scenarios.get(vu.scenario, {})
        values: dict[str, Any] = {
            "vu.idInInstance": vu.id,
            "vu.idInTest": vu.id,
            "vu.iterationInInstance": vu.iteration,
            "vu.iterationInScenario": vu.iteration,
            "vu.tags": {k: v for k, v in vu.tags.items() if k != "group" or v},
            "scenario.name": vu.scenario,
            "scenario.executor": scenario.get("executor", ""),
            "scenario.startTime": 0,
            "scenario.progress": 0,
            "scenario.iterationInInstance": vu.iteration_in_scenario or vu.iteration,
            "scenario.iterationInTest": vu.iteration_in_scenario or vu.iteration,
            "test.options": json.loads(self.program.options_json),
        }
        if field.startswith("instance."):
            instance = vu.state.get("_assay_instance")
            counts = instance() if callable(instance) else {}
            key = field.partition(".")[2]
            if key not in counts and key not in _INSTANCE_FIELDS:
                raise RuntimeError(f"k6/execution: {field} is not supported")
            return json.dumps(counts.get(key, 0))
        if field not in values:
            raise RuntimeError(f"k6/execution: {field} is not supported")
        return json.dumps(values[field])

    def _h_tag(self, key: str, value: str) -> None:
        if self.vu is not None:
            self.vu.set_tag(key, value)

    def _h_abort(self, reason: str) -> None:
        vu = self.vu
        stop = vu.state.get("_assay_stop") if vu is not None else None
        if callable(stop):
            stop(reason)
        raise AbortTest(f"test aborted{': ' + reason if reason else ''}")

    def _h_shared(self, name: str) -> str | None:
        return self.program.shared.get(name)

    def _h_shared_put(self, name: str, data: str) -> None:
        self.program.shared.setdefault(name, data)

    # -- host functions: encoding and crypto ----------------------------------------------------------

    def _h_b64(self, op: str, data: str, is_b64: int, encoding: str, fmt: str) -> str:
        alphabet = {"std": (False, True), "rawstd": (False, False), "url": (True, True), "rawurl": (True, False)}
        if encoding not in alphabet:
            raise RuntimeError(f"b64 encoding {encoding!r}: expected std, rawstd, url or rawurl")
        urlsafe, padded = alphabet[encoding]
        if op == "enc":
            raw = base64.b64decode(data) if is_b64 else data.encode("utf-8")
            out = base64.urlsafe_b64encode(raw) if urlsafe else base64.b64encode(raw)
            text = out.decode()
            return text if padded else text.rstrip("=")
        padded_in = data + "=" * (-len(data) % 4)
        try:
            raw = base64.urlsafe_b64decode(padded_in) if urlsafe else base64.b64decode(padded_in, validate=True)
        except ValueError as exc:
            raise RuntimeError(f"b64decode: {exc}") from None
        return raw.decode("utf-8", errors="replace") if fmt == "s" else base64.b64encode(raw).decode()

    def _h_hash(self, alg: str, data: str, is_b64: int, key: str, key_b64: int, keyed: int, enc: str) -> str:
        names = {"sha512_224": "sha512_224", "sha512_256": "sha512_256"}
        name = names.get(alg, alg)
        if name not in hashlib.algorithms_available:
            raise RuntimeError(f"hash algorithm {alg!r} is not available")
        raw = base64.b64decode(data) if is_b64 else data.encode("utf-8")
        if keyed:
            kraw = base64.b64decode(key) if key_b64 else key.encode("utf-8")
            digest = hmac.new(kraw, raw, name).digest()
        else:
            digest = hashlib.new(name, raw).digest()
        if enc == "hex":
            return digest.hex()
        if enc == "base64":
            return base64.b64encode(digest).decode()
        if enc == "base64url":
            return base64.urlsafe_b64encode(digest).decode()
        if enc == "base64rawurl":
            return base64.urlsafe_b64encode(digest).decode().rstrip("=")
        if enc in ("binary", ""):
            return base64.b64encode(digest).decode()
        raise RuntimeError(f"digest encoding {enc!r}: expected hex, base64, base64url, base64rawurl or binary")

    def _h_random_bytes(self, n: int) -> str:
        return base64.b64encode(os.urandom(int(n))).decode()

    # -- host functions: HTTP ----------------------------------------------------------------------------

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
        tags = _str_map(p["tags"]) if p.get("tags") else None
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
        if field == "error_code":
            return res.error_code
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

    # -- host functions: WebSocket (assay.load.js.websockets) -----------------------------------------

    def _sessions(self) -> Any:
        if self.ws is None:
            from assay.load.js.websockets import Sessions

            if self.vu is None:
                raise RuntimeError("WebSockets are not allowed in the init context")
            self.ws = Sessions(self.vu)
        return self.ws

    def _h_ws_open(self, url: str, params: str | None) -> str:
        out = self.driver.wait(self._sessions().open(url, json.loads(params) if params else {}))
        if "response" in out:
            self.responses.append(out.pop("response"))
        return json.dumps(out)

    def _h_ws_send(self, sid: int, data: str, binary: int) -> None:
        self.driver.wait(self._sessions().send(int(sid), base64.b64decode(data) if binary else data))

    def _h_ws_ping(self, sid: int) -> None:
        self.driver.wait(self._sessions().ping(int(sid)))

    def _h_ws_close(self, sid: int, code: int) -> None:
        self.driver.wait(self._sessions().close(int(sid), int(code)))

    def _h_ws_next(self, sid: int, wait_ms: float) -> str:
        return json.dumps(self.driver.wait(self._sessions().next([int(sid)], wait_ms)))

    def _h_ws_wait(self, ids: str, wait_ms: float) -> str:
        return json.dumps(self.driver.wait(self._sessions().next([int(i) for i in json.loads(ids)], wait_ms)))


def _drop_idle(client: Any) -> None:
    """k6's noConnectionReuse: every request opens its own connection."""
    for conns in client._idle.values():
        for conn in conns:
            conn.close()
        conns.clear()  # in place: prepared GETs hold these lists


def _drain(ctx: Any) -> None:
    while ctx.execute_pending_job():
        pass


def _str_map(text: str | Mapping[str, Any]) -> dict[str, str]:
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
