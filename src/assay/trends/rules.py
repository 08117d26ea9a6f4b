"""The teams' own rules, applied exactly: "X% worse than the window's mean/median [for K consecutive runs]".

For each run the baseline is the mean (or median) of the series over the run's window
(the run itself excluded); the run breaches when it is more than X% worse in the series'
direction. An alarm fires on the K-th breach in a row and names the first of them. A run
without any baseline run neither breaches nor passes: it breaks a streak.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass
from typing import Literal

from assay.errors import UsageError
from assay.trends.alarms import Alarm
from assay.trends.series import Direction, Series
from assay.trends.windows import WINDOW_HELP, Window

_RULE = re.compile(
    r"^(?P<pct>\d+(?:\.\d+)?)\s*%\s*(?P<way>worse|above|higher|slower|below|lower)\s+(?:than\s+)?(?:the\s+)?"
    r"(?:window'?s\s+)?(?P<stat>mean|median|average|avg)(?:\s+of)?(?:\s+the)?\s+(?P<window>.+?)"
    r"(?:\s*[,;]?\s*(?:for|in)\s+(?P<k>\d+)\s+(?:consecutive|in\s+a\s+row)(?:\s+(?:runs?|nights?))?"
    r"|\s*[,;]?\s*(?:for\s+)?(?P<k2>\d+)\s+(?:runs?|nights?)\s+in\s+a\s+row)?$"
)

RULE_HELP = f"'X% worse than mean|median of WINDOW [for K consecutive runs]', WINDOW one of {WINDOW_HELP}"


@dataclass(frozen=True)
class Rule:
    percent: float
    stat: Literal["mean", "median"]
    window: Window
    consecutive: int = 1
    way: Direction | None = None  # None: the series' own direction ("worse")

    @classmethod
    def parse(cls, text: str) -> Rule:
        cleaned = " ".join(text.strip().split())
        match = _RULE.match(cleaned.lower())
        if not match:
            raise UsageError(f"rule {text!r}: expected {RULE_HELP}")
        way = match["way"]
        direction: Direction | None = None
        if way in ("above", "higher", "slower"):
            direction = "higher"
        elif way in ("below", "lower"):
            direction = "lower"
        k = int(match["k"] or match["k2"] or 1)
        if k < 1:
            raise UsageError(f"rule {text!r}: the number of consecutive runs must be at least 1")
        stat: Literal["mean", "median"] = "median" if match["stat"] == "median" else "mean"
        return cls(float(match["pct"]), stat, Window.parse(match["window"]), k, direction)

    def __str__(self) -> str:
        way = {"higher": "above", "lower": "below", None: "worse than"}[self.way]
        way = way if self.way is None else f"{way} the"
        tail = f" for {self.consecutive} consecutive runs" if self.consecutive > 1 else ""
        return f"{self.percent:g}% {way} {self.stat} of {self.window}{tail}"


@dataclass(frozen=True)
class RunVerdict:
    """One run under one rule: its baseline and limit (None without history) and whether it breached."""

    index: int
    baseline: float | None
    limit: float | None
    breach: bool
    streak: int


def verdicts(rule: Rule, series: Series) -> list[RunVerdict]:
    direction = rule.way or series.direction
    factor = 1 + rule.percent / 100 if direction == "higher" else 1 - rule.percent / 100
    out: list[RunVerdict] = []
    streak = 0
    for i, value in enumerate(series.values):
        window = [series.values[j] for j in rule.window.indices(series.runs, i)]
        if not window:
            streak = 0
            out.append(RunVerdict(i, None, None, False, 0))
            continue
        baseline = statistics.fmean(window) if rule.stat == "mean" else statistics.median(window)
        limit = baseline * factor
        breach = value > limit if direction == "higher" else value < limit
        streak = streak + 1 if breach else 0
        out.append(RunVerdict(i, baseline, limit, breach, streak))
    return out


def apply_rule(rule: Rule, series: Series) -> list[Alarm]:
    """One alarm per streak of at least K breaches, named by the streak's first run."""
    alarms: list[Alarm] = []
    for v in verdicts(rule, series):
        if v.streak == rule.consecutive:
            start = v.index - rule.consecutive + 1
            alarms.append(
                Alarm.build(
                    series,
                    start=start,
                    confirmed=v.index,
                    detector=f"rule: {rule}",
                    before=_baseline_at(rule, series, start),
                    after=series.values[start],
                )
            )
    return alarms


def _baseline_at(rule: Rule, series: Series, i: int) -> float:
    window = [series.values[j] for j in rule.window.indices(series.runs, i)]
    return statistics.fmean(window) if rule.stat == "mean" else statistics.median(window)
