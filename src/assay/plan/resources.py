"""A sampled service followed for the whole night, from ready to stopped.

The load and chaos steps sample a service only while they run; a leak that grows across the
night (contracts, load, chaos, soak) shows only on the service's own line. So each service with
`sample: true` gets one watch from start to stop: a RunResult of its gauges and leak verdicts
in the artifacts (`services/NAME.resources.json`), its peaks and leak lines in the night's
report, and the result in the trend store with the night's other results (scenario
`PLAN.services.NAME`, or `PLAN.STAGE.services.NAME` for a stage's service), so `assay trend`
shows a service's CPU and RSS across nights.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from assay.observe.watch import LEAK_RESOURCES, ResourceWatch, describe_leaks
from assay.plan.outcome import ServiceOutcome
from assay.results import RunResult

# A service warms its pools and caches under the night's first steps; judging those minutes
# called a 50-second demo night's warm-up a leak. The first two minutes (or the first 10 %
# of a longer night) are left out, so a short night says "not enough data" instead.
NIGHT_WARMUP_S = 120.0


class NightWatch:
    """One service's resources from ready to stopped."""

    def __init__(self, name: str, pid: int) -> None:
        self.name = name
        self.watch = ResourceWatch([f"{name}={pid}"])
        self.started_at = datetime.now(UTC)
        self.watch.__enter__()

    def finish(self, path: Path, outcome: ServiceOutcome, run_dir: Path, labels: dict[str, str]) -> RunResult:
        """Stop sampling (before the service stops: its exit is no vanished process), write the
        result with `labels` (the trend store groups nights by them) and put its peaks and leak
        verdicts on the service's report line."""
        self.watch.__exit__(None, None, None)
        finished = datetime.now(UTC)
        duration_s = (finished - self.started_at).total_seconds()
        self.watch.warmup = f"{max(NIGHT_WARMUP_S, 0.1 * duration_s)}s"
        result = RunResult(name=f"service {self.name}", kind="service", started_at=self.started_at,
                           finished_at=finished, duration_s=duration_s, labels=dict(labels))
        self.watch.finish(result)
        path.parent.mkdir(parents=True, exist_ok=True)
        result.save(path)
        outcome.resources = str(path.relative_to(run_dir))
        outcome.peaks = {base: m.max for base in (*LEAK_RESOURCES, "proc_cpu_percent")
                         if (m := result.metrics.get(f"{base}{{proc:{self.name}}}")) is not None and m.max is not None}
        outcome.leaks = [line for line, item in zip(describe_leaks(result), result.extra.get("leaks") or [], strict=True)
                         if item.get("verdict") == "leak"]
        return result


__all__ = ["NightWatch"]
