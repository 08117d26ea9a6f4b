"""Recovery measurement: after the faults are reverted (the end of the method), probe the
steady-state hypothesis every `frequency` seconds until it is met and held for `hold` seconds.

Reported: time to recover (revert -> first met of the held streak), time degraded (first
injection -> recovered), and whether the `target` was kept. Configured in the experiment as an
extension, so Chaos Toolkit ignores it:

    "extensions": [{"name": "assay", "recovery": {"frequency": 0.5, "hold": 1, "timeout": 60, "target": 30}}]
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from assay.errors import UsageError


@dataclass
class RecoverySpec:
    frequency: float = 0.5
    hold: float = 0.0
    timeout: float = 60.0
    target: float | None = None


@dataclass
class Recovery:
    recovered: bool
    time_to_recover_s: float | None
    time_degraded_s: float | None
    target_s: float | None
    within_target: bool
    probes: int
    reverted_at: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _seconds(value: Any, key: str) -> float:
    from assay.faults.model import parse_duration

    try:
        seconds = float(parse_duration(value))
    except Exception:
        seconds = -1.0
    if not 0 <= seconds < float("inf"):
        raise UsageError(f"extensions.assay.recovery.{key}: expected seconds or a duration such as 500ms, got {value!r}")
    return seconds


def spec_from(experiment: Mapping[str, Any]) -> RecoverySpec | None:
    for ext in experiment.get("extensions") or []:
        if isinstance(ext, dict) and ext.get("name") == "assay" and isinstance(ext.get("recovery"), dict):
            raw = ext["recovery"]
            unknown = set(raw) - {"frequency", "hold", "timeout", "target"}
            if unknown:
                raise UsageError(f"extensions.assay.recovery: unknown keys {sorted(unknown)}; expected frequency, hold, timeout, target")
            spec = RecoverySpec()
            for key in ("frequency", "hold", "timeout", "target"):
                if key in raw:
                    setattr(spec, key, _seconds(raw[key], key))
            if spec.frequency <= 0:
                raise UsageError("extensions.assay.recovery.frequency: expected a positive duration")
            return spec
    return None


def measure(spec: RecoverySpec, check: Callable[[], bool], reverted_at: float, first_injected_at: float | None,
            clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep) -> Recovery:
    """Probe until met and held, or the timeout; `check` runs the hypothesis and says if it is met."""
    streak_start: float | None = None
    probes = 0
    while True:
        now = clock()
        met = check()
        probes += 1
        if met:
            streak_start = now if streak_start is None else streak_start
            if clock() - streak_start >= spec.hold:
                ttr = max(0.0, streak_start - reverted_at)
                degraded = streak_start - first_injected_at if first_injected_at is not None else None
                ok = spec.target is None or ttr <= spec.target
                return Recovery(True, ttr, degraded, spec.target, ok, probes, reverted_at)
        else:
            streak_start = None
        if clock() - reverted_at >= spec.timeout:
            return Recovery(False, None, None, spec.target, False, probes, reverted_at)
        sleep(spec.frequency)
