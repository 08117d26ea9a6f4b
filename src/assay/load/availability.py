"""Availability and downtime of the target, from the run's per-second series.

An uptime checker's view of a load test: a stretch of consecutive seconds in which no
request succeeded is an outage when at least one request failed during it (a second
without any request, e.g. before the first one or between slow iterations, is not).
Requests that hang until they time out fail at the end of the stretch, so a target that
stops answering is down from the first second without a success.

    availability  rate:    seconds up / seconds observed   (`availability: rate>0.999`)
    downtime      counter: seconds down                    (`downtime: count==0`)

Both cover the measured window (after any warm-up); the outages are listed, with their
start and length, in `extra["availability"]`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from assay.results import Metric, MetricType, RunResult, TimeBucket


@dataclass
class Availability:
    seconds: int = 0
    down: int = 0
    outages: list[tuple[float, int]] = field(default_factory=list)  # (first second, length in seconds)

    @property
    def ratio(self) -> float:
        return (self.seconds - self.down) / self.seconds if self.seconds else 1.0

    def to_json(self) -> dict[str, Any]:
        return {
            "seconds": self.seconds,
            "seconds_down": self.down,
            "availability": self.ratio,
            "outages": [{"from": t, "seconds": n} for t, n in self.outages],
            "longest_outage_s": max((n for _, n in self.outages), default=0),
        }


def measure(timeseries: Sequence[TimeBucket], since: float | None = None) -> Availability | None:
    """Availability over the buckets from `since` (a wall-clock second) on; None without HTTP requests."""
    per_second: dict[int, tuple[float, float]] = {}
    for b in timeseries:
        if since is not None and b.t < since:
            continue
        reqs = b.metrics.get("http_reqs", {}).get("count", 0.0)
        failed = b.metrics.get("http_req_failed", {}).get("passes", 0.0)
        if reqs:
            ok, bad = per_second.get(int(b.t), (0.0, 0.0))
            per_second[int(b.t)] = (ok + reqs - failed, bad + failed)
    if not per_second:
        return None
    seconds = [int(b.t) for b in timeseries if since is None or b.t >= since]
    first, last = min(seconds), max(seconds)
    out = Availability(seconds=last - first + 1)
    stretch_start: int | None = None
    stretch_failed = False
    for t in range(first, last + 2):  # one past the end closes a stretch that runs to the end
        ok, bad = per_second.get(t, (0.0, 0.0)) if t <= last else (1.0, 0.0)
        if ok > 0:
            if stretch_start is not None and stretch_failed:
                out.outages.append((float(stretch_start), t - stretch_start))
                out.down += t - stretch_start
            stretch_start = None
            stretch_failed = False
        else:
            if stretch_start is None:
                stretch_start = t
            stretch_failed = stretch_failed or bad > 0
    return out


def add_availability(result: RunResult, since: float | None = None) -> None:
    """Put `availability` and `downtime` into `result` (kept thresholds attach later), with the outages in extra."""
    found = measure(result.timeseries, since)
    if found is None:
        return
    up = found.seconds - found.down
    result.metrics["availability"] = Metric(type=MetricType.RATE, passes=up, fails=found.down, count=found.seconds)
    result.metrics["downtime"] = Metric(type=MetricType.COUNTER, count=len(found.outages), sum=float(found.down))
    result.extra["availability"] = found.to_json()
    if found.down:
        longest = max(n for _, n in found.outages)
        result.notes.append(
            f"downtime: {found.down}s without a successful request in {len(found.outages)} outage(s), the longest {longest}s"
        )
