"""The console report: one rich table per result, then reasons and recommendations."""

from __future__ import annotations

import io

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from assay.slo.report import SloCheck, SloReport
from assay.slo.reports.common import (
    baseline_line,
    delta_text,
    explanation,
    priority_text,
    result_label,
    summary_line,
    target_text,
    value_text,
)

STYLES = {"PASS": "bold green", "WARNING": "bold yellow", "FAIL": "bold red", "CRITICAL": "bold white on red", "INFO": "cyan"}


def report_renderable(report: SloReport) -> RenderableType:
    title = Text.assemble(("SLO ", "bold"), (report.slo, "bold"), " \u2014 ", (report.status, STYLES[report.status]))
    table = Table(title=title, caption=f"{result_label(report)}\n{summary_line(report)}\n{baseline_line(report)}", expand=False)
    table.add_column("Objective", overflow="fold")
    table.add_column("Prio")
    table.add_column("Value", justify="right")
    table.add_column("Target")
    table.add_column("\u0394 baseline", justify="right")
    table.add_column("Score", justify="right")
    table.add_column("Status")
    for o in report.objectives:
        table.add_row(
            o.title,
            priority_text(o),
            value_text(o),
            target_text(o),
            delta_text(o),
            "-" if o.status == "INFO" else f"{o.score:g}/{o.weight}",
            Text(o.code, style=STYLES[o.code]),
        )
    parts: list[RenderableType] = [table]
    reasons = [(o.title, explanation(o), o.code) for o in report.objectives if explanation(o)]
    for name, why, code in reasons:
        parts.append(Text.assemble(("  " + code + " ", STYLES[code]), (name, "bold"), ": ", why))
    for note in report.notes:
        parts.append(Text("  note: " + note, style="dim"))
    if report.recommendations:
        parts.append(Text("Recommendations", style="bold underline"))
        for rec in report.recommendations:
            parts.append(Text.assemble(("  \u2022 ", "bold"), (rec.title, "bold"), f": {rec.hint}"))
            for ev in rec.evidence:
                parts.append(Text("      evidence: " + ev, style="dim"))
    return Group(*parts)


def render(check: SloCheck, console: Console) -> None:
    for report in check.evaluations:
        console.print(report_renderable(report))
        console.print()
    if len(check.evaluations) > 1:
        console.print(Text.assemble("overall: ", (check.status, STYLES[check.status])))


def render_text(check: SloCheck, width: int = 120) -> str:
    buffer = io.StringIO()
    render(check, Console(width=width, file=buffer, color_system=None))
    return buffer.getvalue()
