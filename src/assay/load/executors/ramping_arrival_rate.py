"""ramping-arrival-rate: the iteration rate follows linear stages (k6 defaults: startRate 0, timeUnit 1s).

Iteration i starts when the integral of the rate reaches i, so the schedule is exact at
any rate, including mid-ramp.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, field_validator

from assay.load.executors.arrival import ArrivalRateExecutor
from assay.load.executors.base import (
    Duration,
    ScenarioSpec,
    StageSpec,
    check_duration,
    check_keys,
    get_duration,
    get_int,
    get_number,
    get_stages,
    required,
    stages_duration,
)
from assay.load.limits import MAX_RATE_PER_S
from assay.load.scenario import ScenarioError


class RampingArrivalRateOptions(ScenarioSpec):
    """ramping-arrival-rate's options, with k6's names and defaults."""

    executor: Literal["ramping-arrival-rate"] = "ramping-arrival-rate"
    startRate: float = Field(default=0, ge=0)
    timeUnit: Duration = "1s"
    stages: list[StageSpec] | None = required()
    preAllocatedVUs: int | None = required(ge=0)
    maxVUs: int | None = Field(default=None, ge=0, description="default: preAllocatedVUs")

    _check_ramping_arrival_rate_durations = field_validator("timeUnit")(check_duration)

class RampingArrivalRate(ArrivalRateExecutor):
    name = "ramping-arrival-rate"
    Options = RampingArrivalRateOptions

    @classmethod
    def parse_params(cls, raw: Mapping[str, Any], where: str) -> dict[str, Any]:
        check_keys(raw, cls.keys(), where)
        time_unit = get_duration(raw, "timeUnit", cls.default("timeUnit"), where)
        if time_unit <= 0:
            raise ScenarioError(f"{where}.timeUnit: must be greater than 0")
        pre = get_int(raw, "preAllocatedVUs", cls.default("preAllocatedVUs"), where, minimum=1)
        max_vus = get_int(raw, "maxVUs", pre, where, minimum=1)
        if max_vus < pre:
            raise ScenarioError(f"{where}.maxVUs ({max_vus}) must be at least preAllocatedVUs ({pre})")
        start_rate = get_number(raw, "startRate", cls.default("startRate"), where, maximum=MAX_RATE_PER_S * time_unit)
        stages = get_stages(raw, where)
        for i, st in enumerate(stages):
            if st.target / time_unit > MAX_RATE_PER_S:
                raise ScenarioError(f"{where}.stages[{i}].target: {st.target:g} per {time_unit:g}s is above the limit of {MAX_RATE_PER_S:g} iterations/s")
        return {
            "startRate": start_rate,
            "timeUnit": time_unit,
            "stages": stages,
            "preAllocatedVUs": pre,
            "maxVUs": max_vus,
        }

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        unit = float(self.config.params["timeUnit"])
        # (stage start time, duration, start rate/s, end rate/s, iterations before the stage)
        self._segments: list[tuple[float, float, float, float, float]] = []
        t = 0.0
        done = 0.0
        rate = float(self.config.params["startRate"]) / unit
        for st in self.config.params["stages"]:
            target = st.target / unit
            self._segments.append((t, st.duration, rate, target, done))
            done += (rate + target) / 2.0 * st.duration
            t += st.duration
            rate = target
        self._total = done

    def duration(self) -> float:
        return stages_duration(self.config.params["stages"])

    def rate_at(self, t: float) -> float:
        for start, dur, r0, r1, _ in self._segments:
            if t <= start + dur:
                return r0 + (r1 - r0) * ((t - start) / dur if dur else 1.0)
        return self._segments[-1][3] if self._segments else 0.0

    def time_of(self, i: int) -> float | None:
        if i >= self._total:
            return None
        for start, dur, r0, r1, before in self._segments:
            n = (r0 + r1) / 2.0 * dur
            if i < before + n:
                c = i - before
                if r1 == r0:
                    return start + (c / r0 if r0 else 0.0)
                a = (r1 - r0) / (2.0 * dur)
                disc = r0 * r0 + 4.0 * a * c
                return start + (-r0 + math.sqrt(max(0.0, disc))) / (2.0 * a)
        return None
