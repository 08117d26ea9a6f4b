"""Which embedded JavaScript engine runs k6 scripts: the cost of one request's round trip
JS -> Python -> asyncio -> Python -> JS, per engine and bridge (not run by CI).

    .venv/bin/pip install mini-racer dukpy      # the candidates assay does not depend on
    .venv/bin/python benchmarks/load/bench_js_engines.py [--n 20000]

k6's `http.get` is synchronous from the script's view; assay's HTTP client is asyncio. Each
row runs N "requests": the JS side calls a host function, which awaits a coroutine that
suspends once on the event loop (standing for the HTTP client) and returns a status to JS.
Printed: CPU microseconds per request (process time, so other work on the box does not
count), against plain Python awaiting the same coroutine (the anchor, same run).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import greenlet


async def fake_request() -> int:
    await asyncio.sleep(0)
    return 200


class VUGreenlet:
    """assay's bridge (assay.load.js.driver.Driver, reduced): JS runs in a greenlet per VU."""

    DONE = object()

    def __init__(self) -> None:
        self.g = greenlet.greenlet(self._body)
        self.parent: Any = None
        self.result: Any = None

    def _body(self, fn: Callable[[], Any]) -> None:
        while True:
            self.result = fn()
            fn = self.parent.switch(self.DONE)

    def wait(self, coro: Any) -> Any:
        return self.parent.switch(coro)

    async def run(self, fn: Callable[[], Any]) -> Any:
        self.parent = greenlet.getcurrent()
        value = self.g.switch(fn)
        while value is not self.DONE:
            value = self.g.switch(await value)
        return self.result


def timed(n: int, body: Callable[[], Any]) -> float:
    t = time.process_time()
    asyncio.run(body())
    return (time.process_time() - t) / n * 1e6


def python_anchor(n: int) -> float:
    async def body() -> None:
        for _ in range(n):
            await fake_request()

    return timed(n, body)


def quickjs_greenlet(n: int) -> float:
    import quickjs

    ctx = quickjs.Context()
    vu = VUGreenlet()
    ctx.add_callable("get", lambda: vu.wait(fake_request()))
    ctx.eval("function iteration() { const s = get(); if (s !== 200) throw new Error('status'); }")
    it = ctx.get("iteration")

    async def body() -> None:
        for _ in range(n):
            await vu.run(it)  # one JS iteration per request, as a VU runs them

    return timed(n, body)


def quickjs_thread(n: int) -> float:
    """A thread per VU running its own context, blocking on run_coroutine_threadsafe."""
    import quickjs

    async def body() -> None:
        loop = asyncio.get_running_loop()
        done = asyncio.Event()

        def vu() -> None:
            ctx = quickjs.Context()
            ctx.add_callable("get", lambda: asyncio.run_coroutine_threadsafe(fake_request(), loop).result())
            ctx.eval("function run(n) { for (let i = 0; i < n; i++) { if (get() !== 200) throw new Error('status'); } }")
            ctx.get("run")(n)
            loop.call_soon_threadsafe(done.set)

        threading.Thread(target=vu).start()
        await done.wait()

    return timed(n, body)


def dukpy_greenlet(n: int) -> float:
    import dukpy

    interp = dukpy.JSInterpreter()
    vu = VUGreenlet()
    interp.export_function("get", lambda: vu.wait(fake_request()))
    interp.evaljs("iteration = function () { if (call_python('get') !== 200) throw new Error('status'); }; null")

    async def body() -> None:
        for _ in range(n):
            await vu.run(lambda: interp.evaljs("iteration(); null"))

    return timed(n, body)


def mini_racer_call(n: int) -> float:
    """mini-racer has no synchronous host functions (wrap_py_function gives JS a Promise), so
    http.get could not be synchronous; measured: one Python -> V8 call, the floor of any bridge."""
    from py_mini_racer import MiniRacer

    mr = MiniRacer()
    mr.eval("function iteration(s) { return s + 1; }")
    n = min(n, 5000)
    t = time.process_time()
    for i in range(n):
        mr.call("iteration", i)
    return (time.process_time() - t) / n * 1e6


ROWS: dict[str, Callable[[int], float]] = {
    "python (anchor)": python_anchor,
    "quickjs, greenlet per VU (assay)": quickjs_greenlet,
    "quickjs, thread per VU": quickjs_thread,
    "dukpy (Duktape, ES5), greenlet": dukpy_greenlet,
    "mini-racer (V8): one call, no sync host fn": mini_racer_call,
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=20000)
    args = ap.parse_args()
    results: dict[str, float] = {}
    for label, fn in ROWS.items():
        try:
            results[label] = fn(args.n)
        except ImportError as exc:
            print(f"skip {label}: {exc}")
    anchor = results["python (anchor)"]
    load = os.getloadavg()
    print(f"\nCPU µs per request round trip, {args.n} requests; load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    print(f"{'engine and bridge':<46}{'µs/req':>8}{'vs python':>11}")
    for label, us in results.items():
        print(f"{label:<46}{us:>8.2f}{us / anchor:>10.1f}x")


if __name__ == "__main__":
    main()
