"""Turn an objective's SLI into one number for one run: a result metric, a PromQL query or a ratio.

A missing value is never a silent pass: every path that cannot produce a number returns
the reason, and the evaluation scores it as a FAIL. A metric name the result has never
heard of is a user mistake instead (exit 64), reported with the metrics the result has.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from assay.errors import UsageError
from assay.report.units import named_unit
from assay.results import (
    BUILTIN_METRICS,
    Check,
    Metric,
    MetricType,
    RunResult,
    parse_metric_name,
    percentile_of,
)
from assay.slo.spec import Objective, Operand, SloFile

_ALLOWED: dict[MetricType, tuple[str, ...]] = {
    MetricType.COUNTER: ("count", "rate", "delta"),  # delta: a scraped counter's increase (assay.load.scrape)
    MetricType.RATE: ("rate", "passes", "fails"),
    MetricType.GAUGE: ("value", "last", "min", "max"),
    MetricType.TREND: ("avg", "min", "max", "med", "count", "p(N)"),
}
_DEFAULT_AGGREGATION: dict[MetricType, str] = {
    MetricType.COUNTER: "count",
    MetricType.RATE: "rate",
    MetricType.GAUGE: "value",
}


@dataclass
class SliValue:
    """The measured value of an SLI on one run, or why there is none."""

    value: float | None
    label: str
    aggregation: str | None = None
    metric: str | None = None
    unit: str | None = None
    reason: str | None = None
    notes: list[str] = field(default_factory=list)
    fraction: bool = False  # a share of events in [0, 1] (a rate or a ratio), which people may read in percent


class SliError(UsageError):
    """The SLO names something the result cannot have (unknown metric, disallowed aggregation)."""


@dataclass
class Prometheus:
    """A Prometheus HTTP API (`/api/v1/query`), queried at the end of a run's window."""

    url: str
    timeout_s: float = 10.0

    def instant(self, query: str, at: datetime) -> tuple[float | None, str | None]:
        """(value, reason): one number from an instant query, or why there is none."""
        endpoint = self.url.rstrip("/") + "/api/v1/query"
        try:
            response = httpx.post(endpoint, data={"query": query, "time": f"{at.timestamp():.3f}"}, timeout=self.timeout_s)
        except httpx.HTTPError as exc:
            return None, f"Prometheus at {self.url} unreachable: {exc}"
        try:
            body = response.json()
        except ValueError:
            return None, f"Prometheus answered HTTP {response.status_code} without JSON"
        if not isinstance(body, dict):
            return None, f"Prometheus answered HTTP {response.status_code} with JSON that is not an API response"
        if body.get("status") != "success":
            return None, f"Prometheus rejected the query: {body.get('errorType', 'error')}: {body.get('error', response.text[:200])}"
        try:
            return _one_number(body.get("data") or {})
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
            return None, f"Prometheus answered in an unexpected shape ({exc!r})"


def _one_number(data: dict[str, Any]) -> tuple[float | None, str | None]:
    kind = data.get("resultType")
    result = data.get("result")
    if kind == "scalar" and isinstance(result, list) and len(result) == 2:
        return _number(result[1])
    if kind == "vector" and isinstance(result, list):
        if not result:
            return None, "the query returned no samples over the run window"
        if len(result) > 1:
            shown = ", ".join(_series_name(s.get("metric") or {}) for s in result[:3])
            return None, f"the query returned {len(result)} series ({shown}...); aggregate it to one, e.g. with sum() or max()"
        return _number(result[0]["value"][1])
    return None, f"the query returned a {kind}; expected a scalar or a one-series vector"


def _number(text: str) -> tuple[float | None, str | None]:
    value = float(text)
    if math.isnan(value):
        return None, "the query returned NaN (no samples over the run window)"
    return value, None


def _series_name(labels: dict[str, str]) -> str:
    name = labels.get("__name__", "")
    rest = ",".join(f'{k}="{v}"' for k, v in labels.items() if k != "__name__")
    return f"{name}{{{rest}}}"


def substitute(query: str, result: RunResult, filters: dict[str, str]) -> str:
    """Fill Keptn-style placeholders with the run's window and the SLO file's filter values."""
    assert result.started_at is not None and result.finished_at is not None
    seconds = max(1, round((result.finished_at - result.started_at).total_seconds()))
    values = {
        "DURATION_SECONDS": f"{seconds}s",
        "DURATION": f"{seconds}s",
        "START": f"{result.started_at.timestamp():.0f}",
        "END": f"{result.finished_at.timestamp():.0f}",
    }
    values.update(filters)
    # Longest names first, so $DURATION_SECONDS is not eaten by $DURATION.
    for key in sorted(values, key=len, reverse=True):
        query = query.replace("$" + key, values[key])
    return query


class Resolver:
    """Resolve objectives' SLIs against results, with one Prometheus client per URL."""

    def __init__(self, slo: SloFile) -> None:
        self.slo = slo

    def value(self, objective: Objective, result: RunResult) -> SliValue:
        if objective.sli is not None:
            return metric_value(result, objective.sli, objective.aggregation)
        if objective.promql is not None:
            return self.promql_value(objective.promql, objective.prometheus, result)
        assert objective.ratio is not None
        num = self.operand(objective.ratio.numerator, result)
        den = self.operand(objective.ratio.denominator, result)
        label = f"{num.label} / {den.label}"
        if num.value is None:
            return SliValue(None, label, reason=f"numerator: {num.reason}")
        if den.value is None:
            return SliValue(None, label, reason=f"denominator: {den.reason}")
        if den.value == 0:
            return SliValue(None, label, reason=f"the denominator {den.label} is 0 (no samples)")
        return SliValue(num.value / den.value, label, aggregation="ratio", fraction=True)

    def operand(self, operand: Operand, result: RunResult) -> SliValue:
        if operand.promql is not None:
            return self.promql_value(operand.promql, None, result)
        assert operand.sli is not None
        aggregation = operand.aggregation or _operand_default(result, operand.sli)
        return metric_value(result, operand.sli, aggregation)

    def promql_value(self, query: str, url: str | None, result: RunResult) -> SliValue:
        target = url or (self.slo.prometheus.url if self.slo.prometheus else None)
        label = f"promql: {query}"
        if target is None:
            raise SliError(f"objective query {query!r} needs a Prometheus URL: set 'prometheus: {{url: ...}}' in the SLO file")
        if result.started_at is None or result.finished_at is None:
            return SliValue(None, label, reason="the result has no start/finish time, so the run window is unknown")
        filled = substitute(query, result, self.slo.filter)
        timeout = self.slo.prometheus.timeout_s if self.slo.prometheus else 10.0
        value, reason = Prometheus(target, timeout).instant(filled, result.finished_at)
        return SliValue(value, label, aggregation="promql", reason=reason, notes=[f"query: {filled}"])


def _operand_default(result: RunResult, name: str) -> str:
    metric = result.metric(name)
    mtype = metric.type if metric is not None else _known_type(name)
    if mtype is MetricType.RATE:
        return "passes"
    if mtype is MetricType.TREND:
        return "count"
    return _DEFAULT_AGGREGATION.get(mtype or MetricType.COUNTER, "count")


def _known_type(name: str) -> MetricType | None:
    base, _ = parse_metric_name(name)
    kind = BUILTIN_METRICS.get(base)
    return kind[0] if kind else None


def aggregation_allowed(mtype: MetricType, aggregation: str) -> bool:
    allowed = _ALLOWED[mtype]
    if aggregation in allowed:
        return True
    return mtype is MetricType.TREND and percentile_of(aggregation) is not None


def unit_of(metric: Metric, aggregation: str, name: str = "") -> str | None:
    """The unit reports print a value in. A gauge's unit is in its name, by the Prometheus naming
    convention the resource gauges follow (`proc_rss_bytes`, `proc_cpu_percent`, `*_seconds`)."""
    if metric.contains.value == "time" and aggregation not in ("count",):
        return "ms"
    if metric.type is MetricType.GAUGE:
        return named_unit(name)
    if metric.contains.value == "data" and aggregation == "count":
        return "B"
    if metric.type is MetricType.COUNTER and aggregation == "rate":
        return "/s"
    return None


def metric_value(result: RunResult, name: str, aggregation: str | None) -> SliValue:
    """One aggregate of a result metric; an unknown metric raises SliError listing the known ones."""
    base, tags = parse_metric_name(name)
    metric = result.metric(name)
    if metric is None and base == "checks" and tags and set(tags) <= {"check", "name", "group"}:
        return _check_value(result, name, tags, aggregation)
    if metric is None:
        known_bases = {parse_metric_name(n)[0] for n in result.metrics}
        if base not in known_bases and base not in BUILTIN_METRICS:
            raise SliError(_unknown_metric_message(result, name))
        label = f"{name} {aggregation}" if aggregation else name
        present = result.submetrics_of(base)
        hint = f"; it has {', '.join(present[:8])}" if present else ""
        return SliValue(None, label, aggregation, name, reason=f"no samples: the result has no {name}{hint}")
    if aggregation is None:
        if metric.type is MetricType.TREND:
            raise SliError(
                f"objective on {name}: a trend needs an 'aggregation' (one of avg, min, max, med, p(N), count), e.g. p(95)"
            )
        aggregation = _DEFAULT_AGGREGATION[metric.type]
    if not aggregation_allowed(metric.type, aggregation):
        raise SliError(
            f"objective on {name}: a {metric.type} metric allows {', '.join(_ALLOWED[metric.type])}, not {aggregation!r}"
        )
    label = f"{name} {aggregation}"
    value = metric.stat(aggregation, result.duration_s or None)
    if value is None or not _has_samples(metric):
        why = "no samples" if not _has_samples(metric) else f"no {aggregation} value"
        if metric.type is MetricType.COUNTER and aggregation == "rate" and not result.duration_s:
            why = "the run duration is unknown, so a per-second rate cannot be computed"
        why = f"{why} for {name} in this result"
        if metric.summary and not metric.hdr and _has_samples(metric):
            why += f" (its summary holds only {', '.join(metric.summary)}; k6's --summary-trend-stats sets which)"
        return SliValue(None, label, aggregation, name, reason=why)
    fraction = metric.type is MetricType.RATE and aggregation == "rate"
    return SliValue(value, label, aggregation, name, unit=unit_of(metric, aggregation, name), fraction=fraction)


def _has_samples(metric: Metric) -> bool:
    if metric.type is MetricType.RATE:
        return metric.passes + metric.fails > 0
    if metric.type is MetricType.COUNTER:
        return metric.count > 0 or metric.sum != 0 or bool(metric.summary)
    if metric.type is MetricType.GAUGE:
        return metric.value is not None
    return metric.count > 0 or bool(metric.hdr) or bool(metric.summary)


def _check_value(result: RunResult, name: str, tags: dict[str, str], aggregation: str | None) -> SliValue:
    """`checks{check:status is 200}` from the result's named checks when no such sub-metric exists."""
    wanted = tags.get("check") or tags.get("name")
    group = tags.get("group")
    matching: list[Check] = [
        c for c in result.checks if (wanted is None or c.name == wanted) and (group is None or c.group_path == group)
    ]
    aggregation = aggregation or "rate"
    label = f"{name} {aggregation}"
    if aggregation not in ("rate", "passes", "fails"):
        raise SliError(f"objective on {name}: checks allow rate, passes, fails, not {aggregation!r}")
    if not matching:
        names = sorted({c.name for c in result.checks})
        return SliValue(
            None, label, aggregation, name, reason=f"no check matches {name}; the result's checks are: {', '.join(names) or 'none'}"
        )
    passes = sum(c.passes for c in matching)
    fails = sum(c.fails for c in matching)
    if passes + fails == 0:
        return SliValue(None, label, aggregation, name, reason=f"no samples for {name} in this result")
    value = {"rate": passes / (passes + fails), "passes": float(passes), "fails": float(fails)}[aggregation]
    return SliValue(value, label, aggregation, name, fraction=aggregation == "rate")


def _unknown_metric_message(result: RunResult, name: str) -> str:
    names = sorted(result.metrics)
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    source = result.source.path if result.source and result.source.path else result.name
    return f"unknown metric {name!r} in {source}{hint}; the result has: {', '.join(names) or 'no metrics'}"
