"""An alarm: where a change began, how big it is (with an interval when a test gave one), and what changed.

"What changed" is the commits between the last run before the change and the run where
it began, read from the runs' `git_sha` labels, so the report points at a range to bisect.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from assay.trends.series import Series


@dataclass
class Alarm:
    series: str
    scenario: str
    detector: str
    direction: str
    start_index: int
    confirmed_index: int
    run_id: str
    at: datetime
    before: float
    after: float
    labels: dict[str, str] = field(default_factory=dict)
    interval: tuple[float, float] | None = None  # of the relative change, e.g. (0.08, 0.15)
    pvalue: float | None = None
    previous_sha: str | None = None
    sha: str | None = None
    commits: list[str] = field(default_factory=list)
    open: bool = True

    @classmethod
    def build(
        cls,
        series: Series,
        *,
        start: int,
        confirmed: int,
        detector: str,
        before: float,
        after: float,
        interval: tuple[float, float] | None = None,
        pvalue: float | None = None,
    ) -> Alarm:
        run = series.runs[start]
        previous = series.runs[start - 1] if start > 0 else None
        commits = []
        for r in series.runs[start - 1 if start > 0 else 0 : start + 1]:
            sha = r.labels.get("git_sha")
            if sha and sha not in commits:
                commits.append(sha)
        return cls(
            series=series.name,
            scenario=series.scenario,
            detector=detector,
            direction=series.direction,
            start_index=start,
            confirmed_index=confirmed,
            run_id=run.run_id,
            at=run.at,
            before=before,
            after=after,
            labels=dict(run.labels),
            interval=interval,
            pvalue=pvalue,
            previous_sha=previous.labels.get("git_sha") if previous else None,
            sha=run.labels.get("git_sha"),
            commits=commits,
        )

    @property
    def change(self) -> float:
        """Relative change after/before - 1 (0.12 = 12% higher)."""
        return self.after / self.before - 1 if self.before else float("inf")

    @property
    def regression(self) -> bool:
        return self.change > 0 if self.direction == "higher" else self.change < 0

    def size_text(self) -> str:
        text = f"{self.change * 100:+.1f}%"
        if self.interval is not None:
            low, high = self.interval
            text += f" [{low * 100:+.1f}%, {high * 100:+.1f}%]"
        return text

    def commits_text(self) -> str:
        if self.previous_sha and self.sha and self.previous_sha != self.sha:
            return f"{self.previous_sha[:12]}..{self.sha[:12]}"
        if self.sha:
            return self.sha[:12]
        return "(no git_sha labels)"

    def to_dict(self) -> dict[str, object]:
        return {
            "series": self.series,
            "scenario": self.scenario,
            "detector": self.detector,
            "regression": self.regression,
            "open": self.open,
            "run_id": self.run_id,
            "at": self.at.isoformat(),
            "before": self.before,
            "after": self.after,
            "change": self.change,
            "interval": list(self.interval) if self.interval else None,
            "pvalue": self.pvalue,
            "commits": self.commits_text(),
            "labels": self.labels,
        }
