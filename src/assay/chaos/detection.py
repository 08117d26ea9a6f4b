"""Time to detect: from the first injection to the first sign that something is wrong, as seen by
the guard probe, the steady state probed during the method, or the background load (the end
of the first load segment with a failed request: when assay could know). Reported beside the
time to recover, so a run answers both "how fast did we notice" and "how fast did we heal".
"""

from __future__ import annotations

from typing import Any

SOURCES = {"guard_probe": "guard probe", "hypothesis_during": "steady state during the method",
           "load": "background load"}


def annotate(journal: dict[str, Any], load_first_error_at: float | None) -> dict[str, Any] | None:
    """Add `x-assay.detection` (and `time_to_detect_s` to the recovery) when a fault was injected."""
    extra = journal.get("x-assay") or {}
    faults = extra.get("faults") or []
    if not faults:
        return None  # (and no x-assay key added: a plain Chaos Toolkit run keeps its journal's keys)
    injected_at = min(float(f["injected_at"]) for f in faults)
    candidates = {
        "guard_probe": (extra.get("guard_probe") or {}).get("first_fail_at"),
        "hypothesis_during": extra.get("first_during_miss_at"),
        "load": load_first_error_at,
    }
    seen = {k: float(v) for k, v in candidates.items() if v is not None and float(v) >= injected_at - 0.05}
    if seen:
        source = min(seen, key=lambda k: seen[k])
        detection = {"injected_at": injected_at, "detected_at": seen[source],
                     "time_to_detect_s": max(0.0, seen[source] - injected_at), "detected_by": SOURCES[source]}
    else:
        detection = {"injected_at": injected_at, "detected_at": None, "time_to_detect_s": None, "detected_by": None}
    extra["detection"] = detection
    if isinstance(extra.get("recovery"), dict):
        extra["recovery"]["time_to_detect_s"] = detection["time_to_detect_s"]
    return detection
