"""per-vu-iterations: each VU runs the same number of iterations (k6 defaults: 1 VU, 1 iteration, 10m)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from assay.load.executors.base import Executor, ScenarioContext, check_keys, get_duration, get_int


class PerVUIterations(Executor):
    name = "per-vu-iterations"
    REQUIRED = frozenset()
    OPTIONAL = frozenset({"vus", "iterations", "maxDuration"})

    @classmethod
    def parse_params(cls, raw: Mapping[str, Any], where: str) -> dict[str, Any]:
        check_keys(raw, cls.keys(), where)
        return {
            "vus": get_int(raw, "vus", 1, where, minimum=1),
            "iterations": get_int(raw, "iterations", 1, where, minimum=1),
            "maxDuration": get_duration(raw, "maxDuration", "10m", where),
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
