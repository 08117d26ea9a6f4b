"""Named load profiles that expand to k6 executors: smoke, load, stress, spike, soak, breakpoint.

`--profile NAME` replaces the scenarios of a file (or builds them in quick mode), keeping
its `exec`, thresholds and tags. `--vus` sets the profile's level (default 10),
`--duration` its total length, `--rate` the breakpoint's top rate.
"""

from __future__ import annotations

from typing import Any

from assay.errors import UsageError
from assay.load.durations import format_duration, parse_duration

DEFAULT_DURATIONS = {"smoke": "30s", "load": "10m", "stress": "15m", "spike": "3m", "soak": "2h", "breakpoint": "20m"}
PROFILES = tuple(DEFAULT_DURATIONS)


def expand_profile(name: str, *, vus: int | None = None, duration: str | None = None, rate: float | None = None) -> dict[str, Any]:
    """The executor options of profile `name` (one k6 scenario); `hotel-*` names are fixed-size presets."""
    from assay.load.presets import PRESETS, expand_preset, is_preset

    if is_preset(name):
        return expand_preset(name, vus=vus, duration=duration)
    if name not in DEFAULT_DURATIONS:
        raise UsageError(f"--profile {name!r}: unknown profile; expected one of {', '.join((*PROFILES, *PRESETS))}")
    total = parse_duration(duration or DEFAULT_DURATIONS[name], what="--duration")
    if total <= 0:
        raise UsageError("--duration must be greater than 0")
    n = vus or 10

    def d(fraction: float) -> str:
        return format_duration(round(total * fraction, 3))

    if name == "smoke":
        return {"executor": "constant-vus", "vus": vus or 1, "duration": format_duration(total)}
    if name == "load":
        # ramp up, hold at the expected level, ramp down
        return {"executor": "ramping-vus", "startVUs": 0, "stages": [
            {"duration": d(0.1), "target": n}, {"duration": d(0.8), "target": n}, {"duration": d(0.1), "target": 0}]}
    if name == "stress":
        # beyond the expected level in steps: 1x, 1.5x, 2x
        return {"executor": "ramping-vus", "startVUs": 0, "stages": [
            {"duration": d(0.1), "target": n}, {"duration": d(0.2), "target": n},
            {"duration": d(0.1), "target": int(n * 1.5)}, {"duration": d(0.2), "target": int(n * 1.5)},
            {"duration": d(0.1), "target": n * 2}, {"duration": d(0.2), "target": n * 2},
            {"duration": d(0.1), "target": 0}]}
    if name == "spike":
        # a sudden jump to 10x and a sudden drop
        return {"executor": "ramping-vus", "startVUs": 0, "stages": [
            {"duration": d(0.1), "target": n}, {"duration": d(0.05), "target": n * 10},
            {"duration": d(0.3), "target": n * 10}, {"duration": d(0.05), "target": n},
            {"duration": d(0.4), "target": n}, {"duration": d(0.1), "target": 0}]}
    if name == "soak":
        return {"executor": "ramping-vus", "startVUs": 0, "stages": [
            {"duration": d(0.05), "target": n}, {"duration": d(0.9), "target": n}, {"duration": d(0.05), "target": 0}]}
    # breakpoint: keep raising the arrival rate until something gives (pair it with abortOnFail thresholds)
    top = rate or float(n * 100)
    return {"executor": "ramping-arrival-rate", "startRate": 1, "timeUnit": "1s", "preAllocatedVUs": n,
            "maxVUs": max(n, int(top)), "stages": [{"duration": format_duration(total), "target": top}]}
