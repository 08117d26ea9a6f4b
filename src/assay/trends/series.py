"""A series: one metric and aggregation of one scenario's runs over time, e.g. `http_req_duration{name:create} p(95)`.

Values come from each run's stored metric (percentiles from its histogram). The
direction says which way is worse: higher for latency, errors and losses; lower for
throughput and check pass rates.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, overload

from assay.errors import UsageError
from assay.formats.samples import HTTP_TIMING_PHASES
from assay.results import Metric, MetricType, parse_metric_name, percentile_of
from assay.trends import histograms
from assay.trends.store import StoredRun, TrendStore

Direction = Literal["higher", "lower"]  # which way is worse

_AGGS = {"avg", "min", "max", "med", "count", "rate", "value", "passes", "fails"}
_BAD_WORDS = re.compile(r"(fail|error|lost|drop|duplicat|timeout|retr|reject|dead)", re.I)


def did_you_mean(name: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.5)
    if close:
        return "; did you mean " + " or ".join(repr(c) for c in close) + "?"
    if known:
        shown = ", ".join(list(known)[:8]) + (", ..." if len(known) > 8 else "")
        return f"; known: {shown}"
    return "; the store has none yet (record runs with `assay trend record`)"


def default_aggregation(metric_type: str) -> str:
    return {"trend": "p(95)", "counter": "rate", "rate": "rate", "gauge": "value"}.get(metric_type, "value")


def default_direction(metric: str, metric_type: str) -> Direction:
    """Latency, errors, losses: higher is worse. Throughput, checks passing: lower is worse."""
    base, _ = parse_metric_name(metric)
    if metric_type == "trend" or _BAD_WORDS.search(base):
        return "higher"
    return "lower"


@dataclass(frozen=True)
class SeriesSpec:
    """What the user names: `METRIC [AGG]`, e.g. `http_req_duration{name:create} p(95)` or `http_reqs rate`."""

    metric: str
    aggregation: str | None = None
    direction: Direction | None = None

    @classmethod
    def parse(cls, text: str, *, direction: Direction | None = None) -> SeriesSpec:
        text = text.strip()
        if not text:
            raise UsageError("empty series name; expected METRIC [AGG], e.g. 'http_req_duration p(95)'")
        metric, _, agg = text.rpartition(" ") if " " in text and not text.endswith("}") else (text, "", "")
        if not metric:
            metric, agg = text, ""
        agg = agg.strip()
        if agg and agg not in _AGGS and percentile_of(agg) is None:
            raise UsageError(f"series {text!r}: unknown aggregation {agg!r}; expected one of {', '.join(sorted(_AGGS))} or p(N)")
        try:
            parse_metric_name(metric.strip())
        except ValueError as exc:
            raise UsageError(f"series {text!r}: {exc}") from None
        return cls(metric.strip(), agg or None, direction)

    def __str__(self) -> str:
        return f"{self.metric} {self.aggregation}" if self.aggregation else self.metric


class LazyMetrics(Sequence[Metric]):
    """Each run's Metric with its histogram, read from the store only when asked for.

    Detection over 10,000 runs needs one number per run (the recorded aggregate) and the
    histograms of the newest few; decoding every histogram was most of the load time.
    """

    def __init__(self, store: TrendStore, metric: str, runs: Sequence[StoredRun], known: dict[int, Metric] | None = None) -> None:
        self.store = store
        self.metric = metric
        self.runs = list(runs)
        self._cache: dict[int, Metric] = dict(known or {})

    def __len__(self) -> int:
        return len(self.runs)

    @overload
    def __getitem__(self, index: int) -> Metric: ...
    @overload
    def __getitem__(self, index: slice) -> list[Metric]: ...
    def __getitem__(self, index: int | slice) -> Metric | list[Metric]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        run = self.runs[index]
        if run.pk not in self._cache:
            self._cache.update(self.store.metrics(self.metric, [run]))
        return self._cache[run.pk]


@dataclass
class Series:
    """The values of one series, oldest run first (runs without the metric are left out)."""

    scenario: str
    metric: str
    aggregation: str
    direction: Direction
    runs: list[StoredRun] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    metrics: Sequence[Metric] = field(default_factory=list)
    metric_type: str = str(MetricType.TREND)  # says what `count` and `rate` measure, for printing in units

    @property
    def name(self) -> str:
        return f"{self.metric} {self.aggregation}"

    @property
    def title(self) -> str:
        return f"{self.scenario}: {self.name}"

    def __len__(self) -> int:
        return len(self.values)


def value_of(metric: Metric, aggregation: str, duration_s: float) -> float | None:
    return histograms.stat(metric, aggregation, duration_s or None)


def load_series(
    store: TrendStore,
    spec: SeriesSpec,
    runs: Sequence[StoredRun],
    *,
    scenario: str,
) -> Series:
    """Read one series over `runs`; an unknown metric is a usage error with suggestions."""
    known = store.metric_names(scenario)
    if spec.metric not in known:
        raise UsageError(f"no series {spec.metric!r} in scenario {scenario!r}{did_you_mean(spec.metric, known)}")
    by_run = store.stats(spec.metric, runs)
    first = next(iter(by_run.values()), None)
    metric_type = first[0] if first is not None else str(MetricType.TREND)
    aggregation = spec.aggregation or default_aggregation(metric_type)
    direction = spec.direction or default_direction(spec.metric, metric_type)
    series = Series(scenario, spec.metric, aggregation, direction, metric_type=metric_type)
    # the aggregates stored at record time are the same numbers; others come from the histogram
    need_histogram = [r for r in runs if r.pk in by_run and aggregation not in by_run[r.pk][1]]
    decoded = store.metrics(spec.metric, need_histogram) if need_histogram else {}
    for run in runs:
        point = by_run.get(run.pk)
        if point is None:
            continue
        stats = point[1]
        value = stats[aggregation] if aggregation in stats else value_of(decoded[run.pk], aggregation, run.duration_s)
        if value is None:
            continue
        series.runs.append(run)
        series.values.append(float(value))
    series.metrics = LazyMetrics(store, spec.metric, series.runs, decoded)
    if by_run and not series.values:
        raise UsageError(f"series {spec}: the metric has no {aggregation!r} aggregate (a {metric_type})")
    return series


DEFAULT_METRICS: tuple[str, ...] = ("http_req_duration", "http_reqs", "http_req_failed", "checks", "iteration_duration")


def default_specs(store: TrendStore, scenario: str) -> list[SeriesSpec]:
    """What `detect` watches when no series is named: k6's main metrics, then every custom base metric."""
    names = store.metric_names(scenario)
    picked = [n for n in DEFAULT_METRICS if n in names]
    picked += [n for n in names if "{" not in n and n not in picked and n not in _QUIET]
    return [SeriesSpec(n) for n in picked]


def scenario_specs(store: TrendStore, scenario: str) -> list[SeriesSpec]:
    """A scenario page's small multiples: p50/p95/p99 latency, throughput and error rate (or the defaults)."""
    names = set(store.metric_names(scenario))
    wanted = [
        SeriesSpec("http_req_duration", "med"),
        SeriesSpec("http_req_duration", "p(95)"),
        SeriesSpec("http_req_duration", "p(99)"),
        SeriesSpec("http_reqs", "rate"),
        SeriesSpec("http_req_failed", "rate"),
    ]
    picked = [s for s in wanted if s.metric in names]
    return picked or default_specs(store, scenario)


# Metrics that describe the test's own set-up rather than the service: not watched by default.
_QUIET = {
    "vus",
    "vus_max",
    "data_sent",
    "data_received",
    "iterations",
    *HTTP_TIMING_PHASES,
    "group_duration",
}
