"""constant-arrival-rate: `rate` iterations per `timeUnit` for `duration` (k6 defaults: timeUnit 1s, maxVUs = preAllocatedVUs)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from assay.load.executors.arrival import ArrivalRateExecutor
from assay.load.executors.base import check_keys, get_duration, get_int, get_number
from assay.load.limits import MAX_RATE_PER_S
from assay.load.scenario import ScenarioError


class ConstantArrivalRate(ArrivalRateExecutor):
    name = "constant-arrival-rate"
    REQUIRED = frozenset({"rate", "duration", "preAllocatedVUs"})
    OPTIONAL = frozenset({"timeUnit", "maxVUs"})

    @classmethod
    def parse_params(cls, raw: Mapping[str, Any], where: str) -> dict[str, Any]:
        check_keys(raw, cls.keys(), where)
        rate = get_number(raw, "rate", None, where, maximum=math.inf)
        if rate <= 0:
            raise ScenarioError(f"{where}.rate: must be greater than 0, got {rate!r}")
        time_unit = get_duration(raw, "timeUnit", "1s", where)
        if time_unit <= 0:
            raise ScenarioError(f"{where}.timeUnit: must be greater than 0")
        if rate / time_unit > MAX_RATE_PER_S:
            raise ScenarioError(f"{where}.rate: {rate:g} per {time_unit:g}s is above the limit of {MAX_RATE_PER_S:g} iterations/s")
        pre = get_int(raw, "preAllocatedVUs", None, where, minimum=1)
        max_vus = get_int(raw, "maxVUs", pre, where, minimum=1)
        if max_vus < pre:
            raise ScenarioError(f"{where}.maxVUs ({max_vus}) must be at least preAllocatedVUs ({pre})")
        return {
            "rate": rate,
            "timeUnit": time_unit,
            "duration": get_duration(raw, "duration", None, where, minimum=0.001),
            "preAllocatedVUs": pre,
            "maxVUs": max_vus,
        }

    def duration(self) -> float:
        return float(self.config.params["duration"])

    def per_second(self) -> float:
        return float(self.config.params["rate"]) / float(self.config.params["timeUnit"])

    def time_of(self, i: int) -> float | None:
        return i / self.per_second()
