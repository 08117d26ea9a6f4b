"""shared-iterations: a fixed number of iterations shared by a pool of VUs (k6 defaults: 1 VU, 1 iteration, 10m)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, Literal

from assay.load.executors.base import (
    Executor,
    IterationsSpec,
    ScenarioContext,
    check_keys,
    get_duration,
    get_int,
)
from assay.load.scenario import ScenarioError


class SharedIterationsOptions(IterationsSpec):
    """shared-iterations's options, with k6's names and defaults."""

    executor: Literal["shared-iterations"] = "shared-iterations"


class SharedIterations(Executor):
    name = "shared-iterations"
    Options = SharedIterationsOptions

    @classmethod
    def parse_params(cls, raw: Mapping[str, Any], where: str) -> dict[str, Any]:
        check_keys(raw, cls.keys(), where)
        vus = get_int(raw, "vus", cls.default("vus"), where, minimum=1)
        iterations = get_int(raw, "iterations", cls.default("iterations"), where, minimum=1)
        if iterations < vus:
            raise ScenarioError(f"{where}: iterations ({iterations}) must be at least vus ({vus})")
        return {"vus": vus, "iterations": iterations, "maxDuration": get_duration(raw, "maxDuration", cls.default("maxDuration"), where)}

    def max_vus(self) -> int:
        return min(self.segment.scale(self.config.params["vus"]), self.iterations())

    def iterations(self) -> int:
        return self.segment.share_by(self.config.params["iterations"], self.config.params["vus"])[1]

    def duration(self) -> float:
        return float(self.config.params["maxDuration"])

    async def run(self, ctx: ScenarioContext) -> None:
        end = self.config.params["maxDuration"]
        left = [self.iterations()]
        # global numbers: this worker's share starts after the shares of the workers before it
        counter = [self.segment.share_by(self.config.params["iterations"], self.config.params["vus"])[0]]

        async def vu_loop(vu: Any) -> None:
            while left[0] > 0 and not ctx.aborted and ctx.now() < end:
                left[0] -= 1
                vu.iteration_in_scenario = counter[0]
                counter[0] += 1
                await ctx.run_iteration(vu)
            ctx.release_vu(vu)

        tasks = {asyncio.create_task(vu_loop(ctx.acquire_vu())) for _ in range(self.max_vus())}
        await self.finish(ctx, tasks, end)
        if left[0] > 0:
            ctx.dropped(left[0])
