"""Wording shared by every renderer, so the console, Markdown and HTML say the same thing."""

from __future__ import annotations

from assay.slo.criteria import format_value
from assay.slo.report import ObjectiveResult, SloReport

STATUS_ICONS = {"PASS": "\u2705", "WARNING": "\u26a0\ufe0f", "FAIL": "\u274c", "CRITICAL": "\U0001f6d1", "INFO": "\u2139\ufe0f"}


def value_text(o: ObjectiveResult) -> str:
    return o.show(o.value)


def delta_text(o: ObjectiveResult) -> str:
    if o.baseline is None:
        return "\u2013"
    if o.delta is None:
        return f"baseline {o.show(o.baseline)}"
    pct = f" ({o.delta_pct:+.1f}%)" if o.delta_pct is not None else ""
    return f"{o.show_change(o.delta)}{pct} vs {o.show(o.baseline)}"


def target_text(o: ObjectiveResult) -> str:
    return o.target or "info only"


def priority_text(o: ObjectiveResult) -> str:
    return f"{o.priority} key" if o.key else o.priority


def summary_line(report: SloReport) -> str:
    counts = report.counts()
    parts = [f"{n} {k.lower()}" for k, n in counts.items() if n]
    return (
        f"score {report.score:.2f}% (pass \u2265 {format_value(report.total_score['pass'])}%, "
        f"warning \u2265 {format_value(report.total_score['warning'])}%) \u00b7 {report.achieved:g} of {report.max_score:g} points \u00b7 "
        + ", ".join(parts)
    )


def baseline_line(report: SloReport) -> str:
    c = report.comparison
    if not c.runs:
        return "baseline: no earlier runs (relative criteria pass, as in Keptn)"
    return (
        f"baseline: {c.aggregate_function} of {len(c.runs)} earlier run(s) "
        f"(include {c.include_result_with_score}, up to {c.number_of_comparison_results})"
    )


def result_label(report: SloReport) -> str:
    return report.result.source or report.result.name


def explanation(o: ObjectiveResult) -> str:
    """Why an objective is not a clean pass, in one line (empty for a pass)."""
    if o.reason:
        return o.reason
    if o.status == "WARNING":
        return f"{value_text(o)} misses the pass target {o.target} but meets the warning target"
    return ""
