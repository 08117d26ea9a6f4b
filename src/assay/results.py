"""The result model every engine writes and every consumer reads (schema `assay.run/1`).

Metrics use k6's names, types and value keys so a k6 user reads assay output without a
glossary. Trends keep a mergeable HdrHistogram rather than a list of samples: memory is
flat in a long soak, and results from many workers merge exactly.
"""

from __future__ import annotations

import getpass
import os
import socket
import subprocess
import uuid
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from hdrh.histogram import HdrHistogram
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from assay import __version__
from assay.atomic import write_text_atomic
from assay.status import RunStatus, worst_status

SCHEMA = "assay.run/1"
DEFAULT_TREND_STATS = ["avg", "min", "med", "max", "p(90)", "p(95)", "p(99)"]


class MetricType(StrEnum):
    """k6's four metric types: counters add, gauges keep the last value, rates count true/false, trends keep a distribution."""
    COUNTER = "counter"
    GAUGE = "gauge"
    RATE = "rate"
    TREND = "trend"


class Contains(StrEnum):
    """What a metric's numbers are (k6's ValueType): plain numbers, times in ms, or bytes."""
    DEFAULT = "default"
    TIME = "time"
    DATA = "data"


# k6's built-in metrics (metrics/builtin.go): name -> (type, contains)
BUILTIN_METRICS: dict[str, tuple[MetricType, Contains]] = {
    "http_reqs": (MetricType.COUNTER, Contains.DEFAULT),
    "iterations": (MetricType.COUNTER, Contains.DEFAULT),
    "dropped_iterations": (MetricType.COUNTER, Contains.DEFAULT),
    "data_sent": (MetricType.COUNTER, Contains.DATA),
    "data_received": (MetricType.COUNTER, Contains.DATA),
    "vus": (MetricType.GAUGE, Contains.DEFAULT),
    "vus_max": (MetricType.GAUGE, Contains.DEFAULT),
    "http_req_failed": (MetricType.RATE, Contains.DEFAULT),
    "checks": (MetricType.RATE, Contains.DEFAULT),
    "http_req_duration": (MetricType.TREND, Contains.TIME),
    "http_req_blocked": (MetricType.TREND, Contains.TIME),
    "http_req_connecting": (MetricType.TREND, Contains.TIME),
    "http_req_tls_handshaking": (MetricType.TREND, Contains.TIME),
    "http_req_sending": (MetricType.TREND, Contains.TIME),
    "http_req_waiting": (MetricType.TREND, Contains.TIME),
    "http_req_receiving": (MetricType.TREND, Contains.TIME),
    "iteration_duration": (MetricType.TREND, Contains.TIME),
    "group_duration": (MetricType.TREND, Contains.TIME),
    "ws_sessions": (MetricType.COUNTER, Contains.DEFAULT),
    "ws_msgs_sent": (MetricType.COUNTER, Contains.DEFAULT),
    "ws_msgs_received": (MetricType.COUNTER, Contains.DEFAULT),
    "ws_ping": (MetricType.TREND, Contains.TIME),
    "ws_session_duration": (MetricType.TREND, Contains.TIME),
    "ws_connecting": (MetricType.TREND, Contains.TIME),
    "grpc_req_duration": (MetricType.TREND, Contains.TIME),
}


def parse_metric_name(name: str) -> tuple[str, dict[str, str]]:
    """Split `metric{k:v,k2:v2}` into the base name and its tags, as k6's ParseMetricName does.

    Raises ValueError for a malformed name (the `}` must be last; each tag needs `k:v`).
    """
    if "{" not in name:
        if "}" in name:
            raise ValueError(f"metric name {name!r} has '}}' without '{{'")
        return name, {}
    base, _, rest = name.partition("{")
    if not rest.endswith("}"):
        raise ValueError(f"metric name {name!r}: '}}' must be the last character")
    body = rest[:-1]
    tags: dict[str, str] = {}
    if not body.strip():
        raise ValueError(f"metric name {name!r}: empty tag set")
    for part in _split_tags(body):
        key, sep, value = part.partition(":")
        key, value = key.strip(), value.strip().strip("\"'")
        if not sep or not key or not value:
            raise ValueError(f"metric name {name!r}: tag {part.strip()!r} must look like key:value")
        tags[key] = value
    return base.strip(), tags


def _split_tags(body: str) -> list[str]:
    # Group tags look like group:::name, so only split on commas.
    return body.split(",")


def submetric_name(base: str, tags: dict[str, str]) -> str:
    """The k6 name of a sub-metric: `http_req_duration{name:read,status:200}` (tags in the order given)."""
    if not tags:
        return base
    return base + "{" + ",".join(f"{k}:{v}" for k, v in tags.items()) + "}"


class Histogram:
    """An HdrHistogram of float values, stored as integers at 1/SCALE resolution.

    Trend values are milliseconds, so the default resolution is one microsecond with 3
    significant digits. Negative values are clamped to 0 in the histogram; exact
    count, sum, min and max are kept by Metric.
    """

    SCALE = 1000.0
    LOWEST = 1
    HIGHEST = 86_400_000_000_000  # 24 h in microseconds, times 1000 for non-time trends
    DIGITS = 3

    __slots__ = ("hdr",)

    def __init__(self, hdr: HdrHistogram | None = None) -> None:
        self.hdr = hdr if hdr is not None else HdrHistogram(self.LOWEST, self.HIGHEST, self.DIGITS)

    def record(self, value: float, count: int = 1) -> None:
        """Add `count` samples of `value` (clamped to the range the histogram holds)."""
        if value >= self.HIGHEST / self.SCALE:  # before scaling: 1e305 * SCALE is infinity, which int() refuses
            scaled = self.HIGHEST
        else:
            scaled = int(value * self.SCALE + 0.5) if value > 0 else 0
        self.hdr.record_value(scaled, count)

    def add(self, other: Histogram) -> None:
        """Merge another histogram into this one (exact: histograms of workers add up to the whole)."""
        self.hdr.add(other.hdr)

    @property
    def count(self) -> int:
        """How many samples the histogram holds."""
        return int(self.hdr.get_total_count())

    def value_at(self, percentile: float) -> float:
        """Value at `percentile` (0..100): the histogram bucket's highest-equivalent value."""
        if self.count == 0:
            return 0.0
        return float(self.hdr.get_value_at_percentile(percentile)) / self.SCALE

    def encode(self) -> str:
        """The compressed base64 form HdrHistogram implementations exchange (stored in `Metric.hdr`)."""
        return self.hdr.encode().decode("ascii")  # type: ignore[no-any-return]

    @classmethod
    def decode(cls, encoded: str) -> Histogram:
        """A histogram from its `encode()` form."""
        return cls(HdrHistogram.decode(encoded.encode("ascii")))

    def copy(self) -> Histogram:
        """An independent copy."""
        clone = Histogram()
        clone.add(self)
        return clone


class ThresholdResult(BaseModel):
    """One threshold expression on one metric and its verdict (None: not evaluated yet)."""

    source: str
    ok: bool | None = None
    abort_on_fail: bool = False
    delay_abort_eval: str | None = None
    observed: float | None = None


class Metric(BaseModel):
    """A metric (or sub-metric) with exact aggregates; trends also carry an HdrHistogram.

    `summary` holds aggregates known only as numbers (a trend imported from a k6
    summary has avg/med/p(N) but no samples); such a trend cannot be merged exactly.
    """

    model_config = ConfigDict(validate_assignment=False)

    type: MetricType
    contains: Contains = Contains.DEFAULT
    tags: dict[str, str] = Field(default_factory=dict)
    count: int = 0
    sum: float = 0.0
    min: float | None = None
    max: float | None = None
    value: float | None = None
    passes: int = 0
    fails: int = 0
    hdr: str | None = None
    summary: dict[str, float] = Field(default_factory=dict)
    thresholds: list[ThresholdResult] = Field(default_factory=list)

    _hist: Histogram | None = PrivateAttr(default=None)

    # -- building -------------------------------------------------------------------------------

    @classmethod
    def new(cls, type: MetricType | str, contains: Contains | str = Contains.DEFAULT, **kw: Any) -> Metric:
        """A metric of the given type (names or enums), with any other fields."""
        return cls(type=MetricType(type), contains=Contains(contains), **kw)

    @classmethod
    def builtin(cls, name: str, **kw: Any) -> Metric:
        """A k6 built-in metric (or sub-metric) by name, with its type, contents and tags."""
        base, tags = parse_metric_name(name)
        mtype, contains = BUILTIN_METRICS[base]
        return cls(type=mtype, contains=contains, tags=tags, **kw)

    def histogram(self) -> Histogram:
        """The trend's histogram, decoded once and cached (empty if none yet)."""
        if self._hist is None:
            self._hist = Histogram.decode(self.hdr) if self.hdr else Histogram()
        return self._hist

    def set_histogram(self, hist: Histogram) -> None:
        """Replace the trend's histogram (and its encoded copy, kept for JSON)."""
        self._hist = hist
        self.hdr = hist.encode() if hist.count else None

    def add(self, value: float) -> None:
        """Add one sample (the slow path, for importers and tests; engines aggregate themselves)."""
        self.count += 1
        if self.type is MetricType.COUNTER:
            self.sum += value
        elif self.type is MetricType.RATE:
            if value:
                self.passes += 1
            else:
                self.fails += 1
        elif self.type is MetricType.GAUGE:
            self.value = value
            self.min = value if self.min is None else min(self.min, value)
            self.max = value if self.max is None else max(self.max, value)
        else:
            self.sum += value
            self.min = value if self.min is None else min(self.min, value)
            self.max = value if self.max is None else max(self.max, value)
            self.histogram().record(value)
            self.hdr = None  # re-encoded on seal()

    def seal(self) -> Metric:
        """Encode the cached histogram so the model serialises; returns self."""
        if self.type is MetricType.TREND and self._hist is not None and self._hist.count:
            self.hdr = self._hist.encode()
        return self

    @property
    def exact(self) -> bool:
        """True when every aggregate comes from raw data (so merges are exact)."""
        if self.type is not MetricType.TREND or self.hdr or self._hist is not None:
            return True
        return self.count == 0 and not self.summary

    # -- reading --------------------------------------------------------------------------------

    def stat(self, key: str, duration_s: float | None = None) -> float | None:
        """One k6 aggregate (`count`, `rate`, `value`, `avg`, `med`, `p(95)`, ...) or None if unknown."""
        if self.type is MetricType.COUNTER:
            if key in ("count", "delta"):  # delta: a scraped counter's increase over the run (assay)
                return self.sum
            if key == "rate":
                if "rate" in self.summary and not duration_s:
                    return self.summary["rate"]
                return self.sum / duration_s if duration_s else None
            return self.summary.get(key)
        if self.type is MetricType.RATE:
            total = self.passes + self.fails
            if key in ("rate", "value"):
                return self.passes / total if total else None
            if key == "passes":
                return float(self.passes)
            if key == "fails":
                return float(self.fails)
            return None
        if self.type is MetricType.GAUGE:
            return {"value": self.value, "last": self.value, "min": self.min, "max": self.max}.get(key)
        return self._trend_stat(key)

    def _trend_stat(self, key: str) -> float | None:
        if key == "min":
            return self.min if self.min is not None else self.summary.get("min")
        if key == "max":
            return self.max if self.max is not None else self.summary.get("max")
        has_raw = bool(self.hdr) or (self._hist is not None and self._hist.count > 0)
        if key == "count":
            return float(self.count) if self.count or has_raw else self.summary.get("count")
        if key == "avg":
            return self.sum / self.count if self.count else self.summary.get("avg")
        pct = percentile_of(key)
        if pct is None:
            return None
        if not has_raw:
            return self.summary.get(key if key != "p(50)" else "med", self.summary.get(key))
        value = self.histogram().value_at(pct)
        # The histogram reports a bucket edge; never outside the exact observed range.
        if self.min is not None:
            value = max(value, self.min)
        if self.max is not None:
            value = min(value, self.max)
        return value

    def values(self, trend_stats: Sequence[str] = DEFAULT_TREND_STATS, duration_s: float | None = None) -> dict[str, float]:
        """The k6 `values` object of this metric (handleSummary's shape)."""
        if self.type is MetricType.COUNTER:
            keys: Sequence[str] = ("count", "rate")
        elif self.type is MetricType.RATE:
            keys = ("rate", "passes", "fails")
        elif self.type is MetricType.GAUGE:
            keys = ("value", "min", "max")
        else:
            keys = trend_stats
        out: dict[str, float] = {}
        for key in keys:
            v = self.stat(key, duration_s)
            if v is not None:
                out[key] = v
        return out

    # -- merging --------------------------------------------------------------------------------

    def merge(self, other: Metric) -> Metric:
        """The metric of both parts of one run (e.g. two workers), exact for raw data.

        Gauges of concurrent parts add up (vus of two workers are the run's vus).
        """
        if self.type is not other.type:
            raise ValueError(f"cannot merge a {self.type} with a {other.type}")
        merged = Metric(type=self.type, contains=self.contains, tags=dict(self.tags))
        merged.count = self.count + other.count
        merged.sum = self.sum + other.sum
        merged.passes = self.passes + other.passes
        merged.fails = self.fails + other.fails
        merged.min = _opt(min, self.min, other.min)
        merged.max = _opt(max, self.max, other.max)
        if self.type is MetricType.GAUGE:
            merged.value = _opt(lambda a, b: a + b, self.value, other.value)
            merged.min = _opt(lambda a, b: a + b, self.min, other.min)
            merged.max = _opt(lambda a, b: a + b, self.max, other.max)
        if self.type is MetricType.TREND:
            if not (self.exact and other.exact):
                raise ValueError("a trend imported from a summary has no histogram and cannot be merged exactly")
            hist = self.histogram().copy()
            hist.add(other.histogram())
            merged.set_histogram(hist)
        seen = {t.source for t in self.thresholds}
        merged.thresholds = [t.model_copy(update={"ok": None, "observed": None}) for t in self.thresholds]
        merged.thresholds += [
            t.model_copy(update={"ok": None, "observed": None}) for t in other.thresholds if t.source not in seen
        ]
        return merged


def _opt(fn: Any, a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return float(fn(a, b))


def percentile_of(key: str) -> float | None:
    """`med` -> 50, `p(99.9)` -> 99.9, anything else -> None."""
    if key == "med":
        return 50.0
    if key.startswith("p(") and key.endswith(")"):
        try:
            p = float(key[2:-1])
        except ValueError:
            return None
        return p if 0.0 <= p <= 100.0 else None
    return None


class Check(BaseModel):
    """A named check (k6 `check()`), with its group path (`::group::name`)."""

    name: str
    path: str = ""
    passes: int = 0
    fails: int = 0

    @property
    def group_path(self) -> str:
        """The path of the group holding the check ('' for the root group)."""
        suffix = "::" + self.name
        return self.path[: -len(suffix)] if self.path.endswith(suffix) else ""

    @property
    def rate(self) -> float:
        """The share of passes among all evaluations (0 when never evaluated)."""
        total = self.passes + self.fails
        return self.passes / total if total else 0.0


class TimeBucket(BaseModel):
    """One second of the run: per-metric aggregates for charts (`{"http_reqs": {"count": 120}}`).

    `hdr` optionally keeps encoded histograms of trends so buckets from workers merge exactly.
    """

    t: float
    metrics: dict[str, dict[str, float]] = Field(default_factory=dict)
    hdr: dict[str, str] = Field(default_factory=dict)


class Artifact(BaseModel):
    """A file a run produced (a report, a log, a chart), by name, path and media type."""
    name: str
    path: str
    media_type: str = "application/octet-stream"


class SourceInfo(BaseModel):
    """Where a result came from: the format it was read from (assay, k6 summary, k6 NDJSON, ...) and the file."""
    format: str
    path: str | None = None
    # Read when the run began, so `assay trace matrix --result` credits the ids the run covered,
    # even when the file has moved or changed since. Absent (None) in results written before.
    scenarios: list[str] | None = Field(
        default=None, description="acceptance scenario ids (US1-AS2) the load file declared (`scenario:`) when the run began")


class RunResult(BaseModel):
    """One run of any engine: load test, chaos experiment, contract verification, plan stage."""

    model_config = ConfigDict(populate_by_name=True)

    schema_: Literal["assay.run/1"] = Field(default="assay.run/1", alias="schema")
    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    name: str = "run"
    kind: str = "load"
    tool: str = "assay"
    status: RunStatus = RunStatus.PASSED
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_s: float = 0.0
    labels: dict[str, str] = Field(default_factory=dict)
    trend_stats: list[str] = Field(default_factory=lambda: list(DEFAULT_TREND_STATS))
    metrics: dict[str, Metric] = Field(default_factory=dict)
    checks: list[Check] = Field(default_factory=list)
    timeseries: list[TimeBucket] = Field(default_factory=list)
    artifacts: list[Artifact] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    source: SourceInfo | None = None
    extra: dict[str, Any] = Field(default_factory=dict)

    # -- access ---------------------------------------------------------------------------------

    def metric(self, name: str) -> Metric | None:
        """The metric (or sub-metric) named `name`, or None."""
        return self.metrics.get(name)

    def stat(self, name: str, key: str) -> float | None:
        """`result.stat("http_req_duration{name:read}", "p(95)")`: one aggregate, or None."""
        m = self.metrics.get(name)
        return m.stat(key, self.duration_s or None) if m is not None else None

    def values(self, name: str) -> dict[str, float]:
        """The metric's values as k6's summary prints them (trend stats, count and rate, ...); KeyError if absent."""
        m = self.metrics[name]
        return m.values(self.trend_stats, self.duration_s or None)

    def thresholds(self) -> Iterator[tuple[str, ThresholdResult]]:
        """Every threshold with the name of the metric it is on."""
        for name, m in self.metrics.items():
            for t in m.thresholds:
                yield name, t

    def failed_thresholds(self) -> list[tuple[str, ThresholdResult]]:
        """The thresholds that were evaluated and crossed."""
        return [(n, t) for n, t in self.thresholds() if t.ok is False]

    def base_metrics(self) -> list[str]:
        """The names of the metrics without tags, sorted."""
        return sorted(n for n in self.metrics if "{" not in n)

    def submetrics_of(self, base: str) -> list[str]:
        """The names of the sub-metrics of `base` (`base{...}`), sorted."""
        return sorted(n for n in self.metrics if n.startswith(base + "{"))

    # -- persistence ----------------------------------------------------------------------------

    def seal(self) -> RunResult:
        """Encode every trend's histogram into its JSON field; call before serialising (to_json does)."""
        for m in self.metrics.values():
            m.seal()
        return self

    def to_json(self, indent: int | None = 2) -> str:
        """The result as JSON (`assay.run/1`), sealed, without empty fields."""
        self.seal()
        return self.model_dump_json(by_alias=True, exclude_none=True, indent=indent)

    def save(self, path: str | Path) -> Path:
        """Write atomically: a crash leaves the old file or the new one, never half of one."""
        return write_text_atomic(path, self.to_json() + "\n")

    @classmethod
    def from_json(cls, text: str) -> RunResult:
        """A result from its JSON (`assay.run/1`); pydantic's ValidationError on a wrong shape."""
        return cls.model_validate_json(text)


# -- merging ------------------------------------------------------------------------------------


def merge_results(results: Sequence[RunResult], *, name: str | None = None) -> RunResult:
    """Merge parts of one run (workers, machines): exact for counters, rates and histograms.

    Threshold verdicts of the parts do not compose, so they are cleared; re-evaluate
    them on the merged result (assay.thresholds.evaluate_result).
    """
    if not results:
        raise ValueError("nothing to merge")
    first = results[0]
    merged = RunResult(
        name=name or first.name,
        kind=first.kind,
        tool=first.tool,
        labels=dict(first.labels),
        trend_stats=list(first.trend_stats),
    )
    starts = [r.started_at for r in results if r.started_at]
    ends = [r.finished_at for r in results if r.finished_at]
    merged.started_at = min(starts) if starts else None
    merged.finished_at = max(ends) if ends else None
    if merged.started_at and merged.finished_at:
        merged.duration_s = (merged.finished_at - merged.started_at).total_seconds()
    else:
        merged.duration_s = max(r.duration_s for r in results)
    for r in results:
        for metric_name, metric in r.metrics.items():
            if metric_name in merged.metrics:
                try:
                    merged.metrics[metric_name] = merged.metrics[metric_name].merge(metric)
                except ValueError as exc:
                    raise ValueError(f"{metric_name}: {exc}") from None
            else:
                merged.metrics[metric_name] = metric.merge(Metric(type=metric.type, contains=metric.contains))
                merged.metrics[metric_name].tags = dict(metric.tags)
    merged.checks = _merge_checks(c for r in results for c in r.checks)
    merged.timeseries = merge_timeseries([r.timeseries for r in results])
    merged.artifacts = [a for r in results for a in r.artifacts]
    merged.notes = [n for r in results for n in r.notes]
    merged.status = worst_status(r.status for r in results)
    return merged


SEPARATE_RUN_GAP_S = 2.0


def disjoint_runs(results: Sequence[RunResult], gap_s: float = SEPARATE_RUN_GAP_S) -> list[tuple[RunResult, RunResult]]:
    """Pairs of results (in time order) where the second started more than `gap_s` after every
    earlier one had finished: separate runs, not parts of one (workers overlap; a run's file
    cut in time follows on within a second)."""
    timed = sorted((r for r in results if r.started_at and r.finished_at), key=lambda r: r.started_at)  # type: ignore[arg-type, return-value]
    gaps: list[tuple[RunResult, RunResult]] = []
    latest: RunResult | None = None
    for r in timed:
        if latest is not None and (r.started_at - latest.finished_at).total_seconds() > gap_s:  # type: ignore[operator]
            gaps.append((latest, r))
        if latest is None or r.finished_at > latest.finished_at:  # type: ignore[operator]
            latest = r
    return gaps


def combine_results(results: Sequence[RunResult], *, name: str | None = None) -> RunResult:
    """Combine separate runs (different times) into one: counts, rates and histograms add exactly,
    and per-second rates are over the time the runs ran (the sum of their durations), not over
    the span from the first start to the last end, which would include the gaps between them."""
    combined = merge_results(results, name=name)
    combined.duration_s = sum(r.duration_s for r in results)
    combined.extra["combined_runs"] = [
        {"name": r.name, "started_at": r.started_at.isoformat() if r.started_at else None, "duration_s": r.duration_s}
        for r in results
    ]
    combined.notes.append(
        f"combined {len(results)} separate runs: rates are per second of running time ({combined.duration_s:.1f} s in all), "
        "not over the span between the first start and the last end"
    )
    return combined


def _merge_checks(checks: Iterable[Check]) -> list[Check]:
    by_path: dict[str, Check] = {}
    for c in checks:
        key = c.path or c.name
        if key in by_path:
            by_path[key].passes += c.passes
            by_path[key].fails += c.fails
        else:
            by_path[key] = c.model_copy()
    return list(by_path.values())


_ADDITIVE = {"count", "passes", "fails", "sum"}


def merge_timeseries(series: Sequence[Sequence[TimeBucket]]) -> list[TimeBucket]:
    """Merge per-second buckets by time; counts add, trend stats are recomputed from histograms."""
    by_t: dict[float, list[TimeBucket]] = {}
    for s in series:
        for b in s:
            by_t.setdefault(b.t, []).append(b)
    out: list[TimeBucket] = []
    for t in sorted(by_t):
        parts = by_t[t]
        if len(parts) == 1:
            out.append(parts[0].model_copy(deep=True))
            continue
        bucket = TimeBucket(t=t)
        for part in parts:
            for mname, stats in part.metrics.items():
                target = bucket.metrics.setdefault(mname, {})
                for k, v in stats.items():
                    if k in _ADDITIVE or k == "value":
                        target[k] = target.get(k, 0.0) + v
                    elif k == "min":
                        target[k] = min(target.get(k, v), v)
                    elif k == "max":
                        target[k] = max(target.get(k, v), v)
                    else:
                        target.setdefault(k, v)
        for mname in {n for p in parts for n in p.hdr}:
            hists = [Histogram.decode(p.hdr[mname]) for p in parts if mname in p.hdr]
            total = hists[0]
            for h in hists[1:]:
                total.add(h)
            bucket.hdr[mname] = total.encode()
            stats = bucket.metrics.setdefault(mname, {})
            for key in list(stats):
                pct = percentile_of(key)
                if pct is not None:
                    stats[key] = total.value_at(pct)
        for stats in bucket.metrics.values():
            if "sum" in stats and stats.get("count"):
                stats["avg"] = stats["sum"] / stats["count"]
            if "passes" in stats and "fails" in stats:
                total_n = stats["passes"] + stats["fails"]
                stats["rate"] = stats["passes"] / total_n if total_n else 0.0
        out.append(bucket)
    return out


# -- labels -------------------------------------------------------------------------------------


def _git(*args: str, cwd: str | Path | None = None) -> str | None:
    try:
        out = subprocess.run(["git", *args], capture_output=True, text=True, timeout=5, cwd=cwd)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def detect_labels(user: dict[str, str] | None = None, *, cwd: str | Path | None = None) -> dict[str, str]:
    """Labels every run carries: git sha and branch (CI variables first), host, user, assay version."""
    env = os.environ
    sha = env.get("GITHUB_SHA") or env.get("CI_COMMIT_SHA") or env.get("GIT_COMMIT") or _git("rev-parse", "HEAD", cwd=cwd)
    branch = (
        env.get("GITHUB_HEAD_REF")
        or env.get("GITHUB_REF_NAME")
        or env.get("CI_COMMIT_REF_NAME")
        or env.get("GIT_BRANCH")
        or _git("rev-parse", "--abbrev-ref", "HEAD", cwd=cwd)
    )
    labels: dict[str, str] = {"host": socket.gethostname(), "assay_version": __version__}
    try:
        labels["user"] = getpass.getuser()
    except (KeyError, OSError):
        pass
    if sha:
        labels["git_sha"] = sha
    if branch and branch != "HEAD":
        labels["git_branch"] = branch
    if user:
        labels.update(user)
    return labels


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC (what every timestamp in a result uses)."""
    return datetime.now(UTC)
