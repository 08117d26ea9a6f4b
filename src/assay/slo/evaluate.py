"""Judge one run against an SLO file with Keptn's scoring, plus tiers and CRITICAL.

Keptn (lighthouse-service evaluateObjectives/calculateScore): an objective meeting its pass
criteria earns its weight, one meeting only its warning criteria half of it, otherwise 0;
objectives without pass criteria are informational. Total = 100 * achieved / max. The
score verdict is pass at >= total_score.pass, warning at >= total_score.warning, else fail;
a failed key SLI forces fail. assay adds tiers: a failed P0 or key objective makes the
run CRITICAL, and any objective that did not pass keeps the run from a clean PASS.
"""

from __future__ import annotations

import math
from typing import Literal

from assay.errors import UsageError
from assay.results import RunResult
from assay.slo.criteria import Criterion, describe
from assay.slo.history import History, identities
from assay.slo.recommend import recommend
from assay.slo.report import ComparisonInfo, CriterionResult, ObjectiveResult, ResultRef, SloReport
from assay.slo.sources import Resolver, SliValue
from assay.slo.spec import Objective, SloFile
from assay.status import GATE_EXIT_CODES, GateStatus


def aggregate(values: list[float], function: str) -> float:
    """Keptn's aggregate of earlier values: avg, or a percentile at pos = p*(n+1), clamped, interpolated."""
    if function == "avg":
        return sum(values) / len(values)
    p = {"p50": 0.5, "p90": 0.9, "p95": 0.95}[function]
    ordered = sorted(values)
    size = len(ordered)
    pos = p * (size + 1)
    if pos < 1.0:
        return ordered[0]
    if pos >= size:
        return ordered[-1]
    lower = ordered[int(pos) - 1]
    upper = ordered[int(pos)]
    return lower + (pos - math.floor(pos)) * (upper - lower)


def _check_groups(
    groups: list[list[Criterion]], value: float, baseline: float | None
) -> tuple[bool, list[list[CriterionResult]], list[str]]:
    """OR over groups, AND inside a group; a relative criterion without a baseline passes."""
    notes: list[str] = []
    any_met = False
    rendered: list[list[CriterionResult]] = []
    for group in groups:
        group_met = True
        out: list[CriterionResult] = []
        for c in group:
            if c.relative and baseline is None:
                note = f"{c}: no passing history to compare with, so it passes (as in Keptn)"
                notes.append(note)
                out.append(CriterionResult(criterion=str(c), relative=True, met=True, note=note))
                continue
            met = c.holds(value, baseline)
            out.append(CriterionResult(criterion=str(c), target=c.target(baseline), relative=c.relative, met=met))
            group_met = group_met and met
        rendered.append(out)
        any_met = any_met or group_met
    return any_met, rendered, notes


def _unchecked(groups: list[list[Criterion]], baseline: float | None) -> list[list[CriterionResult]]:
    return [
        [
            CriterionResult(
                criterion=str(c),
                target=c.target(baseline) if (not c.relative or baseline is not None) else None,
                relative=c.relative,
                met=False,
            )
            for c in group
        ]
        for group in groups
    ]


def _target_text(groups: list[list[Criterion]], baseline: float | None, percent: bool, unit: str | None) -> str:
    return " or ".join(" and ".join(describe(c, baseline, percent, unit) for c in group) for group in groups)


def evaluate(
    slo: SloFile,
    result: RunResult,
    *,
    history: History | None = None,
    slo_name: str | None = None,
    exclude: frozenset[str] = frozenset(),
) -> SloReport:
    """Evaluate every objective of `slo` on `result`; earlier runs come from `history`."""
    resolver = Resolver(slo)
    settings = slo.comparison_settings()
    n = slo.comparison_count()
    previous: list[RunResult] = []
    if history is not None:
        previous = history.passing_results(
            n, include=settings.include_result_with_score, exclude_ids=identities(result) | exclude
        )
    notes: list[str] = []
    objectives: list[ObjectiveResult] = []
    for objective in slo.objectives:
        objectives.append(_evaluate_objective(objective, result, previous, resolver, settings.aggregate_function))

    max_score = float(sum(o.weight for o in objectives if o.status != "INFO"))
    achieved = float(sum(o.score for o in objectives))
    pass_at, warn_at = slo.total_score.pass_, slo.total_score.warning
    score_status: Literal["pass", "warning", "fail"]
    if max_score == 0:
        score, score_status = 100.0, "pass"
        notes.append("no objective has pass criteria (all informational); the score is 100")
    else:
        score = 100.0 * achieved / max_score
        score_status = "pass" if score >= pass_at else "warning" if score >= warn_at else "fail"
    if any(o.key and o.status == "FAIL" for o in objectives):
        score_status = "fail"
        notes.append("a key objective failed, which fails the evaluation whatever the score")

    status: GateStatus
    if any(o.critical for o in objectives):
        status = "CRITICAL"
    elif score_status == "fail":
        status = "FAIL"
    elif score_status == "warning" or any(o.status in ("WARNING", "FAIL") for o in objectives):
        status = "WARNING"
    else:
        status = "PASS"
    if score_status == "pass" and status == "WARNING":
        notes.append(f"the score ({score:.2f}%) passes, but not every objective passed")

    report = SloReport(
        slo=slo_name or slo.name or "slo",
        result=ResultRef(
            id=result.id,
            name=result.name,
            source=result.source.path if result.source else None,
            format=result.source.format if result.source else None,
            started_at=result.started_at,
            finished_at=result.finished_at,
            duration_s=result.duration_s,
        ),
        status=status,
        exit_code=GATE_EXIT_CODES[status],
        score=round(score, 4),
        achieved=achieved,
        max_score=max_score,
        score_status=score_status,
        total_score={"pass": pass_at, "warning": warn_at},
        objectives=objectives,
        comparison=ComparisonInfo(
            compare_with=settings.compare_with or "several_results",
            include_result_with_score=settings.include_result_with_score,
            number_of_comparison_results=n,
            aggregate_function=settings.aggregate_function,
            runs=[r.source.path if r.source and r.source.path else r.id for r in previous],
        ),
        notes=notes,
    )
    report.recommendations = recommend(report, result)
    return report


def _evaluate_objective(
    objective: Objective, result: RunResult, previous: list[RunResult], resolver: Resolver, function: str
) -> ObjectiveResult:
    sli = resolver.value(objective, result)
    baseline, used, baseline_notes = _baseline(objective, previous, resolver, function)
    pass_groups = objective.pass_groups()
    warning_groups = objective.warning_groups()
    percent = sli.fraction and objective.written_in_percent
    out = ObjectiveResult(
        id=objective.id,
        title=objective.title,
        sli=sli.label,
        aggregation=sli.aggregation,
        metric=sli.metric,
        unit=sli.unit,
        priority=objective.priority,
        weight=objective.weight,
        key=objective.key,
        value=sli.value,
        baseline=baseline,
        baseline_runs=used,
        status="INFO",
        target=_target_text(pass_groups, baseline, percent, sli.unit),
        notes=list(sli.notes) + baseline_notes,
        percent=percent,
    )
    if sli.value is not None and baseline is not None:
        out.delta = sli.value - baseline
        out.delta_pct = (sli.value - baseline) / abs(baseline) * 100 if baseline else None
    if sli.value is None:
        out.reason = sli.reason or "no value"
        out.pass_criteria = _unchecked(pass_groups, baseline)
        out.warning_criteria = _unchecked(warning_groups, baseline)
        if objective.informational:
            return out
        out.status = "FAIL"
    elif objective.informational:
        return out
    else:
        passed, out.pass_criteria, notes = _check_groups(pass_groups, sli.value, baseline)
        out.notes += notes
        if passed:
            out.status, out.score = "PASS", float(objective.weight)
        else:
            warned, out.warning_criteria, wnotes = _check_groups(warning_groups, sli.value, baseline)
            if warned and warning_groups:
                out.notes += wnotes
                out.status, out.score = "WARNING", objective.weight / 2
            else:
                out.status = "FAIL"
                out.reason = f"{out.show(sli.value)} does not meet {out.target}"
    out.critical = out.status == "FAIL" and (objective.priority == "P0" or objective.key)
    return out


def _baseline(
    objective: Objective, previous: list[RunResult], resolver: Resolver, function: str
) -> tuple[float | None, int, list[str]]:
    """The aggregate of this SLI over earlier runs (runs without a value are left out)."""
    values: list[float] = []
    skipped = 0
    for run in previous:
        try:
            sli: SliValue = resolver.value(objective, run)
        except UsageError:  # an older run may lack a metric the SLO names today
            skipped += 1
            continue
        if sli.value is None:
            skipped += 1
        else:
            values.append(sli.value)
    notes = [f"{skipped} earlier run(s) had no value for this SLI and were left out of the baseline"] if skipped else []
    if not values:
        return None, 0, notes
    return aggregate(values, function), len(values), notes
