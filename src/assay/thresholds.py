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
    MetricType.GAUGE: "value",
    MetricType.RATE: "rate",
    MetricType.TREND: "avg, min, max, med, p(N)",
}

FORMS = "expected '<aggregation> <operator> <number>', e.g. 'p(95)<500', 'rate<0.01', 'count>=10'"


class ThresholdError(UsageError):
    """A threshold that cannot be parsed or does not fit its metric (exit 64, before any traffic)."""


@dataclass(frozen=True)
class ThresholdExpr:
    aggregation: str
    op: str
    value: float
    source: str

    def holds(self, observed: float) -> bool:
        fn = dict(_OPERATORS)[self.op]
        return bool(fn(observed, self.value))

    def __str__(self) -> str:
        return f"{self.aggregation}{self.op}{_fmt(self.value)}"


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
    if agg not in {"avg", "min", "max", "med", "count", "rate", "value"} and percentile_of(agg) is None:
        if agg.startswith("p("):
            raise ThresholdError(f"threshold {source!r}: {agg!r} needs a percentile between 0 and 100, e.g. p(99.9)")
        raise ThresholdError(
            f"threshold {source!r}: unknown aggregation {agg!r}; expected one of avg, min, max, med, count, rate, value, p(N)"
        )
    try:
        value = float(rhs)
    except ValueError:
        raise ThresholdError(f"threshold {source!r}: {rhs!r} is not a number; {FORMS}") from None
    if math.isnan(value):
        raise ThresholdError(f"threshold {source!r}: NaN is not a usable limit")
    op = "==" if found == "===" else found
    return ThresholdExpr(aggregation=agg, op=op, value=value, source=source)


def aggregation_allowed(metric_type: MetricType, aggregation: str) -> bool:
    if metric_type is MetricType.COUNTER:
        return aggregation in ("count", "rate")
    if metric_type is MetricType.GAUGE:
        return aggregation == "value"
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


def evaluate_metric(metric: Metric, duration_s: float | None) -> list[str]:
    """Set `ok` and `observed` on each of the metric's thresholds; return the failed sources.

    As in k6, a threshold whose aggregate has no value yet (no samples) passes.
    """
    failed: list[str] = []
    for t in metric.thresholds:
        expr = parse_threshold(t.source)
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
        for source in evaluate_metric(metric, result.duration_s or None):
            failed.append((name, source))
    return failed
