"""constant-vus: a fixed number of VUs loop over iterations for a duration (k6 defaults: 1 VU; duration required)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import field_validator

from assay.load.executors.base import (
    Duration,
    Executor,
    FixedVUsSpec,
    ScenarioContext,
    check_duration,
    check_keys,
    get_duration,
    get_int,
    required,
)


class ConstantVUsOptions(FixedVUsSpec):
    """constant-vus's options, with k6's names and defaults."""

    executor: Literal["constant-vus"] = "constant-vus"
    duration: Duration | None = required()

    _check_constant_vus_durations = field_validator("duration")(check_duration)


class ConstantVUs(Executor):
    name = "constant-vus"
    Options = ConstantVUsOptions

    @classmethod
    def parse_params(cls, raw: Mapping[str, Any], where: str) -> dict[str, Any]:
        check_keys(raw, cls.keys(), where)
        return {"vus": get_int(raw, "vus", cls.default("vus"), where, minimum=1), "duration": get_duration(raw, "duration", cls.default("duration"), where, minimum=1.0)}

    def max_vus(self) -> int:
        return self.segment.scale(self.config.params["vus"])

    def duration(self) -> float:
        return float(self.config.params["duration"])

    async def run(self, ctx: ScenarioContext) -> None:
        end = self.config.params["duration"]

        async def vu_loop(vu: Any) -> None:
            try:
                await ctx.iterate(vu, end)
            finally:
                ctx.release_vu(vu)

        tasks = {asyncio.create_task(vu_loop(ctx.acquire_vu())) for _ in range(self.max_vus())}
        await self.finish(ctx, tasks, end)
