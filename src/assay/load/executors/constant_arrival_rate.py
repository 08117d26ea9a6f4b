"""constant-arrival-rate: `rate` iterations per `timeUnit` for `duration` (k6 defaults: timeUnit 1s, maxVUs = preAllocatedVUs)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, field_validator

from assay.load.executors.arrival import ArrivalRateExecutor
from assay.load.executors.base import (
    Duration,
    ScenarioSpec,
    check_duration,
    check_keys,
    get_duration,
    get_int,
    get_number,
    required,
)
from assay.load.limits import MAX_RATE_PER_S
from assay.load.scenario import ScenarioError


class ConstantArrivalRateOptions(ScenarioSpec):
    """constant-arrival-rate's options, with k6's names and defaults."""

    executor: Literal["constant-arrival-rate"] = "constant-arrival-rate"
    rate: float | None = required(gt=0)
    timeUnit: Duration = "1s"
    duration: Duration | None = required()
    preAllocatedVUs: int | None = required(ge=0)
    maxVUs: int | None = Field(default=None, ge=0, description="default: preAllocatedVUs")

    _check_constant_arrival_rate_durations = field_validator("timeUnit", "duration")(check_duration)

class ConstantArrivalRate(ArrivalRateExecutor):
    name = "constant-arrival-rate"
    Options = ConstantArrivalRateOptions

    @classmethod
    def parse_params(cls, raw: Mapping[str, Any], where: str) -> dict[str, Any]:
        check_keys(raw, cls.keys(), where)
        rate = get_number(raw, "rate", cls.default("rate"), where, maximum=math.inf)
        if rate <= 0:
            raise ScenarioError(f"{where}.rate: must be greater than 0, got {rate!r}")
        time_unit = get_duration(raw, "timeUnit", cls.default("timeUnit"), where)
        if time_unit <= 0:
            raise ScenarioError(f"{where}.timeUnit: must be greater than 0")
        if rate / time_unit > MAX_RATE_PER_S:
            raise ScenarioError(f"{where}.rate: {rate:g} per {time_unit:g}s is above the limit of {MAX_RATE_PER_S:g} iterations/s")
        pre = get_int(raw, "preAllocatedVUs", cls.default("preAllocatedVUs"), where, minimum=1)
        max_vus = get_int(raw, "maxVUs", pre, where, minimum=1)
        if max_vus < pre:
            raise ScenarioError(f"{where}.maxVUs ({max_vus}) must be at least preAllocatedVUs ({pre})")
        return {
            "rate": rate,
            "timeUnit": time_unit,
            "duration": get_duration(raw, "duration", cls.default("duration"), where, minimum=0.001),
            "preAllocatedVUs": pre,
            "maxVUs": max_vus,
        }

    def duration(self) -> float:
        return float(self.config.params["duration"])

    def per_second(self) -> float:
        return float(self.config.params["rate"]) / float(self.config.params["timeUnit"])

    def time_of(self, i: int) -> float | None:
        return i / self.per_second()
