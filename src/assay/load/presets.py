"""Fixed-size presets: the hotel team's test plan sizes, selectable like profiles (`--profile hotel-stress`).

The generic profiles (assay.load.profiles) scale with `--vus` and `--duration`; a team
that has written its sizes into a test plan wants them by name, unchanged run to run:

    name           shape                                              VUs    length
    hotel-smoke    constant                                           1      1 min
    hotel-load     ramp 2 min, hold 10 min, ramp down 2 min           10     14 min
    hotel-stress   steps 10 -> 20 -> 35 -> 50, hold, ramp down         50     27 min
    hotel-spike    base 5, jump to 100 in 10 s, hold 1 min, drop       100    4 min
    hotel-soak     ramp 1 min, hold 28 min, ramp down 1 min           5      30 min

The `hotel-` prefix keeps them apart from the generic names (`load`, `stress`, ...).
`--vus N` scales every stage's target by N / peak, `--duration D` scales every stage's
length by D / length (CI runs them small: `--profile hotel-soak --duration 30s`).
"""

from __future__ import annotations

from typing import Any

from assay.errors import UsageError
from assay.load.durations import format_duration, parse_duration

PREFIX = "hotel-"

# (stage seconds, target VUs); the first stage starts from 0 VUs
_STAGES: dict[str, list[tuple[float, int]]] = {
    "hotel-load": [(120, 10), (600, 10), (120, 0)],
    "hotel-stress": [(120, 10), (180, 10), (120, 20), (180, 20), (120, 35), (180, 35), (120, 50), (300, 50), (300, 0)],
    "hotel-spike": [(30, 5), (30, 5), (10, 100), (60, 100), (10, 5), (60, 5), (40, 0)],
    "hotel-soak": [(60, 5), (1680, 5), (60, 0)],
}
SMOKE = ("hotel-smoke", 1, 60.0)
PRESETS = (SMOKE[0], *_STAGES)


def is_preset(name: str) -> bool:
    return name in PRESETS


def peak_and_length(name: str) -> tuple[int, float]:
    if name == SMOKE[0]:
        return SMOKE[1], SMOKE[2]
    stages = _STAGES[name]
    return max(t for _, t in stages), sum(d for d, _ in stages)


def expand_preset(name: str, *, vus: int | None = None, duration: str | None = None) -> dict[str, Any]:
    """The k6 executor options of preset `name`, scaled by `vus` (peak) and `duration` (total) when given."""
    if name not in PRESETS:
        raise UsageError(f"--profile {name!r}: unknown preset; expected one of {', '.join(PRESETS)}")
    peak, length = peak_and_length(name)
    time_scale = 1.0
    if duration is not None:
        total = parse_duration(duration, what="--duration")
        if total <= 0:
            raise UsageError("--duration must be greater than 0")
        time_scale = total / length
    vu_scale = (vus / peak) if vus else 1.0
    if name == SMOKE[0]:
        return {"executor": "constant-vus", "vus": vus or SMOKE[1], "duration": format_duration(round(length * time_scale, 3))}
    stages = [
        {"duration": format_duration(round(d * time_scale, 3)), "target": max(0, round(t * vu_scale)) if t else 0}
        for d, t in _STAGES[name]
    ]
    return {"executor": "ramping-vus", "startVUs": 0, "stages": stages, "gracefulRampDown": "30s"}
