"""k6's threshold grammar and evaluation (`p(95)<500`, `rate<0.01`, `count>=10`).

Shared by the load engine (live and final evaluation), the importers (verdicts of
NDJSON thresholds) and merges (verdicts recomputed on the merged result).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass

from assay.errors import UsageError
from assay.results import Metric, MetricType, RunResult, percentile_of

# Order matters: the scanner tries two-character operators before their one-character prefixes.
_OPERATORS: list[tuple[str, Callable[[float, float], bool]]] = [
    ("===", operator.eq),
    ("==", operator.eq),
    ("!=", operator.ne),
    ("<=", operator.le),
    (">=", operator.ge),
    ("<", operator.lt),
    (">", operator.gt),
]

ALLOWED_AGGREGATIONS: dict[MetricType, str] = {
    MetricType.COUNTER: "count, rate",
    MetricType.GAUGE: "value (assay: also growth, slope)",
    MetricType.RATE: "rate",
    MetricType.TREND: "avg, min, max, med, p(N)",
}

FORMS = "expected '<aggregation> <operator> <number>', e.g. 'p(95)<500', 'rate<0.01', 'count>=10'"

# Series aggregations of gauges (assay's extension, for leak checks on sampled resources):
# growth in percent over the run after warm-up, slope per hour of a robust line. Their
# limits may carry a unit; k6's own expressions never do, so they round-trip unchanged.
SERIES_AGGREGATIONS = ("growth", "slope")
_RATE_UNITS = {"h": 1.0, "min": 60.0, "m": 60.0, "s": 3600.0}
_SIZE_UNITS = {"": 1.0, "B": 1.0, "KB": 1e3, "MB": 1e6, "GB": 1e9, "KiB": 1024.0, "MiB": 1024.0**2, "GiB": 1024.0**3}


class ThresholdError(UsageError):
    """A threshold that cannot be parsed or does not fit its metric (exit 64, before any traffic)."""


@dataclass(frozen=True)
class ThresholdExpr:
    aggregation: str
    op: str
    value: float
    source: str
    unit: str = ""

    @property
    def limit(self) -> float:
        """The limit in the aggregate's own unit (growth: percent; slope: per hour)."""
        return self.value * unit_scale(self.aggregation, self.unit)

    def holds(self, observed: float) -> bool:
        fn = dict(_OPERATORS)[self.op]
        return bool(fn(observed, self.limit))

    def __str__(self) -> str:
        return f"{self.aggregation}{self.op}{_fmt(self.value)}{self.unit}"


def unit_scale(aggregation: str, unit: str) -> float:
    """Multiplier from a written limit to the aggregate's unit (`10MB/h` -> 1e7 bytes per hour)."""
    if not unit or aggregation == "growth":
        return 1.0
    size, _, per = unit.rpartition("/")
    return _SIZE_UNITS[size] * _RATE_UNITS[per]


def _split_unit(aggregation: str, rhs: str, source: str) -> tuple[str, str]:
    if aggregation == "growth":
        return (rhs[:-1].strip(), "%") if rhs.endswith("%") else (rhs, "")
    if aggregation == "slope":
        number = rhs.rstrip("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ/")
        unit = rhs[len(number) :]
        if unit:
            size, sep, per = unit.rpartition("/")
            if not sep or size not in _SIZE_UNITS or per not in _RATE_UNITS:
                raise ThresholdError(
                    f"threshold {source!r}: unknown unit {unit!r}; expected e.g. 10MB/h, 500KB/min, 3/h "
                    f"(sizes {', '.join(k for k in _SIZE_UNITS if k)}; per h, min or s)"
                )
        return number.strip(), unit
    return rhs, ""


def _fmt(v: float) -> str:
    return str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)


def parse_threshold(source: str) -> ThresholdExpr:
    """Parse one k6 threshold expression; raise ThresholdError showing the accepted forms."""
    text = source.strip()
    position = -1
    found = ""
    for i in range(len(text)):
        for op, _ in _OPERATORS:
            if text.startswith(op, i):
                position, found = i, op
                break
        if found:
            break
    if not found:
        raise ThresholdError(f"threshold {source!r} has no comparison operator; {FORMS}")
    agg = text[:position].strip()
    rhs = text[position + len(found) :].strip()
    if not agg:
        raise ThresholdError(f"threshold {source!r} has no aggregation before {found!r}; {FORMS}")
    if agg not in {"avg", "min", "max", "med", "count", "rate", "value", *SERIES_AGGREGATIONS} and percentile_of(agg) is None:
        if agg.startswith("p("):
            raise ThresholdError(f"threshold {source!r}: {agg!r} needs a percentile between 0 and 100, e.g. p(99.9)")
        raise ThresholdError(
            f"threshold {source!r}: unknown aggregation {agg!r}; expected one of avg, min, max, med, count, rate, value, p(N)"
            " (gauges also growth, slope)"
        )
    rhs, unit = _split_unit(agg, rhs, source)
    try:
        value = float(rhs)
    except ValueError:
        raise ThresholdError(f"threshold {source!r}: {rhs!r} is not a number; {FORMS}") from None
    if math.isnan(value):
        raise ThresholdError(f"threshold {source!r}: NaN is not a usable limit")
    op = "==" if found == "===" else found
    return ThresholdExpr(aggregation=agg, op=op, value=value, source=source, unit=unit)


def aggregation_allowed(metric_type: MetricType, aggregation: str) -> bool:
    if metric_type is MetricType.COUNTER:
        return aggregation in ("count", "rate")
    if metric_type is MetricType.GAUGE:
        return aggregation in ("value", *SERIES_AGGREGATIONS)
    if metric_type is MetricType.RATE:
        return aggregation == "rate"
    return aggregation in ("avg", "min", "max", "med") or percentile_of(aggregation) is not None


def validate_threshold(metric_name: str, metric_type: MetricType, source: str) -> ThresholdExpr:
    expr = parse_threshold(source)
    if not aggregation_allowed(metric_type, expr.aggregation):
        raise ThresholdError(
            f"threshold {source!r} on {metric_name}: a {metric_type} metric allows "
            f"{ALLOWED_AGGREGATIONS[metric_type]}, not {expr.aggregation!r}"
        )
    return expr


SeriesStat = Callable[[str], float | None]


def evaluate_metric(metric: Metric, duration_s: float | None, series_stat: SeriesStat | None = None) -> list[str]:
    """Set `ok` and `observed` on each of the metric's thresholds; return the failed sources.

    As in k6, a threshold whose aggregate has no value yet (no samples) passes. Growth and
    slope read the metric's time series through `series_stat(aggregation)`.
    """
    failed: list[str] = []
    for t in metric.thresholds:
        expr = parse_threshold(t.source)
        if expr.aggregation in SERIES_AGGREGATIONS:
            observed = series_stat(expr.aggregation) if series_stat is not None else None
        else:
            observed = metric.stat(expr.aggregation, duration_s)
        t.observed = observed
        t.ok = True if observed is None else expr.holds(observed)
        if not t.ok:
            failed.append(t.source)
    return failed


def evaluate_result(result: RunResult) -> list[tuple[str, str]]:
    """Evaluate every threshold of a result; returns (metric, expression) pairs that failed."""
    failed: list[tuple[str, str]] = []
    for name, metric in result.metrics.items():
        series_stat = _series_stat(result, name) if metric.type is MetricType.GAUGE else None
        for source in evaluate_metric(metric, result.duration_s or None, series_stat):
            failed.append((name, source))
    return failed


def _series_stat(result: RunResult, name: str) -> SeriesStat:
    def stat(aggregation: str) -> float | None:
        from assay.observe.leak import growth_and_slope  # scipy only when a series threshold exists
        from assay.observe.sampler import series_of

        fitted = growth_and_slope(*series_of(result, name))
        if fitted is None:
            return None
        return fitted[0] if aggregation == "growth" else fitted[1]

    return stat
