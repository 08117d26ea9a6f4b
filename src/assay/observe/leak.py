"""Leak verdicts: does a resource keep climbing once the run has warmed up?

A garbage collector's or a cache's sawtooth must not be called a leak, and a slow climb
must. So the verdict rests on a robust line (Theil-Sen: the median of pairwise slopes,
with its confidence interval, scipy.stats.theilslopes) fitted after an excluded warm-up,
and on the growth that line implies over the measured window. A step (a cache filling
once) is told apart from a leak by fitting the last half of the window on its own: a
leak still climbs there, a step has flattened.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

Verdict = Literal["leak", "no leak", "not enough data"]

DEFAULT_WARMUP = 0.10
DEFAULT_MIN_GROWTH_PCT = 1.0
MIN_POINTS = 10
CONFIDENCE = 0.95


@dataclass(frozen=True)
class LeakVerdict:
    """One resource's verdict with the numbers that justify it (slopes are per hour)."""

    metric: str
    verdict: Verdict
    reason: str
    points: int = 0
    window_s: float = 0.0
    start_value: float | None = None
    end_value: float | None = None
    growth_pct: float | None = None
    slope_per_h: float | None = None
    slope_low_per_h: float | None = None
    slope_high_per_h: float | None = None
    confidence: float = CONFIDENCE

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    def describe(self, unit: str = "") -> str:
        if self.growth_pct is None or self.slope_per_h is None:
            return f"{self.metric}: {self.verdict} ({self.reason})"
        lo, hi = self.slope_low_per_h or 0.0, self.slope_high_per_h or 0.0
        return (
            f"{self.metric}: {self.verdict}: growth {self.growth_pct:+.2f}% over {self.window_s:.0f}s, "
            f"slope {human(self.slope_per_h, unit)}/h ({self.confidence:.0%} CI {human(lo, unit)} .. {human(hi, unit)}/h); "
            f"{self.reason}"
        )


@dataclass(frozen=True)
class Fit:
    slope_per_s: float
    intercept: float
    low_per_s: float
    high_per_s: float


def robust_fit(times: Sequence[float], values: Sequence[float], confidence: float = CONFIDENCE) -> Fit:
    """Theil-Sen line through (times, values) with a `confidence` interval on the slope."""
    from scipy.stats import theilslopes  # imported when judged, not when a command starts

    res = theilslopes(values, times, alpha=confidence)
    return Fit(float(res[0]), float(res[1]), float(res[2]), float(res[3]))


def after_warmup(times: Sequence[float], values: Sequence[float], warmup: float | str = DEFAULT_WARMUP) -> tuple[list[float], list[float]]:
    """Drop the warm-up: a fraction of the run (0.1) or seconds (`"30s"`, `30.0` with `s`)."""
    if not times:
        return [], []
    start, end = times[0], times[-1]
    if isinstance(warmup, str):
        text = warmup.strip()
        if text.endswith("%"):
            cut = start + (end - start) * float(text[:-1]) / 100.0
        elif text.endswith("s"):
            cut = start + float(text[:-1])
        else:
            cut = start + (end - start) * float(text)
    else:
        cut = start + (end - start) * float(warmup)
    kept = [(t, v) for t, v in zip(times, values, strict=True) if t >= cut]
    return [t for t, _ in kept], [v for _, v in kept]


def growth_and_slope(times: Sequence[float], values: Sequence[float], warmup: float | str = DEFAULT_WARMUP) -> tuple[float, float] | None:
    """(growth %, slope per hour) of the robust line after warm-up; None with too few points."""
    t, v = after_warmup(times, values, warmup)
    if len(t) < MIN_POINTS or t[-1] <= t[0]:
        return None
    fit = robust_fit(t, v)
    start = fit.intercept + fit.slope_per_s * t[0]
    end = fit.intercept + fit.slope_per_s * t[-1]
    return _growth(start, end), fit.slope_per_s * 3600.0


def _growth(start: float, end: float) -> float:
    if start > 0:
        return (end - start) / start * 100.0
    return 0.0 if end <= start else math.inf


def judge(
    metric: str,
    times: Sequence[float],
    values: Sequence[float],
    *,
    warmup: float | str = DEFAULT_WARMUP,
    min_growth_pct: float = DEFAULT_MIN_GROWTH_PCT,
    confidence: float = CONFIDENCE,
) -> LeakVerdict:
    """"leak" when the slope's interval lies above zero, the line grows by at least
    `min_growth_pct` over the window, the rise exceeds the swing of the series around the
    line (a collector's sawtooth), and the last half of the window still climbs."""
    t, v = after_warmup(times, values, warmup)
    if len(t) < MIN_POINTS or t[-1] <= t[0]:
        return LeakVerdict(metric, "not enough data", f"{len(t)} readings after warm-up; at least {MIN_POINTS} are needed", points=len(t))
    fit = robust_fit(t, v, confidence)
    start = fit.intercept + fit.slope_per_s * t[0]
    end = fit.intercept + fit.slope_per_s * t[-1]
    growth = float(_growth(start, end))
    numbers: dict[str, Any] = dict(
        points=len(t),
        window_s=t[-1] - t[0],
        start_value=start,
        end_value=end,
        growth_pct=growth,
        slope_per_h=fit.slope_per_s * 3600.0,
        slope_low_per_h=fit.low_per_s * 3600.0,
        slope_high_per_h=fit.high_per_s * 3600.0,
        confidence=confidence,
    )
    if fit.low_per_s <= 0.0:
        return LeakVerdict(metric, "no leak", "the slope's interval includes zero", **numbers)
    if growth < min_growth_pct:
        return LeakVerdict(metric, "no leak", f"growth below {min_growth_pct:g}% over the window", **numbers)
    residuals = np.asarray(v) - (fit.intercept + fit.slope_per_s * np.asarray(t))
    swing = float(np.subtract(*np.percentile(residuals, [75, 25])))
    if end - start <= swing:
        return LeakVerdict(
            metric, "no leak", f"the rise ({end - start:.4g}) is within the series' own swing (IQR {swing:.4g}): a sawtooth, not a climb", **numbers
        )
    half = len(t) // 2
    if len(t) - half >= MIN_POINTS:
        tail = robust_fit(t[half:], v[half:], confidence)
        tail_growth = _growth(tail.intercept + tail.slope_per_s * t[half], tail.intercept + tail.slope_per_s * t[-1])
        if tail.low_per_s <= 0.0 or tail_growth < min_growth_pct / 2:
            return LeakVerdict(metric, "no leak", "it rose and then levelled off (a step, not a climb)", **numbers)
    return LeakVerdict(metric, "leak", "it keeps climbing after warm-up", **numbers)


_UNITS = [("GB", 1e9), ("MB", 1e6), ("KB", 1e3)]


def human(value: float, unit: str = "") -> str:
    """`12.3MB` for bytes, plain `1.5` otherwise."""
    if unit == "B":
        for suffix, scale in _UNITS:
            if abs(value) >= scale:
                return f"{value / scale:.3g}{suffix}"
        return f"{value:.3g}B"
    return f"{value:.3g}"
