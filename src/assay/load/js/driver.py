"""The greenlet that runs one VU's JavaScript, driven by the VU's asyncio task.

k6's `http.get` is synchronous from the script's view while assay's HTTP client is asyncio.
Each VU's JavaScript runs in its own greenlet on the event-loop thread: a host function that
needs I/O hands its coroutine to the driver (`Driver.run`, awaiting in the VU's task) by
switching greenlets, and gets the result back the same way. `http.get(url)` without params
hands over just its URL, with the driving greenlet's own `switch` as the host function
(JsContext.bind_fast), so no Python frame runs on the script's side of such a request. No
thread per VU, no lock (benchmarks/load/bench_js_engines.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import greenlet

if TYPE_CHECKING:
    from assay.load.http.response import Response
    from assay.load.js.runtime import JsContext

DONE = object()  # what the greenlet hands back when the JavaScript call has returned

# How far below its creator a VU's greenlet starts, in nested calls through C (~1 KiB of C stack
# each): deeper than any event-loop callback that switches into it (the deepest, a response
# callback on the pure-Python HTTP path, was ~15 KiB below), so switching never saves and restores
# the event loop's own stack, only the VU's (~5 KiB). Starting at the creator's depth cost ~29 KiB
# of memmove per request (benchmarks/load/README.md, k6 JavaScript scenario).
_START_BELOW = 48


def enter(g: greenlet.greenlet, fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    """`g.switch(fn, args)`, starting a new greenlet `_START_BELOW` C-level calls deeper."""
    if g or g.dead:
        return g.switch(fn, args)
    return _below(_START_BELOW, g.switch, (fn, args))


def _below(depth: int, fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    if depth == 0:
        return fn(*args)
    return next(map(_below, (depth - 1,), (fn,), (args,)))  # map: a call through C, so a C stack frame


class Driver:
    """Runs JavaScript in a greenlet; its host calls await coroutines in the VU's task.

    `start` switches into the greenlet, `step` serves one hand-off (an awaitable, or a URL for
    `http.get` on the fast path) and returns the next, `finish` gives the call's result: `run`
    for a whole call, and JsLoop (assay.load.js.vu_loop) for the iterations it answers from
    response callbacks in between.
    """

    __slots__ = ("g", "parent", "result", "error", "ctx", "cancelling")

    def __init__(self, ctx: JsContext) -> None:
        self.g: greenlet.greenlet | None = None
        self.parent: greenlet.greenlet | None = None
        self.result: Any = None
        self.error: BaseException | None = None
        self.ctx = ctx
        self.cancelling = False  # the script is being unwound (its JS exception is not an error)

    def _body(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        while True:
            try:
                self.result = fn(*args)
            except BaseException as exc:  # handed to the awaiting task
                self.error = exc
            fn, args = self.parent.switch(DONE)  # type: ignore[union-attr]

    def start(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        """Run `fn(*args)` in the greenlet (created if needed) until its first hand-off, or DONE."""
        g = self.g
        if g is None or g.dead:
            g = self.g = greenlet.greenlet(self._body)
        parent = self.parent = greenlet.getcurrent()
        if parent is not self.ctx.fast_parent:
            self.ctx.bind_fast()
        return enter(g, fn, args)

    async def step(self, value: Any) -> Any:
        """Serve one hand-off of the greenlet and return its next one: a URL (`http.get(url)` on the
        fast path, JsContext.bind_fast) is fetched, anything else (`wait`) awaited."""
        if value.__class__ is str:
            return await self.answer(self.ctx.vu.http.get(value))  # type: ignore[union-attr]
        g = self.g
        try:
            result = await value
        except asyncio.CancelledError:
            # interrupted (gracefulStop): unwind the script, then stop the task
            self._cancel(value)
            raise
        except BaseException as exc:
            return g.throw(exc)  # type: ignore[union-attr]
        return g.switch(result)  # type: ignore[union-attr]

    async def answer(self, request: Awaitable[Response]) -> Any:
        """The response of a fast-path `http.get` for the script: its status (the Response is kept
        for its other fields), or the exception the request raised; returns the next hand-off."""
        ctx = self.ctx
        try:
            res = await request
        except asyncio.CancelledError:
            self._cancel(None)
            raise
        except BaseException as exc:
            ctx.host_error = exc
            return self.g.throw(exc)  # type: ignore[union-attr]
        ctx.responses.append(res)
        return self.g.switch(res.status)  # type: ignore[union-attr]

    def finish(self) -> Any:
        """After DONE: the call's result, or its exception raised here."""
        error = self.error
        if error is not None:
            self.error = None
            raise error
        result, self.result = self.result, None
        return result

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """`fn(*args)` in the greenlet, every hand-off served in this task (`step`)."""
        value = self.start(fn, args)
        while value is not DONE:
            value = await self.step(value)
        return self.finish()

    def _cancel(self, value: Any) -> None:
        """Unwind the script with CancelledError thrown where it waits (the run is stopping)."""
        g = self.g
        self.cancelling = True
        try:
            while g is not None and not g.dead and value is not DONE:
                if hasattr(value, "close"):
                    value.close()
                value = g.throw(asyncio.CancelledError())
        finally:
            self.cancelling = False
        self.g = None
        self.error = None

    def wait(self, awaitable: Any) -> Any:
        """From JavaScript (inside the greenlet): await `awaitable` in the VU's task."""
        if self.parent is None:
            if hasattr(awaitable, "close"):
                awaitable.close()
            raise RuntimeError("network and sleep calls are not allowed in the init context (outside functions)")
        return self.parent.switch(awaitable)


def drain(ctx: Any) -> None:
    """Run an async function's continuations to the end, as k6 ends such an iteration only once its
    event loop is empty: the context's pending promise jobs, then the timers and WebSocket sessions
    they started (k6.js `__eventLoop`, which waits through host calls), then the jobs those
    queued, until neither is left. (Draining the jobs alone ended the iteration at its first
    `await` of a timer, and the rest ran in the next iteration.)"""
    event_loop = ctx.get("__eventLoop")
    while True:
        while ctx.execute_pending_job():
            pass
        event_loop()
        if not ctx.execute_pending_job():
            return
