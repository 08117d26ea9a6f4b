"""Warm-up exclusion: the first seconds of a run are recorded but not judged.

    assay load run scenario.py --warmup 30s          # or options = {"warmup": "30s"}

A service warming its caches, JIT or connection pools is slow for a while; gating on
those seconds fails runs for the wrong reason (the platform team's rule: warm up before
gating). At the end of the warm-up each worker sets the totals it folded so far aside
(`MetricsSink.restart_totals`) and counts from zero, so:

- `RunResult.metrics` (and so thresholds, SLO gates, the summary and the k6 summary
  export) and `duration_s` cover the measured window only;
- the warm-up's own metrics and checks stay in `extra["warmup"]`, and the per-second
  time series keeps every second, warm-up included (charts show it);
- live thresholds (abortOnFail) are not evaluated during the warm-up;
- leak verdicts leave it out (`--leak-warmup` is at least as long);
- scraped service metrics and availability are measured from its end.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from assay.results import Check, Metric, RunResult


def warmup_seconds(warmup: float) -> int:
    """Whole seconds (the workers split their totals on their once-a-second tick)."""
    return int(math.ceil(warmup)) if warmup > 0 else 0


def snapshot(metrics: dict[str, Metric], checks: list[Check], ended_at: float, seconds: int) -> dict[str, Any]:
    """One worker's warm-up, as it goes into its result's `extra["warmup"]`."""
    return {
        "seconds": seconds,
        "ended_at": ended_at,
        "metrics": {n: m.seal().model_dump(mode="json", exclude_none=True) for n, m in metrics.items()},
        "checks": [c.model_dump(mode="json") for c in checks],
    }


def merge_parts(parts: Sequence[dict[str, Any] | None]) -> dict[str, Any] | None:
    """The workers' warm-ups (their `extra["warmup"]`) merged exactly, as their metrics merge; None if none."""
    found = [p for p in parts if p]
    if not found:
        return None
    metrics: dict[str, Metric] = {}
    checks: dict[str, Check] = {}
    for w in found:
        for name, data in w["metrics"].items():
            m = Metric.model_validate(data)
            m.thresholds = []
            metrics[name] = metrics[name].merge(m) if name in metrics else m
        for data in w["checks"]:
            c = Check.model_validate(data)
            key = c.path or c.name
            if key in checks:
                checks[key].passes += c.passes
                checks[key].fails += c.fails
            else:
                checks[key] = c
    return {
        "seconds": max(int(w["seconds"]) for w in found),
        "ended_at": min(float(w["ended_at"]) for w in found),
        "metrics": {n: m.seal().model_dump(mode="json", exclude_none=True) for n, m in metrics.items()},
        "checks": [c.model_dump(mode="json") for c in checks.values()],
    }


def apply(result: RunResult, parts: Sequence[dict[str, Any] | None], planned: float) -> float | None:
    """Record the merged warm-up in `result` and shorten `duration_s` to the measured window.

    Returns the wall-clock time the measured window starts at (None without a warm-up)."""
    if planned <= 0:
        return None
    merged = merge_parts(parts)
    if merged is None:
        result.extra["warmup"] = {"seconds": warmup_seconds(planned), "ended_at": None, "metrics": {}, "checks": []}
        result.notes.append(
            f"the run ended within its {warmup_seconds(planned)}s warm-up: every metric is warm-up, nothing was measured after it"
        )
        return None
    result.extra["warmup"] = merged
    result.duration_s = max(0.0, result.duration_s - merged["seconds"])
    requests = merged["metrics"].get("http_reqs", {}).get("sum", 0)
    result.notes.append(
        f"warm-up: the first {merged['seconds']}s ({int(requests)} requests) are kept out of thresholds, SLO gates and "
        "leak verdicts; they are in the time series and extra.warmup"
    )
    return float(merged["ended_at"])


def leak_warmup(leak_warmup: str | None, warmup: float) -> str:
    """`--leak-warmup` when given, else the run's warm-up (else 10%, the leak check's own default)."""
    if leak_warmup is not None:
        return leak_warmup
    return f"{warmup_seconds(warmup)}s" if warmup > 0 else "10%"
