"""per-vu-iterations: each VU runs the same number of iterations (k6 defaults: 1 VU, 1 iteration, 10m)."""

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


class PerVUIterationsOptions(IterationsSpec):
    """per-vu-iterations's options, with k6's names and defaults."""

    executor: Literal["per-vu-iterations"] = "per-vu-iterations"


class PerVUIterations(Executor):
    name = "per-vu-iterations"
    Options = PerVUIterationsOptions

    @classmethod
    def parse_params(cls, raw: Mapping[str, Any], where: str) -> dict[str, Any]:
        check_keys(raw, cls.keys(), where)
        return {
            "vus": get_int(raw, "vus", cls.default("vus"), where, minimum=1),
            "iterations": get_int(raw, "iterations", cls.default("iterations"), where, minimum=1),
            "maxDuration": get_duration(raw, "maxDuration", cls.default("maxDuration"), where),
        }

    def max_vus(self) -> int:
        return self.segment.scale(self.config.params["vus"])

    def duration(self) -> float:
        return float(self.config.params["maxDuration"])

    async def run(self, ctx: ScenarioContext) -> None:
        end = self.config.params["maxDuration"]
        per_vu = self.config.params["iterations"]
        left: list[int] = []

        async def vu_loop(vu: Any, slot: int) -> None:
            while left[slot] > 0 and not ctx.aborted and ctx.now() < end:
                left[slot] -= 1
                await ctx.run_iteration(vu)
            ctx.release_vu(vu)

        tasks = set()
        for slot in range(self.max_vus()):
            left.append(per_vu)
            tasks.add(asyncio.create_task(vu_loop(ctx.acquire_vu(), slot)))
        await self.finish(ctx, tasks, end)
        remaining = sum(left)
        if remaining > 0:
            ctx.dropped(remaining)
