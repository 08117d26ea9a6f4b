"""What the two arrival-rate executors share: an open-model scheduler.

Iterations start at planned times whatever the system under test does. Each iteration
knows how late it started (`vu.lateness`), so every request also records
`http_req_corrected_duration` = its duration + that lateness: the latency measured from
the intended start, as wrk2 does, which coordinated omission cannot hide. An iteration
that finds no free VU (and maxVUs reached) is not started and counts as a
`dropped_iterations` sample, as in k6.
"""

from __future__ import annotations

import asyncio
from abc import abstractmethod
from typing import Any

from assay.load.executors.base import Executor, ScenarioContext

TIMER_RESOLUTION = 0.001
BURST = 1000  # iterations started between two yields to the event loop


class ArrivalRateExecutor(Executor):
    """Base of constant- and ramping-arrival-rate: subclasses say when global iteration i starts."""

    @abstractmethod
    def time_of(self, i: int) -> float | None:
        """Seconds after the scenario start when global iteration `i` is due (None: never)."""

    def initial_vus(self) -> int:
        return self.segment.scale(self.config.params["preAllocatedVUs"])

    def max_vus(self) -> int:
        return max(self.initial_vus(), self.segment.scale(self.config.params["maxVUs"]))

    async def run(self, ctx: ScenarioContext) -> None:
        end = self.duration()
        stripe = self.segment.stripe(self.config.params["maxVUs"])
        if stripe is None:
            return  # this worker holds none of the scenario's VUs: the others start every iteration
        i, step = stripe
        loop = asyncio.get_running_loop()
        # One long-lived task per VU, not one per iteration: a free VU's task waits on a future
        # in `idle` for its next iteration's lateness (None: the scenario is over).
        tasks: set[asyncio.Task[Any]] = set()
        idle: dict[int, asyncio.Future[float | None]] = {}
        closing = [False]

        async def serve(vu: Any, lateness: float | None) -> None:
            while lateness is not None:
                try:
                    await ctx.run_iteration(vu, lateness=lateness)
                finally:
                    ctx.release_vu(vu)
                if closing[0]:
                    return
                waiter: asyncio.Future[float | None] = loop.create_future()
                idle[id(vu)] = waiter
                lateness = await waiter

        def start(vu: Any, lateness: float) -> None:
            waiter = idle.pop(id(vu), None)
            if waiter is not None and not waiter.done():
                waiter.set_result(lateness)
                return
            task = asyncio.create_task(serve(vu, lateness))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        due = self.time_of(i)
        try:
            while not ctx.aborted and due is not None and due < end:
                now = ctx.now()
                if due > now:
                    # never less than the loop's timer resolution: uvloop timers count whole
                    # milliseconds, so a shorter sleep returns at once and the loop would spin on
                    # epoll; what is due meanwhile starts together, its lateness measured exactly
                    if await ctx.wait_abort(max(due - now, TIMER_RESOLUTION)):
                        break
                    now = ctx.now()
                burst = 0
                while due is not None and due <= now and due < end:
                    vu = ctx.acquire_vu()
                    if vu is None:
                        ctx.dropped()
                    else:
                        start(vu, now - due)
                    i += step
                    due = self.time_of(i)
                    burst += 1
                    if burst >= BURST:
                        # a long backlog (a stalled loop, a high rate): let the iterations and
                        # signal handlers (Ctrl-C) run before starting more
                        burst = 0
                        await asyncio.sleep(0)
                        if ctx.aborted:
                            break
        finally:
            closing[0] = True
            for waiter in idle.values():
                if not waiter.done():
                    waiter.set_result(None)
            idle.clear()
        await self.finish(ctx, {t for t in tasks if not t.done()}, end)
