"""One QuickJS context per VU running a k6 script, with k6's API as host functions.

The context evaluates k6.js (k6's modules in JavaScript over `__h_*` host functions) and the
bundled script; it runs in the VU's greenlet (assay.load.js.driver). Host functions live here
(core: console, open, check, group, sleep, metrics, k6/execution, SharedArray) and in mixins:
k6/http (http_host), k6/encoding and k6/crypto (codec_host), WebSockets (websockets).

Everything a script records goes through the VU (`vu.http`, `vu.check`, `vu.group`,
`vu.record`), so metrics, tags, checks and groups are those of Python and YAML scenarios.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import greenlet
import quickjs

from assay.load.http.cookies import CookieJar
from assay.load.js.codec_host import CodecHost
from assay.load.js.driver import Driver, drain
from assay.load.js.http_host import HttpHost, IterationJar, str_map
from assay.load.js.source import Bundle
from assay.load.js.websockets import WsHost

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
# k6 runs a VU's init code with __VU set to its id (0 in the context that reads the options)
_PRELUDE = _K6_JS.rstrip("\n") + "\n__ENV = JSON.parse(__ENV_JSON); __ENV_JSON = undefined; __VU = __VU_INIT; __VU_INIT = undefined;\n"
_PRELUDE_LINES = _PRELUDE.count("\n")
RUNTIME_FILE = "assay:k6.js"
_perf = time.perf_counter
_LINE = re.compile(r"\(?<input>:(\d+)\)?")


HOST_ERROR = "\x01assay:host-error\x01"  # what a host function returns when it failed (k6.js throws then)


class JsError(Exception):
    """An exception thrown by the script (its message, with the file and line it came from)."""


class AbortTest(Exception):
    """`exec.test.abort()` was called."""


class _Rejection(Exception):
    """The text of a rejected promise's reason with its stack (k6.js `rejected`), for Program.error."""


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
        self.executors: dict[str, str] = {}  # scenario name -> executor (the shortcut options' 'default' too)
        self.scenario_iterations: dict[str, int] = {}  # scenario -> iterations numbered so far (exec.scenario.iterationInTest)
        self.no_reuse = False  # options.noConnectionReuse
        self.keep_cookies = False  # options.noCookiesReset

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


_INSTANCE_FIELDS = ("iterationsInterrupted", "iterationsCompleted", "vusActive", "vusInitialized", "currentTestRunDuration")


class JsContext(HttpHost, CodecHost, WsHost):
    """A QuickJS context with k6's modules and the script evaluated; bound to `vu` once it runs."""

    def __init__(self, program: Program, *, vu: VU | None = None, env: Mapping[str, str] | None = None) -> None:
        self.program = program
        self.vu = vu
        self.init = True  # the script's top level runs in k6's init context (open() allowed, requests not)
        self.driver = Driver(self)
        self.responses: list[Response | None] = []
        self.jars: dict[int, CookieJar] = {}
        self.ws: Any = None  # the WebSocket sessions (assay.load.js.websockets)
        self.expected_override: bytes | None = None
        self._groups: list[Any] = []
        self.kinds: dict[int, str] = {}  # id(Response) -> params.responseType, for this iteration
        self.ctx = ctx = quickjs.Context()
        ctx.set_max_stack_size(8 * 1024 * 1024)
        self.host_error: BaseException | None = None
        arity: dict[str, int] = {}
        for name in dir(self):
            if name.startswith("_h_"):
                fn = getattr(self, name)
                ctx.add_callable("__h" + name[2:], self._keep_error(fn))
                if name != "_h_host_message":
                    arity["__h" + name[2:]] = fn.__code__.co_argcount - 1  # k6.js wraps each to throw its errors
        ctx.set("__H_ARITY", json.dumps(arity))
        try:
            ctx.set("__ENV_JSON", json.dumps(dict(env if env is not None else (vu.env if vu is not None else os.environ))))
            ctx.set("__VU_INIT", vu.id if vu is not None else 0)
            # one evaluation, so a line number in any stack trace identifies runtime or script (Program.error)
            ctx.eval(_PRELUDE + program.bundle.code)
        except quickjs.JSException as exc:
            raise self.failure(exc) from None
        self.init = False
        self._run = ctx.get("__run")
        self._call = ctx.get("__call")
        self._runners: dict[str, Any] = {}  # export name -> its bound JS runner (k6.js __runner)
        self.loops: dict[str, Any] = {}  # export name -> its JsLoop (assay.load.js.vu_loop)
        self.ready = False  # setup() data handed over (prepare)
        self.fast_parent: greenlet.greenlet | None = None  # the greenlet http.get's fast path switches to
        self._iteration_mark: tuple[int, int] | None = None  # (vu.iteration, its exec.scenario.iterationInTest)

    def _keep_error(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """A host function's error, kept for `failure`. An Exception comes back as HOST_ERROR and
        k6.js throws it as a JS Error the script may catch, as k6 scripts catch errors; raised
        through QuickJS it would stay pending in Python after a script caught it, and fail the next
        host call. Interruptions (cancellation, GreenletExit) are raised: they unwind the script."""

        def host(*args: Any) -> Any:
            try:
                return fn(*args)
            except Exception as exc:
                self.host_error = exc
                return HOST_ERROR
            except BaseException as exc:
                self.host_error = exc
                raise

        return host

    def _h_host_message(self) -> str:
        """The message of the host error k6.js is about to throw (after HOST_ERROR)."""
        return str(self.host_error) or type(self.host_error).__name__

    def failure(self, exc: BaseException) -> BaseException:
        """The exception to report for a QuickJS exception (the host function's own, when it was one)."""
        host, self.host_error = self.host_error, None
        text = str(exc)
        if isinstance(host, AbortTest) and "__k6_abort__" in text:
            return host
        if host is not None and ("Python call failed" in text or text.startswith(f"Error: {str(host) or type(host).__name__}\n")):
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
        if not self.program.keep_cookies and not isinstance(vu.http.cookies, IterationJar):
            vu.http.cookies = IterationJar(vu)
        self.bind_fast()
        self.ready = True

    def bind_fast(self) -> None:
        """Let `http.get(url)` without params hand its URL straight to the greenlet driving this VU.

        The host function is that greenlet's own `switch` (C): no Python frame runs on the script's
        side of a request. The driver (`Driver.run`, the loader's inlined copy) sends the URL with
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

    async def call(self, name: str, arg: Any = None) -> Any:
        """setup() / teardown(data) / handleSummary(data): the JSON-able result."""
        self.responses.clear()
        text = await self.driver.run(self._call, name, None if arg is None else json.dumps(arg))
        if text == "pending":  # an async function: run its promise jobs, then read what it resolved to
            await self.settle()
            text = await self.driver.run(self.ctx.get("__callResult"))
        return None if text is None else json.loads(text)

    async def settle(self) -> None:
        # an async default function: run its promise jobs (their host calls still go through the driver)
        await self.driver.run(drain, self.ctx)

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
        if path.startswith("file://"):  # k6 accepts file URLs, e.g. from import.meta.resolve()
            path = unquote(path.removeprefix("file://"))
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
        vu.sink.add_check(name, vu._group, bool(ok), vu._current_tags() if tags is None else {**vu._current_tags(), **str_map(tags)})

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
        vu.record(name, value, None if tags is None else str_map(tags))

    def _h_exec(self, field: str) -> str:
        vu = self.vu
        if vu is None:
            raise RuntimeError(f"k6/execution {field} is not available in the init context")
        executor = self.program.executors.get(vu.scenario, "")
        values: dict[str, Any] = {
            "vu.idInInstance": vu.id,
            "vu.idInTest": vu.id,
            "vu.iterationInInstance": vu.iteration,
            "vu.iterationInScenario": vu.iteration,
            "vu.tags": {k: v for k, v in vu.tags.items() if k != "group" or v},
            "scenario.name": vu.scenario,
            "scenario.executor": executor,
            "scenario.startTime": 0,
            "scenario.progress": 0,
            "scenario.iterationInInstance": self._scenario_iteration(vu),
            "scenario.iterationInTest": self._scenario_iteration(vu),
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

    def _scenario_iteration(self, vu: VU) -> int:
        """k6's exec.scenario.iterationInTest: unique among all the scenario's iterations. The
        shared-iterations executor numbers them (`vu.iteration_in_scenario`, across workers too);
        for the others (and its number 0, the one no VU of another process gets) an iteration
        takes the scenario's next number in this process when the script first asks."""
        if vu.iteration_in_scenario:
            return vu.iteration_in_scenario
        mark = self._iteration_mark
        if mark is None or mark[0] != vu.iteration:
            counts = self.program.scenario_iterations
            n = counts.get(vu.scenario, 0)
            counts[vu.scenario] = n + 1
            mark = self._iteration_mark = (vu.iteration, n)
        return mark[1]

    def _h_tag(self, key: str, value: str) -> None:
        if self.vu is not None:
            self.vu.set_tag(key, value)

    def _h_abort(self, reason: str) -> None:
        vu = self.vu
        stop = vu.state.get("_assay_stop") if vu is not None else None
        if callable(stop):
            stop(reason)
        # k6.js throws "__k6_abort__" next; `failure` reports it as this (raising through QuickJS
        # would leave the exception pending in Python when an async function's promise took it)
        self.host_error = AbortTest(f"test aborted{': ' + reason if reason else ''}")

    def _h_rejected(self, text: str) -> None:
        """An async iteration's promise rejected (k6.js `rejected`): an iteration error, counted
        as a thrown one is; not when the run is stopping or the script called exec.test.abort()."""
        vu = self.vu
        failure = self.failure(_Rejection(text))
        if vu is None or self.driver.cancelling or isinstance(failure, AbortTest | asyncio.CancelledError | greenlet.GreenletExit):
            return  # (cancelling: the run interrupted a request or sleep the promise was waiting on)
        vu.sink.add_error(vu.scenario, f"JsError: Uncaught (in promise) {failure}", exc=failure)

    def _h_shared(self, name: str) -> str | None:
        if not self.init:
            raise RuntimeError("new SharedArray() is only available in the init context (outside functions), as in k6")
        return self.program.shared.get(name)

    def _h_shared_put(self, name: str, data: str) -> None:
        self.program.shared.setdefault(name, data)
