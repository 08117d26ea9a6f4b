"""Generated nightly series with known change points and realistic noise, and how detectors are scored.

Shared by the detection tests and benchmarks/trends/. Four noise families: Gaussian,
heavy-tailed (Student t, 2.5 degrees of freedom), outlier nights (a few nights 30-100%
slower), and a slow drift (the change is a ramp, not a step). Every change is a
regression (higher is worse); about a third of the series have none.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from assay.trends.alarms import Alarm
from assay.trends.series import Series
from assay.trends.store import StoredRun

NOISES = ("gaussian", "heavy", "outliers", "drift")
START = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)


@dataclass
class Case:
    noise: str
    values: list[float]
    changes: list[int]  # index of the first changed run
    ends: list[int]  # last index still counted as the change (ramps end later than they begin)
    outliers: list[int] = field(default_factory=list)


def make_case(rng: np.random.Generator, noise: str, n: int = 90) -> Case:
    base = float(rng.uniform(50, 500))
    cv = float(rng.uniform(0.03, 0.06))
    level = np.full(n, base)
    changes: list[int] = []
    ends: list[int] = []
    count = int(rng.choice([0, 1, 1, 2]))
    position = int(rng.integers(25, 40))
    for _ in range(count):
        if position >= n - 6:
            break
        size = float(rng.uniform(0.12, 0.35))
        if noise == "drift":
            length = int(rng.integers(15, 30))
            ramp = np.clip((np.arange(n) - position + 1) / length, 0, 1)
            level = level * (1 + size * ramp)
            changes.append(position)
            ends.append(min(n - 1, position + length))
        else:
            level[position:] *= 1 + size
            changes.append(position)
            ends.append(position)
        position += int(rng.integers(20, 35))
    if noise == "heavy":
        eps = rng.standard_t(2.5, n) * cv / np.sqrt(2.5 / 0.5)
    else:
        eps = rng.standard_normal(n) * cv
    values = level * (1 + eps)
    outliers: list[int] = []
    if noise == "outliers":
        outliers = sorted(int(i) for i in rng.choice(n, size=int(rng.integers(2, 6)), replace=False))
        values[outliers] *= rng.uniform(1.3, 2.0, len(outliers))
    return Case(noise, [float(max(v, 1.0)) for v in values], changes, ends, outliers)


def make_corpus(count: int, seed: int = 7, n: int = 90) -> list[Case]:
    rng = np.random.default_rng(seed)
    return [make_case(rng, NOISES[i % len(NOISES)], n) for i in range(count)]


def as_series(case: Case, upto: int | None = None) -> Series:
    values = case.values[: upto or len(case.values)]
    runs = [
        StoredRun(pk=i + 1, run_id=f"run{i:04d}", scenario="gen", name="gen", kind="load", status="passed",
                  at=START + timedelta(days=i), duration_s=60.0, labels={"git_sha": f"{i:07x}"})
        for i in range(len(values))
    ]
    return Series("gen", "http_req_duration", "p(95)", "higher", runs, list(values))


@dataclass
class Score:
    alarms: int = 0
    true_alarms: int = 0
    changes: int = 0
    found: int = 0
    delays: list[int] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.true_alarms / self.alarms if self.alarms else 1.0

    @property
    def recall(self) -> float:
        return self.found / self.changes if self.changes else 1.0

    def add(self, other: Score) -> None:
        self.alarms += other.alarms
        self.true_alarms += other.true_alarms
        self.changes += other.changes
        self.found += other.found
        self.delays += other.delays


def score_case(case: Case, alarms: list[Alarm], *, early: int = 2, late: int = 5) -> Score:
    """An alarm is true when its start lies in [change - early, end + late]; repeats of a found change are ignored."""
    score = Score(changes=len(case.changes))
    matched: set[int] = set()
    for alarm in (a for a in alarms if a.regression):
        hit = next(
            (k for k, (c, e) in enumerate(zip(case.changes, case.ends, strict=True)) if c - early <= alarm.start_index <= e + late),
            None,
        )
        if hit is None:
            score.alarms += 1
        elif hit not in matched:
            matched.add(hit)
            score.alarms += 1
            score.true_alarms += 1
            score.delays.append(max(0, alarm.confirmed_index - case.changes[hit]))
    score.found = len(matched)
    return score


def evaluate(cases: list[Case], detector: Callable[[Series], list[Alarm]]) -> Score:
    total = Score()
    for case in cases:
        total.add(score_case(case, detector(as_series(case))))
    return total
