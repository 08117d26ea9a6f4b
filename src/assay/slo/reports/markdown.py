"""Markdown fit for a pull-request comment: a headline, one table per result, folded details."""

from __future__ import annotations

from assay.slo.report import SloCheck, SloReport
from assay.slo.reports.common import (
    STATUS_ICONS,
    baseline_line,
    delta_text,
    explanation,
    priority_text,
    result_label,
    summary_line,
    target_text,
    value_text,
)


def cell(text: str) -> str:
    """Table-cell safe: pipes escaped, newlines folded, backticks kept literal."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def code(text: str) -> str:
    fence = "``" if "`" in text else "`"
    pad = " " if "`" in text else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def report_markdown(report: SloReport, level: int = 2) -> str:
    h = "#" * level
    lines = [
        f"{h} {STATUS_ICONS[report.status]} SLO {cell(report.slo)}: {report.status}",
        "",
        f"{code(result_label(report))} \u2014 {summary_line(report)}",
        "",
        f"_{baseline_line(report)}_",
        "",
        "| Status | Objective | Priority | Value | Target | \u0394 baseline | Score |",
        "|---|---|---|---:|---|---:|---:|",
    ]
    for o in report.objectives:
        score = "\u2013" if o.status == "INFO" else f"{o.score:g}/{o.weight}"
        lines.append(
            f"| {STATUS_ICONS[o.code]} {o.code} | {cell(o.title)} | {priority_text(o)} | {cell(value_text(o))} "
            f"| {cell(target_text(o))} | {cell(delta_text(o))} | {score} |"
        )
    lines.append("")
    reasons = [(o, explanation(o)) for o in report.objectives if explanation(o)]
    if reasons:
        for o, why in reasons:
            lines.append(f"- **{cell(o.title)}** ({o.code}): {why}")
        lines.append("")
    for note in report.notes:
        lines.append(f"> {note}")
    if report.notes:
        lines.append("")
    if report.recommendations:
        lines.append(f"<details><summary>Recommendations ({len(report.recommendations)})</summary>")
        lines.append("")
        for rec in report.recommendations:
            lines.append(f"- **{rec.title}**: {rec.hint}")
            for ev in rec.evidence:
                lines.append(f"  - evidence: {ev}")
        lines.append("")
        lines.append("</details>")
        lines.append("")
    return "\n".join(lines)


def render(check: SloCheck) -> str:
    if len(check.evaluations) == 1:
        return report_markdown(check.evaluations[0])
    parts = [f"## {STATUS_ICONS[check.status]} SLO gate: {check.status} ({len(check.evaluations)} results)", ""]
    parts += [report_markdown(r, level=3) for r in check.evaluations]
    return "\n".join(parts)
