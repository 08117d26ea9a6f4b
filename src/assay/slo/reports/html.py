"""A self-contained HTML page: verdicts, objectives, recommendations and a chart of each objective that did not pass.

No external file, font or script is referenced, so the page opens offline and can be
attached to a CI run as one artifact.
"""

from __future__ import annotations

from html import escape

from assay.results import RunResult, parse_metric_name
from assay.slo.report import ObjectiveResult, SloCheck, SloReport
from assay.slo.reports.chart import Chart, chart_series, objective_chart
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

CSS = """
body{font-family:-apple-system,BlinkMacSystemFont,"Segoe UI",Helvetica,Arial,sans-serif;margin:24px;color:#24292f;background:#f6f8fa}
section.result{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:16px 20px;margin-bottom:24px}
h1{font-size:22px;margin:0 0 16px} h2{font-size:18px;margin:0 0 6px} h3{font-size:15px;margin:18px 0 6px}
.badge{display:inline-block;padding:2px 10px;border-radius:12px;font-weight:600;font-size:13px;color:#fff}
.PASS{background:#1a7f37}.WARNING{background:#9a6700}.FAIL{background:#cf222e}.CRITICAL{background:#82071e}.INFO{background:#0969da}
table{border-collapse:collapse;width:100%;font-size:13px;margin-top:8px}
th,td{border-bottom:1px solid #eaeef2;padding:6px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa} td.num{text-align:right;font-variant-numeric:tabular-nums}
.muted{color:#57606a;font-size:13px} li{margin-bottom:6px} .evidence{color:#57606a;font-size:12px}
"""


def _badge(status: str) -> str:
    return f'<span class="badge {status}">{status}</span>'


def _objective_row(o: ObjectiveResult) -> str:
    why = explanation(o)
    score = "&ndash;" if o.status == "INFO" else f"{o.score:g}/{o.weight}"
    return (
        f'<tr data-objective="{escape(o.id)}"><td>{_badge(o.code)}</td><td>{escape(o.title)}'
        + (f'<div class="muted">{escape(why)}</div>' if why else "")
        + f"</td><td>{escape(priority_text(o))}</td><td class=\"num\">{escape(value_text(o))}</td>"
        f"<td>{escape(target_text(o))}</td><td class=\"num\">{escape(delta_text(o))}</td><td class=\"num\">{score}</td></tr>"
    )


def _charts(report: SloReport, result: RunResult | None) -> str:
    """A chart of what each objective that did not pass measures; on a clean run, the latency chart."""
    if result is None or not result.timeseries:
        return '<p class="muted">No per-second time series in this result, so no chart.</p>'
    charts: dict[str, Chart] = {}
    for o in report.objectives:
        chart = objective_chart(o, result) if o.status in ("WARNING", "FAIL") else None
        if chart is not None and chart.series and chart.title not in charts:
            charts[chart.title] = chart
    if not charts:
        latency = [o for o in report.objectives if o.metric and parse_metric_name(o.metric)[0] == "http_req_duration"]
        chart = objective_chart(latency[0], result) if latency else None
        if chart is None and any("http_req_duration" in b.metrics for b in result.timeseries):
            chart = Chart("http_req_duration per second (ms)", "ms", chart_series(result, "http_req_duration", None))
        if chart is not None and chart.series:
            charts[chart.title] = chart
    out = [
        f"<h3>{escape(c.title)}</h3>" + (f'<p class="muted">{escape(c.note)}</p>' if c.note else "") + c.svg()
        for c in charts.values()
    ]
    return "".join(out) or '<p class="muted">No objective has a per-second time series in this result.</p>'


def report_html(report: SloReport, result: RunResult | None) -> str:
    rows = "".join(_objective_row(o) for o in report.objectives)
    recs = "".join(
        f"<li><strong>{escape(r.title)}</strong>: {escape(r.hint)}<ul>"
        + "".join(f'<li class="evidence">evidence: {escape(e)}</li>' for e in r.evidence)
        + "</ul></li>"
        for r in report.recommendations
    )
    notes = "".join(f"<li>{escape(n)}</li>" for n in report.notes)
    return (
        f'<section class="result" data-status="{report.status}">'
        f"<h2>{_badge(report.status)} {escape(result_label(report))}</h2>"
        f'<p class="muted">{escape(summary_line(report))}<br>{escape(baseline_line(report))}</p>'
        "<table><thead><tr><th>Status</th><th>Objective</th><th>Priority</th><th>Value</th><th>Target</th>"
        f"<th>&Delta; baseline</th><th>Score</th></tr></thead><tbody>{rows}</tbody></table>"
        + _charts(report, result)
        + (f"<h3>Notes</h3><ul>{notes}</ul>" if notes else "")
        + (f"<h3>Recommendations</h3><ul>{recs}</ul>" if recs else "")
        + "</section>"
    )


def render(check: SloCheck) -> str:
    results: list[RunResult | None] = list(check.results) or [None] * len(check.evaluations)
    body = "".join(report_html(r, res) for r, res in zip(check.evaluations, results, strict=False))
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>SLO {escape(check.slo)}: {check.status}</title><style>{CSS}</style></head>"
        f"<body><h1>{_badge(check.status)} SLO {escape(check.slo)}</h1>{body}</body></html>\n"
    )
