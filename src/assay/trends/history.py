"""The SLO gate's `History` over the trend store: baselines from recorded runs in a time window.

`assay slo check --baseline sqlite:///... --baseline-window "last 7 days"` reads its
relative criteria's baseline from the store instead of a folder, and `--record` writes
judged runs (with their verdict) back into it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from assay.results import RunResult, utcnow
from assay.slo.history import Include, accepts, identities, verdict_of
from assay.trends.store import StoredRun, TrendStore
from assay.trends.windows import Window


class StoreHistory:
    """Earlier runs of one scenario from the store, newest first, limited to a window."""

    def __init__(
        self,
        store: TrendStore,
        *,
        window: Window | None = None,
        scenario: str | None = None,
        labels: dict[str, str] | None = None,
        now: datetime | None = None,
    ) -> None:
        self.store = store
        self.window = window
        self.scenario = scenario
        self.labels = labels
        self.now = now or utcnow()

    def _candidates(self) -> list[StoredRun]:
        since = None
        if self.window is not None and self.window.kind == "days":
            since = self.now - timedelta(days=self.window.size)
        runs = self.store.runs(scenario=self.scenario, labels=self.labels, since=since, until=self.now)
        if self.window is not None and self.window.kind == "weekday":
            runs = [r for r in runs if r.at.weekday() == self.now.weekday()][-int(self.window.size) :]
        if self.window is not None and self.window.kind == "runs":
            runs = runs[-int(self.window.size) :]
        return list(reversed(runs))

    def passing_results(self, n: int, *, include: Include = "pass", exclude_ids: frozenset[str] = frozenset()) -> list[RunResult]:
        out: list[RunResult] = []
        candidates = self._candidates()
        for start in range(0, len(candidates), 50):
            for result in self.store.results(candidates[start : start + 50]):
                if identities(result) & exclude_ids or not accepts(include, verdict_of(result)):
                    continue
                out.append(result)
                if len(out) >= n:
                    return out
        return out

