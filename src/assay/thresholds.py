"""k6's threshold grammar and evaluation (`p(95)<500`, `rate<0.01`, `count>=10`).

Shared by the load engine (live and final evaluation), the importers (verdicts of
NDJSON thresholds) and merges (verdicts recomputed on the merged result).
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from assay.errors import UsageError
from assay.results import Metric, MetricType, RunResult, parse_metric_name, percentile_of
from assay.threshold_math import (
    Lookup,
    MathError,
    Node,
    Ref,
    evaluate,
    is_plain_number,
    parse_expression,
    refs,
    render,
)

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
    MetricType.COUNTER: "count, rate (assay: also delta)",
    MetricType.GAUGE: "value (assay: also last, min, max, growth, slope)",
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
    # cross-metric forms (assay.threshold_math): both sides are expressions over aggregates
    lhs: Node | None = None
    rhs: Node | None = None

    @property
    def composite(self) -> bool:
        return self.lhs is not None

    def operands(self) -> list[Ref]:
        """Every aggregate a cross-metric expression reads (empty for k6's plain form)."""
        return (refs(self.lhs) if self.lhs is not None else []) + (refs(self.rhs) if self.rhs is not None else [])

    def sides(self, lookup: Lookup) -> tuple[float | None, float | None]:
        """(observed, limit) of a cross-metric expression; None where an operand has no value."""
        assert self.lhs is not None and self.rhs is not None
        return evaluate(self.lhs, lookup), evaluate(self.rhs, lookup)

    def compare(self, observed: float, limit: float) -> bool:
        return bool(dict(_OPERATORS)[self.op](observed, limit))

    @property
    def limit(self) -> float:
        """The limit in the aggregate's own unit (growth: percent; slope: per hour)."""
        return self.value * unit_scale(self.aggregation, self.unit)

    def holds(self, observed: float) -> bool:
        fn = dict(_OPERATORS)[self.op]
        return bool(fn(observed, self.limit))

    def __str__(self) -> str:
        if self.lhs is not None and self.rhs is not None:
            return f"{render(self.lhs)} {self.op} {render(self.rhs)}"
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
    op = "==" if found == "===" else found
    if _is_cross_metric(agg, rhs):
        return _parse_cross_metric(source, agg, op, rhs)
    if agg not in {*SIMPLE_AGGREGATIONS, *SERIES_AGGREGATIONS} and percentile_of(agg) is None:
        if agg.startswith("p("):
            raise ThresholdError(f"threshold {source!r}: {agg!r} needs a percentile between 0 and 100, e.g. p(99.9)")
        raise ThresholdError(
            f"threshold {source!r}: unknown aggregation {agg!r}; expected one of avg, min, max, med, count, rate, value, p(N)"
            " (counters also delta; gauges also last, min, max, growth, slope)"
        )
    rhs, unit = _split_unit(agg, rhs, source)
    try:
        value = float(rhs)
    except ValueError:
        raise ThresholdError(f"threshold {source!r}: {rhs!r} is not a number; {FORMS}") from None
    if math.isnan(value):
        raise ThresholdError(f"threshold {source!r}: NaN is not a usable limit")
    return ThresholdExpr(aggregation=agg, op=op, value=value, source=source, unit=unit)


_PERCENTILE = re.compile(r"p\(\s*[\d.]+\s*\)")
SIMPLE_AGGREGATIONS = frozenset({"avg", "min", "max", "med", "count", "rate", "value", "delta", "last"})


def _is_cross_metric(agg: str, rhs: str) -> bool:
    """True for assay's cross-metric forms: arithmetic on the left, or a metric on the right.

    A lone word without `_`, `.` or tags on the right (`avg<fast`) stays a k6 mistake ("not
    a number"): metric names people compare with carry an underscore (`messages_sent`), and
    one without can be written with its aggregation (`iterations.count`)."""
    simple_left = agg in SIMPLE_AGGREGATIONS or agg in SERIES_AGGREGATIONS or percentile_of(agg) is not None
    if not simple_left:
        rest = _PERCENTILE.sub("", agg)
        return any(c in rest for c in "+-*/._")  # parentheses alone: a malformed p(N), k6's error
    if is_plain_number(rhs) or agg in SERIES_AGGREGATIONS:
        return False
    return any(c in rhs for c in "_.{+*/(") or (rhs.startswith("-") and not is_plain_number(rhs))


def _parse_cross_metric(source: str, agg: str, op: str, rhs: str) -> ThresholdExpr:
    try:
        lhs_node = parse_expression(agg)
        rhs_node = parse_expression(rhs)
    except MathError as exc:
        raise ThresholdError(
            f"threshold {source!r}: {exc}; cross-metric forms look like 'delta == messages_sent' or "
            "'delta / (delta + other_total.delta) > 0.9'"
        ) from None
    for ref in refs(lhs_node) + refs(rhs_node):
        if ref.aggregation is not None and ref.aggregation not in SIMPLE_AGGREGATIONS and percentile_of(ref.aggregation) is None:
            raise ThresholdError(f"threshold {source!r}: unknown aggregation {ref.aggregation!r}; {FORMS}")
        if ref.metric is not None:
            try:
                parse_metric_name(ref.metric)
            except ValueError as exc:
                raise ThresholdError(f"threshold {source!r}: {exc}") from None
    own = next((r.aggregation for r in refs(lhs_node) if r.metric is None), None)
    return ThresholdExpr(aggregation=own or "", op=op, value=0.0, source=source, lhs=lhs_node, rhs=rhs_node)


def aggregation_allowed(metric_type: MetricType, aggregation: str) -> bool:
    if metric_type is MetricType.COUNTER:
        return aggregation in ("count", "rate", "delta")
    if metric_type is MetricType.GAUGE:
        return aggregation in ("value", "last", "min", "max", *SERIES_AGGREGATIONS)
    if metric_type is MetricType.RATE:
        return aggregation == "rate"
    return aggregation in ("avg", "min", "max", "med") or percentile_of(aggregation) is not None


def validate_threshold(
    metric_name: str, metric_type: MetricType, source: str, types: Mapping[str, tuple[MetricType, Any]] | None = None
) -> ThresholdExpr:
    """Parse `source` and check its aggregations fit the metric (and, for cross-metric forms, the
    metrics it names exist in `types` and allow the aggregation read from them)."""
    expr = parse_threshold(source)
    if expr.composite:
        for ref in expr.operands():
            if ref.metric is None:
                if ref.aggregation and not aggregation_allowed(metric_type, ref.aggregation):
                    raise ThresholdError(
                        f"threshold {source!r} on {metric_name}: a {metric_type} metric allows "
                        f"{ALLOWED_AGGREGATIONS[metric_type]}, not {ref.aggregation!r}"
                    )
                continue
            if types is None:
                continue
            base = parse_metric_name(ref.metric)[0]
            if base not in types:
                from difflib import get_close_matches

                near = get_close_matches(base, sorted(types), n=1)
                hint = f"; did you mean {near[0]!r}?" if near else ""
                raise ThresholdError(f"threshold {source!r} on {metric_name}: {base!r} is not a number nor a known metric{hint}")
            ref_type = MetricType(types[base][0])
            if ref.aggregation and not aggregation_allowed(ref_type, ref.aggregation):
                raise ThresholdError(
                    f"threshold {source!r}: {base} is a {ref_type} metric, which allows "
                    f"{ALLOWED_AGGREGATIONS[ref_type]}, not {ref.aggregation!r}"
                )
        return expr
    if not aggregation_allowed(metric_type, expr.aggregation):
        raise ThresholdError(
            f"threshold {source!r} on {metric_name}: a {metric_type} metric allows "
            f"{ALLOWED_AGGREGATIONS[metric_type]}, not {expr.aggregation!r}"
        )
    return expr


SeriesStat = Callable[[str], float | None]
# another metric's aggregate, for cross-metric thresholds: (metric name, aggregation or None) -> value
MetricStat = Callable[[str, str | None], float | None]

DEFAULT_AGGREGATION = {MetricType.COUNTER: "count", MetricType.RATE: "rate", MetricType.GAUGE: "value", MetricType.TREND: "avg"}


def metric_lookup(metrics: Mapping[str, Metric], duration_s: float | None) -> MetricStat:
    """Read aggregates of a result's metrics by name; a tagged name missing from the result has no value."""

    def stat(name: str, aggregation: str | None) -> float | None:
        m = metrics.get(name)
        if m is None:
            return None
        return m.stat(aggregation or DEFAULT_AGGREGATION[m.type], duration_s)

    return stat


def evaluate_metric(
    metric: Metric, duration_s: float | None, series_stat: SeriesStat | None = None, others: MetricStat | None = None
) -> list[str]:
    """Set `ok` and `observed` on each of the metric's thresholds; return the failed sources.

    As in k6, a threshold whose aggregate has no value yet (no samples) passes. Growth and
    slope read the metric's time series through `series_stat(aggregation)`; cross-metric
    expressions read other metrics through `others` (without it they have no value yet).
    """
    failed: list[str] = []
    for t in metric.thresholds:
        expr = parse_threshold(t.source)
        if expr.composite:

            def lookup(name: str | None, aggregation: str | None) -> float | None:
                if name is None:
                    return metric.stat(aggregation or DEFAULT_AGGREGATION[metric.type], duration_s)
                return others(name, aggregation) if others is not None else None

            observed, limit = expr.sides(lookup)
            t.observed = observed
            t.ok = True if observed is None or limit is None else expr.compare(observed, limit)
            if not t.ok:
                failed.append(t.source)
            continue
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
    others = metric_lookup(result.metrics, result.duration_s or None)
    for name, metric in result.metrics.items():
        series_stat = _series_stat(result, name) if metric.type is MetricType.GAUGE else None
        for source in evaluate_metric(metric, result.duration_s or None, series_stat, others):
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
