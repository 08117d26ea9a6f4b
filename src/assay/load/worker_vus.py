"""The `vus` and `vus_max` gauges of a run split over workers, as one k6 instance would report them.

Merging gauges of concurrent parts adds them (assay.results.Metric.merge): right for the
last value, wrong for the extremes of a gauge that moves. Two workers that each peak at 5
busy VUs, one in the first half of the run and one in the second, never had 10 busy at
once; k6 running the same test in one instance samples `vus` every second and would report
about 5. So the run's `vus` min and max come from the per-second timeline summed across
workers: each worker's bucket keeps the most VUs busy in that second (`max`, sub-second
stalls included, see runner._tick), the run's second has the sum of them, and the run's
`vus` max is the largest such sum. It is exact when the workers' peaks fall in the same
second and an upper bound of the true instant maximum otherwise (never below what a
1-second sampler sees, never above the old sum of maxima).

`vus_max` is k6's "max possible VUs": the VUs initialised so far. Each worker initialises
its segment's share and never releases one, so the workers' values only grow and their
sum at any second is the run's; the sum of their maxima is that, and is kept.
"""

from __future__ import annotations

from collections.abc import Sequence

from assay.results import RunResult

__all__ = ["merge_worker_vus"]


def merge_worker_vus(merged: RunResult, parts: Sequence[RunResult]) -> None:
    """Set `merged`'s `vus` min/max and its timeline's per-second `vus` max from the workers' seconds."""
    busy: dict[float, float] = {}  # second -> VUs busy across workers: the sum of each worker's peak
    current: dict[float, float] = {}  # second -> the sum of the workers' values sampled at its end
    for part in parts:
        for bucket in part.timeseries:
            stats = bucket.metrics.get("vus")
            if stats is None or "value" not in stats:
                continue
            busy[bucket.t] = busy.get(bucket.t, 0.0) + stats.get("max", stats["value"])
            current[bucket.t] = current.get(bucket.t, 0.0) + stats["value"]
    metric = merged.metrics.get("vus")
    if metric is None or not busy:
        return
    metric.max = max(busy.values())
    metric.min = min(current.values())
    for bucket in merged.timeseries:
        stats = bucket.metrics.get("vus")
        if stats is not None and bucket.t in busy:
            stats["max"] = busy[bucket.t]
