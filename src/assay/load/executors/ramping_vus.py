"""ramping-vus: the number of VUs follows linear stages (k6 defaults: startVUs 1, gracefulRampDown 30s).

VUs above the current target finish their iteration (up to gracefulRampDown) and then stop,
as in k6; the most recently started VUs are the first to go.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, field_validator

from assay.load.executors.base import (
    Duration,
    Executor,
    ScenarioContext,
    ScenarioSpec,
    Stage,
    StageSpec,
    check_duration,
    check_keys,
    get_duration,
    get_int,
    get_stages,
    interpolate,
    required,
    stages_duration,
)
from assay.load.limits import MAX_VUS

TICK = 0.02



class RampingVUsOptions(ScenarioSpec):
    """ramping-vus's options, with k6's names and defaults."""

    executor: Literal["ramping-vus"] = "ramping-vus"
    startVUs: int = Field(default=1, ge=0)
    stages: list[StageSpec] | None = required()
    gracefulRampDown: Duration = "30s"

    _check_ramping_vus_durations = field_validator("gracefulRampDown")(check_duration)

class RampingVUs(Executor):
    name = "ramping-vus"
    Options = RampingVUsOptions

    @classmethod
    def parse_params(cls, raw: Mapping[str, Any], where: str) -> dict[str, Any]:
        check_keys(raw, cls.keys(), where)
        stages = get_stages(raw, where)
        for i, st in enumerate(stages):
            if st.target > MAX_VUS:
                from assay.load.scenario import ScenarioError

                raise ScenarioError(f"{where}.stages[{i}].target: {int(st.target)} VUs is above the limit of {MAX_VUS}")
        return {
            "startVUs": get_int(raw, "startVUs", cls.default("startVUs"), where, minimum=0),
            "stages": stages,
            "gracefulRampDown": get_duration(raw, "gracefulRampDown", cls.default("gracefulRampDown"), where),
        }

    def _scaled(self) -> tuple[int, list[Stage]]:
        seg = self.segment
        start = seg.scale(self.config.params["startVUs"])
        stages = [Stage(st.duration, seg.scale(int(st.target))) for st in self.config.params["stages"]]
        return start, stages

    def max_vus(self) -> int:
        start, stages = self._scaled()
        return int(max([start] + [st.target for st in stages]))

    def initial_vus(self) -> int:
        return self.max_vus()

    def duration(self) -> float:
        return stages_duration(self.config.params["stages"])

    def target_at(self, t: float) -> int:
        start, stages = self._scaled()
        return int(math.floor(interpolate(stages, start, t) + 1e-9))

    async def run(self, ctx: ScenarioContext) -> None:
        end = self.duration()
        ramp_down = self.config.params["gracefulRampDown"]
        active: list[tuple[asyncio.Task[Any], dict[str, bool]]] = []
        stopping: dict[asyncio.Task[Any], float] = {}
        all_tasks: set[asyncio.Task[Any]] = set()

        async def vu_loop(vu: Any, flags: dict[str, bool]) -> None:
            try:
                await ctx.iterate(vu, end, flags)
            finally:
                ctx.release_vu(vu)

        while not ctx.aborted:
            now = ctx.now()
            if now >= end:
                break
            target = self.target_at(now)
            while len(active) < target:
                flags = {"stop": False}
                task = asyncio.create_task(vu_loop(ctx.acquire_vu(), flags))
                active.append((task, flags))
                all_tasks.add(task)
            while len(active) > target:
                task, flags = active.pop()
                flags["stop"] = True
                stopping[task] = now + ramp_down
            for task, deadline in list(stopping.items()):
                if task.done():
                    del stopping[task]
                elif now >= deadline:
                    task.cancel()
                    del stopping[task]
            await ctx.wait_abort(TICK)
            all_tasks = {t for t in all_tasks if not t.done()}
        await self.finish(ctx, {t for t in all_tasks if not t.done()}, end)
