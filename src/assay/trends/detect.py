"""assay's regression detector: E-Divisive change points confirmed by robust tests, plus a fresh-runs check.

Why not just the change points: nightly series are heavy-tailed and have outlier nights,
and a t-test on raw values both misses changes hidden by one wild night and flags
single nights. So:

1. candidates: Otava's windowed E-Divisive split step on log values (relaxed p);
2. confirmation: remove the weakest candidate until every remaining one separates its
   neighbouring segments by a Mann-Whitney U test (p < `pvalue`), has at least
   `min_size` runs on each side, and moves the median by at least `min_magnitude`;
   each kept change gets a bootstrap interval of its size (ratio of medians);
3. fresh runs: a change in the last few runs has too few points after it for (1)-(2);
   the newest `confirm` runs are compared with the baseline segment through their stored
   distributions (a bootstrap interval on the percentile from each run's histogram,
   against the band the baseline runs span), and all of them must be worse.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import mannwhitneyu

from assay.results import Metric, percentile_of
from assay.trends.alarms import Alarm
from assay.trends.changepoints import otava_change_points, weak_change_points
from assay.trends.series import Series


@dataclass(frozen=True)
class DetectorSettings:
    pvalue: float = 0.005
    min_magnitude: float = 0.03
    min_size: int = 3
    window_len: int = 30
    confirm: int = 3
    band_sigmas: float = 3.0
    bootstrap: int = 400
    seed: int = 0


def _log(values: Sequence[float]) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    return np.log(np.maximum(arr, 1e-12)) if np.all(arr > 0) else arr


def _segment_test(data: np.ndarray, left: slice, right: slice) -> float:
    a, b = data[left], data[right]
    if len(a) < 2 or len(b) < 2:
        return 1.0
    return float(mannwhitneyu(a, b, alternative="two-sided").pvalue)


class _Tests:
    """Mann-Whitney p-values of (left edge, split, right edge), each computed once.

    scipy's test costs ~1-2 ms a call whatever the sample size (input checks, axis and
    NaN handling); the confirmation loop and the refinement ask for the same splits again.
    """

    def __init__(self, data: np.ndarray) -> None:
        self.data = data
        self._done: dict[tuple[int, int, int], float] = {}

    def __call__(self, left_edge: int, cp: int, right_edge: int) -> float:
        key = (left_edge, cp, right_edge)
        p = self._done.get(key)
        if p is None:
            p = self._done[key] = _segment_test(self.data, slice(left_edge, cp), slice(cp, right_edge))
        return p


def _median_ratio(values: np.ndarray, left: slice, right: slice) -> float:
    before = float(np.median(values[left]))
    return float(np.median(values[right])) / before - 1 if before else 0.0


def confirmed_change_points(values: Sequence[float], settings: DetectorSettings) -> list[tuple[int, float]]:
    """Indices of confirmed changes with their Mann-Whitney p-values."""
    data = _log(values)
    raw = np.asarray(values, dtype=float)
    if len(raw) == 0 or float(np.ptp(raw)) == 0.0:
        return []  # a constant series (a fixed rate, zero errors) has nothing to split
    points = weak_change_points(data.tolist(), window_len=settings.window_len, max_pvalue=0.05)
    n = len(data)
    tests = _Tests(data)

    def score(k: int) -> tuple[float, float]:
        left_edge = points[k - 1] if k else 0
        right_edge = points[k + 1] if k + 1 < len(points) else n
        cp = points[k]
        left, right = slice(left_edge, cp), slice(cp, right_edge)
        if cp - left_edge < settings.min_size or right_edge - cp < settings.min_size:
            return 2.0, 1.0
        p = tests(left_edge, cp, right_edge)
        weak = abs(_median_ratio(raw, left, right)) < settings.min_magnitude
        return (1.5 if weak else p), p

    scores = [score(k) for k in range(len(points))]
    while points:
        worst = max(range(len(points)), key=lambda k: scores[k][0])
        if scores[worst][0] < settings.pvalue:
            return _refine(tests, points, settings)
        del points[worst]
        del scores[worst]
        # only the removed point's neighbours change (their segments grew)
        for k in (worst - 1, worst):
            if 0 <= k < len(points):
                scores[k] = score(k)
    return []


def _l1_costs(segment: np.ndarray, splits: np.ndarray) -> np.ndarray:
    """For each split of one segment: the summed absolute deviation of each side from its own median.

    The split with the lowest cost is where the level changes: a night just before the change
    that happens to be the highest of its segment still sits far closer to the level before
    than after (a rank test cannot tell: moving that night across changes no rank order).
    Medians keep an outlier night from pulling the split towards itself.
    """
    out = np.empty(len(splits))
    for j, s in enumerate(splits):
        left, right = segment[:s], segment[s:]
        out[j] = np.abs(left - np.median(left)).sum() + np.abs(right - np.median(right)).sum()
    return out


def _refine(tests: _Tests, points: list[int], settings: DetectorSettings, reach: int = 3) -> list[tuple[int, float]]:
    """Move each kept change to the nearby split that best separates the levels on either side.

    The split step's candidates (and rank tests) can sit a run or two off the true start
    next to an outlier night or a high last night before the change; the alarm must name
    the run where the change began. The nearby splits are scored by their L1 cost around
    the segments' medians; scipy's test gives the chosen split's p-value.
    """
    data = tests.data
    out: list[tuple[int, float]] = []
    for k, cp in enumerate(points):
        left_edge = points[k - 1] if k else 0
        right_edge = points[k + 1] if k + 1 < len(points) else len(data)
        lo = max(left_edge + settings.min_size, cp - reach)
        hi = min(right_edge - settings.min_size, cp + reach)
        best = cp
        if hi >= lo:
            splits = np.arange(lo, hi + 1)
            cost = _l1_costs(data[left_edge:right_edge], splits - left_edge)
            here = cost[cp - lo] if lo <= cp <= hi else np.inf
            j = int(np.argmin(cost))
            if cost[j] < here * (1 - 1e-9) - 1e-12:  # move only for a strictly better split
                best = int(splits[j])
        points[k] = best
        out.append((best, tests(left_edge, best, right_edge)))
    return out


def ratio_interval(before: np.ndarray, after: np.ndarray, settings: DetectorSettings) -> tuple[float, float]:
    """95% bootstrap interval of median(after)/median(before) - 1, resampling runs."""
    rng = np.random.default_rng(settings.seed)
    b = rng.choice(before, size=(settings.bootstrap, len(before))).astype(float)
    a = rng.choice(after, size=(settings.bootstrap, len(after))).astype(float)
    ratios = np.median(a, axis=1) / np.maximum(np.median(b, axis=1), 1e-300) - 1
    low, high = np.percentile(ratios, [2.5, 97.5])
    return float(low), float(high)


def percentile_interval(metric: Metric, aggregation: str, settings: DetectorSettings) -> tuple[float, float] | None:
    """95% interval of a run's percentile from its own histogram (multinomial bootstrap of the bins)."""
    pct = percentile_of(aggregation)
    if pct is None or not metric.hdr:
        return None
    bins = [(it.value_iterated_to, it.count_added_in_this_iter_step) for it in metric.histogram().hdr.get_recorded_iterator()]
    if not bins:
        return None
    values = np.array([v for v, _ in bins], dtype=float) / 1000.0
    counts = np.array([c for _, c in bins], dtype=float)
    total = int(counts.sum())
    rng = np.random.default_rng(settings.seed)
    draws = rng.multinomial(total, counts / counts.sum(), size=settings.bootstrap)
    target = pct / 100.0 * total
    index = (np.cumsum(draws, axis=1) < target).sum(axis=1)
    picked = values[np.minimum(index, len(values) - 1)]
    low, high = np.percentile(picked, [2.5, 97.5])
    return float(low), float(high)


def _band(baseline: np.ndarray, sigmas: float) -> tuple[float, float]:
    centre = float(np.median(baseline))
    spread = 1.4826 * float(np.median(np.abs(baseline - centre)))
    spread = max(spread, float(np.std(baseline)) * 0.5, abs(centre) * 1e-3)
    return centre - sigmas * spread, centre + sigmas * spread


def fresh_runs_alarm(series: Series, last_change: int, settings: DetectorSettings) -> Alarm | None:
    """All of the newest `confirm` runs worse than the baseline segment's band, by their own intervals."""
    n, k = len(series), settings.confirm
    start = n - k
    if start - last_change < max(settings.min_size * 2, 5):
        return None
    baseline = np.asarray(series.values[last_change:start], dtype=float)
    low, high = _band(baseline, settings.band_sigmas)

    def worse(i: int) -> bool:
        interval = percentile_interval(series.metrics[i], series.aggregation, settings) if i < len(series.metrics) else None
        lo, hi = interval or (series.values[i], series.values[i])
        return lo > high if series.direction == "higher" else hi < low

    if not all(worse(i) for i in range(start, n)):
        return None
    # the change began at the first of the newest runs that are all outside the band
    while start - 1 - last_change >= max(settings.min_size * 2, 5) and worse(start - 1):
        start -= 1
    baseline = np.asarray(series.values[last_change:start], dtype=float)
    after = np.asarray(series.values[start:], dtype=float)
    before = float(np.median(baseline))
    return Alarm.build(
        series,
        start=start,
        confirmed=n - 1,
        detector="assay: newest runs outside the baseline band",
        before=before,
        after=float(np.median(after)),
        interval=ratio_interval(baseline, after, settings),
    )


def detect(series: Series, settings: DetectorSettings | None = None) -> list[Alarm]:
    """Every change in the series (regressions and improvements), oldest first."""
    settings = settings or DetectorSettings()
    raw = np.asarray(series.values, dtype=float)
    alarms: list[Alarm] = []
    points = confirmed_change_points(series.values, settings)
    bounds = [0, *(cp for cp, _ in points), len(raw)]
    for k, (cp, p) in enumerate(points):
        before, after = raw[bounds[k] : cp], raw[cp : bounds[k + 2]]
        alarms.append(
            Alarm.build(
                series,
                start=cp,
                confirmed=min(len(raw) - 1, cp + settings.min_size - 1),
                detector="assay: E-Divisive change point, Mann-Whitney confirmed",
                before=float(np.median(before)),
                after=float(np.median(after)),
                interval=ratio_interval(before, after, settings),
                pvalue=p,
            )
        )
    fresh = fresh_runs_alarm(series, bounds[-2], settings)
    if fresh is not None:
        alarms.append(fresh)
    return alarms


def otava_defaults(series: Series) -> list[Alarm]:
    """Apache Otava with its own defaults (window 50, p 0.001, no minimum magnitude), for comparison."""
    alarms = []
    for cp in otava_change_points(series.values):
        alarms.append(
            Alarm.build(
                series,
                start=cp.index,
                confirmed=cp.index,
                detector="otava defaults",
                before=cp.mean_before,
                after=cp.mean_after,
                pvalue=cp.pvalue,
            )
        )
    return alarms
