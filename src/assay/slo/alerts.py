"""Prometheus alerting rules for an SLO file (for Alertmanager).

It lives with the SLO specs it reads (slo sits above observe in the layering); the series
it names are the ones assay.observe.metrics emits.

Ratio objectives (an error rate below a budget, a success rate above a target) become
the SRE workbook's multiwindow, multi-burn-rate alerts: page when 2% of a 30-day budget
burns in an hour (14.4x over 1h and 5m) or 5% in six hours (6x over 6h and 30m); open a
ticket at 3x over 1d and 2h, or 1x over 3d and 6h. The short window makes an alert stop
soon after the burn stops. The p95 latency objective alerts on the live gauge. Objectives
that name no series assay or the service exports are listed as skipped, not guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from assay.observe.metrics import EMITTED
from assay.results import parse_metric_name
from assay.slo.criteria import parse_criterion
from assay.slo.spec import Objective, SloFile

# (severity, long window, short window, burn-rate factor): SRE workbook, chapter 5, table 5-8
BURN_WINDOWS: list[tuple[str, str, str, float]] = [
    ("page", "1h", "5m", 14.4),
    ("page", "6h", "30m", 6.0),
    ("ticket", "1d", "2h", 3.0),
    ("ticket", "3d", "6h", 1.0),
]
# The bad/all event counters assay exports for a rate SLI (assay.observe.metrics).
RATE_SLIS: dict[str, tuple[str, str]] = {
    "http_req_failed": ("assay_load_requests_failed_total", "assay_load_requests_total"),
}
assert all(name in EMITTED for pair in RATE_SLIS.values() for name in pair)
_RANGE = re.compile(r"\[[0-9]+[smhdwy]\]")


@dataclass
class RuleSet:
    groups: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def document(self) -> dict[str, Any]:
        return {"groups": self.groups}


def _budget(objective: Objective, bad_is_measured: bool) -> float | None:
    """The allowed bad-event ratio from the objective's (first, absolute) pass criterion."""
    if not objective.pass_:
        return None
    text = objective.pass_[0].criteria[0]
    c = parse_criterion(text)
    if c.relative:
        return None
    if bad_is_measured and c.op in ("<", "<="):
        return c.value
    if not bad_is_measured and c.op in (">", ">="):
        return 1.0 - c.value
    return None


def _ratio_exprs(objective: Objective) -> tuple[str, str, bool] | None:
    """(numerator, denominator, numerator counts bad events) with `$W` as the range placeholder."""
    if objective.ratio is not None:
        num, den = objective.ratio.numerator.promql, objective.ratio.denominator.promql
        if num and den and _RANGE.search(num) and _RANGE.search(den):
            return _RANGE.sub("[$W]", num), _RANGE.sub("[$W]", den), True
        return None
    if objective.sli is None or objective.aggregation not in ("rate", None):
        return None
    base, tags = parse_metric_name(objective.sli)
    if base not in RATE_SLIS or tags:
        return None
    bad, total = RATE_SLIS[base]
    return f"sum(rate({bad}[$W]))", f"sum(rate({total}[$W]))", True


def alert_rules(slo: SloFile, name: str) -> RuleSet:
    """Recording and alerting rule groups for every objective alerts can be written for."""
    rules = RuleSet()
    recording: list[dict[str, Any]] = []
    alerting: list[dict[str, Any]] = []
    for objective in slo.objectives:
        labels = {"slo": name, "objective": objective.id, "priority": objective.priority}
        ratio = _ratio_exprs(objective)
        if ratio is not None:
            num, den, bad_measured = ratio
            budget = _budget(objective, bad_measured)
            if budget is None or budget <= 0:
                rules.skipped.append(f"{objective.id}: no absolute budget in its pass criterion")
                continue
            windows = sorted({w for _, long_w, short_w, _ in BURN_WINDOWS for w in (long_w, short_w)}, key=_seconds)
            record = f"assay:slo_error_ratio:{_ident(objective.id)}"
            for w in windows:
                expr = f"({num.replace('$W', w)}) / ({den.replace('$W', w)})"
                recording.append({"record": f"{record}:rate{w}", "expr": expr, "labels": dict(labels)})
            for severity, long_w, short_w, factor in BURN_WINDOWS:
                threshold = f"{factor} * {budget!r}"
                alerting.append(
                    {
                        "alert": f"SLOBurnRate{_camel(objective.id)}{severity.title()}{long_w}",
                        "expr": f"{record}:rate{long_w} > ({threshold}) and {record}:rate{short_w} > ({threshold})",
                        "labels": {**labels, "severity": severity},
                        "annotations": {
                            "summary": f"{objective.title}: error budget burning {factor}x over {long_w} and {short_w}",
                            "description": f"budget {budget!r} (objective pass {objective.pass_[0].criteria[0] if objective.pass_ else ''})",
                        },
                    }
                )
            continue
        latency = _latency_rule(objective, labels)
        if latency is not None:
            alerting.append(latency)
            continue
        rules.skipped.append(f"{objective.id}: {objective.sli or 'a PromQL SLI'} is not a series with a burn-rate or live form")
    if recording:
        rules.groups.append({"name": f"assay-slo-{name}-ratios", "rules": recording})
    if alerting:
        rules.groups.append({"name": f"assay-slo-{name}-alerts", "rules": alerting})
    return rules


def _latency_rule(objective: Objective, labels: dict[str, str]) -> dict[str, Any] | None:
    if objective.sli != "http_req_duration" or objective.aggregation != "p(95)" or not objective.pass_:
        return None
    c = parse_criterion(objective.pass_[0].criteria[0])
    if c.relative or c.op not in ("<", "<="):
        return None
    op = ">" if c.op == "<=" else ">="
    return {
        "alert": f"SLOLatency{_camel(objective.id)}",
        "expr": f"assay_load_http_req_duration_p95_ms {op} {c.value!r}",
        "for": "5m",
        "labels": {**labels, "severity": "page" if objective.priority == "P0" else "ticket"},
        "annotations": {"summary": f"{objective.title}: p95 {op} {c.value!r} ms for 5 minutes"},
    }


def _seconds(window: str) -> int:
    unit = {"s": 1, "m": 60, "h": 3600, "d": 86400}[window[-1]]
    return int(window[:-1]) * unit


def _ident(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]+", "_", text).strip("_") or "objective"


def _camel(text: str) -> str:
    return "".join(part.title() for part in re.split(r"[^A-Za-z0-9]+", text) if part) or "Objective"
