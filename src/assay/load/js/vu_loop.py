"""A k6 JS VU's iterations run back to back in its greenlet, resumed by its connection's response callback.

The general way (assay.load.js.loader's iteration coroutine, one per iteration) costs each
`http.get(url)` four greenlet switches, an asyncio Future and a Task step: the VU's task
switches into the script, the script switches back with the URL, the task awaits the
request, and the response resumes the task, which switches into the script again.

Here the executor's loop itself runs in the VU's greenlet (`JsLoop.batch`) and a plain
`http.get(url)` (JsContext.bind_fast) is answered from the connection's response callback
(`JsLoop.on_response`): it records the response as `HttpClient._get_prepared` does and
switches straight into the script, which runs on to its next request. That is two greenlet
switches per request and no Task step, as the Python scenario's static loop has none
(assay.load.http.static). The VU's task only waits on one Future per batch, and takes over
whatever a callback cannot do: awaiting the script's other host calls (sleep, POST, batch,
WebSockets), connecting, cookies, redirects, errors, timeouts and cancellation, on exactly
the paths the general way uses, so every metric is recorded the same.

Used by closed-model executors (constant-vus, ramping-vus: `_Scenario.iterate`), without
--rps and request tracing; everything else runs iterations the general way.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import greenlet
import quickjs

from assay.load.http.corked import corked_writes
from assay.load.http.errors import RequestError
from assay.load.js.driver import DONE, drain
from assay.load.js.runtime import AbortTest
from assay.load.vu import YIELD_EVERY

if TYPE_CHECKING:
    from assay.load.http.client import HttpClient, _PreparedGet
    from assay.load.http.connection import Connection
    from assay.load.js.runtime import JsContext

_perf = time.perf_counter
_NOTHING = object()  # no hand-off waiting for the task


class JsLoop:
    """One VU's batch of iterations of one exported function (see the module docstring)."""

    __slots__ = (
        "ctx", "vu", "client", "run", "name", "end_at", "worker", "flags",
        "g", "wake", "handoff", "conn", "prep", "t_start", "t_sent", "timeout", "corked",
    )

    def __init__(self, ctx: JsContext, run: Any, name: str) -> None:
        self.ctx = ctx
        self.vu = ctx.vu
        self.client: HttpClient = ctx.vu.http  # type: ignore[union-attr]
        self.run = run
        self.name = name
        self.timeout = self.client.client_options.timeout
        self.end_at = 0.0
        self.worker: Any = None
        self.flags: dict[str, bool] | None = None
        self.g: greenlet.greenlet | None = None
        self.wake: asyncio.Future[None] | None = None
        self.handoff: Any = _NOTHING
        self.conn: Connection | None = None
        self.prep: _PreparedGet | None = None
        self.t_start = self.t_sent = 0.0
        self.corked = corked_writes(asyncio.get_running_loop())

    # -- the VU's task ----------------------------------------------------------------------------------

    async def run_batch(self, end_at: float, worker: Any, flags: dict[str, bool] | None) -> None:
        """Iterations until perf-counter time `end_at`, `worker.stopping`, `flags["stop"]` or every
        256th (so a script that never waits cannot hold the event loop)."""
        self.end_at = end_at
        self.worker = worker
        self.flags = flags
        driver = self.ctx.driver
        loop = asyncio.get_running_loop()
        client = self.client
        value = driver.start(self.batch, ())
        self.g = driver.g
        while value is not DONE:
            if value.__class__ is not str or not self.send(value):
                # another host call (sleep, requests with params, batch, WebSockets), or a URL not
                # sent before / no idle connection: the general way
                value = await driver.step(value)
                continue
            # the batch goes on in response callbacks until one hands something back
            wake = self.wake = loop.create_future()
            conn = self.conn
            conn.waiter = wake  # type: ignore[union-attr]
            try:
                await wake
            except asyncio.CancelledError:
                self._cut_off()
                driver._cancel(None)
                raise
            except RequestError as err:
                # a timeout, a reset, a server that closed the kept-alive connection
                value = await driver.answer(client.failed_get(self.prep, self._release(), err, self.t_start))  # type: ignore[arg-type]
                continue
            finally:
                self.wake = None
            handoff = self.handoff
            if handoff is not _NOTHING:
                self.handoff = _NOTHING
                value = handoff
                continue
            # the response needs the general path (cookies, compression, redirects, closing)
            value = await driver.answer(client.finish_get(self.prep, self._release(), self.t_start, self.t_sent))  # type: ignore[arg-type]
        driver.finish()

    def _release(self) -> Connection:
        """The connection of the request in flight, no longer driven by this loop."""
        conn, self.conn = self.conn, None
        conn.driver = None  # type: ignore[union-attr]
        return conn  # type: ignore[return-value]

    def _cut_off(self) -> None:
        if self.conn is not None:
            self.client.cut_off_get(self.prep, self._release(), self.t_start)  # type: ignore[arg-type]

    # -- response callbacks -----------------------------------------------------------------------------

    def send(self, url: str) -> bool:
        """Send a plain GET of a URL sent before on an idle kept-alive connection, answered in
        `on_response`; False when the general way must (first request, connecting, cookies)."""
        client = self.client
        prep = client.prepared_get(url)
        if prep is None:
            return False
        conn = client.idle_for(prep)
        if conn is None:
            return False
        self.prep = prep
        self.conn = conn
        conn.driver = self.on_response
        conn.waiter = self.wake
        conn.head_request = False
        t_start = self.t_sent = self.t_start = _perf()
        conn.expect(t_start + self.timeout)
        self.corked.send(conn, prep.data, self)  # written after this batch of callbacks (t_sent then)
        return True

    def on_response(self, conn: Connection) -> bool:
        """The connection read a whole response: record it and run the script on to its next hand-off."""
        response = self.client.complete_get(self.prep, conn, self.t_start, self.t_sent)  # type: ignore[arg-type]
        if response is None:
            return False  # the task finishes it the general way (its waiter is set)
        conn.driver = None
        conn.waiter = None
        self.conn = None
        self.ctx.responses.append(response)
        value = self.g.switch(response.status)  # type: ignore[union-attr]
        if value.__class__ is str and self.send(value):
            return True
        # anything else, in the task: a finished batch, another host call, a request to connect
        self.handoff = value
        wake = self.wake
        if wake is not None and not wake.done():
            wake.set_result(None)
        return True

    # -- the VU's greenlet -----------------------------------------------------------------------------

    def batch(self) -> None:
        """The executor's iteration loop (`_Scenario.iterate`), in the script's greenlet."""
        ctx = self.ctx
        vu = self.vu
        run = self.run
        worker = self.worker
        flags = self.flags
        sink = vu.sink  # type: ignore[union-attr]
        now = _perf()
        while True:
            t0 = now
            if ctx.responses:
                ctx.responses.clear()
                ctx.kinds.clear()
            try:
                if run(vu.id, vu.iteration) is not None:  # type: ignore[union-attr]
                    drain(ctx.ctx)  # an async default function: its promise jobs
                if ctx.driver.cancelling:
                    # an async function's promise took the interruption (k6.js `rejected`): no
                    # exception reached Python, and the iteration is interrupted, not completed
                    raise asyncio.CancelledError()
            except quickjs.JSException as exc:
                if ctx.driver.cancelling:
                    raise asyncio.CancelledError() from None
                failure = ctx.failure(exc)
                if isinstance(failure, asyncio.CancelledError | greenlet.GreenletExit):
                    raise failure from None
                if not isinstance(failure, AbortTest):  # the aborting iteration is not an error, as in k6
                    sink.add_error(vu.scenario, f"{type(failure).__name__}: {failure}", exc=failure)  # type: ignore[union-attr]
            finally:
                groups = ctx._groups
                while groups:
                    groups.pop().__exit__(None, None, None)
            now = _perf()
            vu.count_iteration((now - t0) * 1000.0)  # type: ignore[union-attr]
            if now >= self.end_at or worker.stopping or (flags is not None and flags["stop"]) or not vu.iteration & YIELD_EVERY:  # type: ignore[union-attr]
                return
