"""The night as one self-contained HTML page a person reads in a minute.

The verdict first (and why), then every stage and step with its status, duration and the
gate that decided it, then per kind: load charts with thresholds, chaos timelines and
recovery, contracts and can-i-deploy, SLO scores, trend charts with alarms, and links to
every artifact. Inline CSS and SVG only: no script, no CDN, works offline and as a mail
attachment. Charts reuse assay.report (the same charts `assay load` reports draw).
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from assay.plan.outcome import PlanReport, ServiceOutcome, StepOutcome
from assay.report.run_html import CSS as RUN_CSS
from assay.report.run_html import sections as run_sections
from assay.report.svg_chart import line_chart

CSS = RUN_CSS + """
.verdict{border-radius:8px;padding:14px 18px;margin:8px 0 16px;color:#fff}
.verdict h1{margin:0;font-size:26px;color:#fff}.verdict ul{margin:6px 0 0 18px;padding:0}
.v-passed{background:#1a7f37}.v-warning{background:#9a6700}.v-failed,.v-error,.v-aborted{background:#cf222e}
.skipped{background:#8c959f}.running,.pending{background:#0969da}.ready,.stopped,.checked{background:#1a7f37}
.stage td{background:#f6f8fa;font-weight:600}td.gate{color:#57606a;font-size:13px}
.timeline{position:relative;border-left:1px solid #d0d7de;margin:6px 0}
.tl-row{display:flex;align-items:center;height:20px;font-size:12px}.tl-label{width:260px;overflow:hidden;white-space:nowrap}
.tl-bar{position:relative;flex:1;height:12px;background:#f6f8fa}.tl-bar span{position:absolute;height:12px;border-radius:3px}
details{margin:4px 0}summary{cursor:pointer}pre{background:#f6f8fa;padding:8px;overflow:auto;font-size:12px}
"""

KIND_COLOURS = {"action": "#cf222e", "probe": "#1f6feb"}


def _badge(status: str) -> str:
    return f'<span class="status {escape(status)}">{escape(status)}</span>'


def _dur(seconds: float) -> str:
    if seconds >= 90:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.1f} s"


def render(report: PlanReport, run_dir: Path, trend_points: dict[str, list[tuple[str, float]]] | None = None) -> str:
    body = [
        _verdict(report),
        _services(report),
        _steps_table(report),
        _loads(report, run_dir),
        _chaos(report),
        _contracts(report),
        _slos(report),
        _trends(report, trend_points or {}),
        _tests(report),
        _quarantine(report),
        _artifacts(report),
    ]
    title = f"{report.plan}: {report.status}"
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>\n"
        + "\n".join(b for b in body if b)
        + "\n</body></html>\n"
    )


def _verdict(report: PlanReport) -> str:
    words = {"passed": "The night passed", "warning": "The night passed with warnings",
             "failed": "The night failed", "error": "The night failed", "aborted": "The night was interrupted"}
    reasons = "".join(f"<li>{escape(r)}</li>" for r in report.reasons[:20])
    more = f"<li>... and {len(report.reasons) - 20} more</li>" if len(report.reasons) > 20 else ""
    started = report.started_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    return (
        f'<div id="verdict" class="verdict v-{escape(report.status)}"><h1>{escape(words.get(report.status, report.status))}'
        f" ({escape(report.status.upper())})</h1>"
        f"<div>plan <b>{escape(report.plan)}</b>, run {escape(report.run_id)}, started {started}, "
        f"took {_dur(report.duration_s)}; exit {report.exit_code}</div>"
        + (f"<ul>{reasons}{more}</ul>" if reasons else "")
        + "</div>"
        + (f'<p class="meta">{escape(report.description)}</p>' if report.description else "")
    )


def _services(report: PlanReport) -> str:
    if not report.services:
        return ""
    rows = []
    for s in report.services:
        log = f'<a href="{escape(s.log)}">log</a>' if s.log else ""
        ready = f"{s.ready_after_s:.1f} s" if s.ready_after_s is not None else ""
        rows.append(f"<tr><td>{escape(s.name)}{' (' + escape(s.stage) + ')' if s.stage else ''}</td><td>{_badge(s.status)}</td>"
                    f"<td>{escape(s.url or '')}</td><td class='n'>{ready}</td><td>{log}</td>"
                    f"<td class='gate'>{escape(s.error[:300])}</td></tr>")
        if s.resources:
            rows.append(f"<tr><td></td><td colspan='5' class='gate'>{escape(_resources_line(s))} "
                        f'(<a href="{escape(s.resources)}">resources</a>)</td></tr>')
    return ("<h2>Services</h2><table><tr><th>service</th><th>status</th><th>url</th><th class='n'>ready after</th>"
            "<th>log</th><th>error</th></tr>" + "".join(rows) + "</table>")


def _resources_line(s: ServiceOutcome) -> str:
    """Peaks over the night, and any leak verdict, for a service the plan sampled."""
    from assay.observe.leak import human

    labels = {"proc_rss_bytes": "RSS", "proc_uss_bytes": "USS", "proc_open_fds": "fds", "proc_threads": "threads",
              "proc_tcp_connections": "TCP connections", "proc_cpu_percent": "CPU %"}
    parts = [f"{labels.get(base, base)} {human(v, 'B') if base.endswith('_bytes') else f'{v:.4g}'}"
             for base, v in s.peaks.items()]
    text = "peak " + ", ".join(parts) if parts else "no readings"
    return text + ("; " + "; ".join(s.leaks) if s.leaks else "")


def _steps_table(report: PlanReport) -> str:
    rows = []
    for stage in report.stages:
        extra = " (continue-on-error)" if stage.continue_on_error else ""
        rows.append(f'<tr class="stage"><td colspan="2">{escape(stage.key)}{extra}</td><td>{_badge(stage.status)}</td>'
                    f"<td class='n'>{_dur(stage.duration_s)}</td><td class='gate'>{escape(stage.reason)}</td></tr>")
        for step in stage.steps:
            gate = step.deciding_gate
            decided = (f"{escape(gate.name)}" + (f": {escape(gate.detail)}" if gate.detail else "")) if gate else ""
            why = escape(step.reason)
            notes = []
            if step.retried:
                notes.append(f"{len(step.attempts)} attempts")
            if step.quarantined:
                notes.append("quarantined")
            if step.messages_lost:
                notes.append(f"{step.messages_lost} messages lost")
            note = f" <i>({', '.join(notes)})</i>" if notes else ""
            rows.append(f'<tr><td>&nbsp;&nbsp;<a href="#step-{_anchor(step)}">{escape(step.name)}</a>{note}</td>'
                        f"<td>{escape(step.kind)}</td><td>{_badge(step.status)}</td><td class='n'>{_dur(step.duration_s)}</td>"
                        f"<td class='gate'>{decided}{'<br>' if decided and why else ''}{why}</td></tr>")
    return ("<h2>Stages and steps</h2><table><tr><th>step</th><th>kind</th><th>status</th><th class='n'>duration</th>"
            "<th>deciding gate</th></tr>" + "".join(rows) + "</table>")


def _anchor(step: StepOutcome) -> str:
    return "".join(c if c.isalnum() else "-" for c in step.key)


def _steps_of(report: PlanReport, kind: str) -> list[StepOutcome]:
    return [s for s in report.steps() if s.kind == kind and s.status not in ("skipped", "pending")]


def _loads(report: PlanReport, run_dir: Path) -> str:
    from assay.formats import load_result

    parts = []
    for step in _steps_of(report, "load"):
        parts.append(f'<h2 id="step-{_anchor(step)}">Load: {escape(step.key)} {_badge(step.status)}</h2>')
        for rel in step.results:
            try:
                result = load_result(run_dir / rel)
            except Exception as exc:  # an unreadable result is named, not fatal
                parts.append(f"<p class='note'>{escape(rel)}: {escape(str(exc))}</p>")
                continue
            d = step.details
            cards = []
            for label, metric, key, fmt in (("requests", "http_reqs", "count", "{:.0f}"), ("req/s", "http_reqs", "rate", "{:.1f}"),
                                            ("p95", "http_req_duration", "p(95)", "{:.1f} ms"),
                                            ("errors", "http_req_failed", "rate", "{:.2%}")):
                value = (d.get(metric) or {}).get(key)
                if value is not None:
                    cards.append(f'<div class="card">{label}<b>{fmt.format(value)}</b></div>')
            parts.append(f'<div class="cards">{"".join(cards)}</div>')
            parts.append(run_sections(result).replace("<h2>", "<h3>").replace("</h2>", "</h3>"))
    return "".join(parts)


def _chaos(report: PlanReport) -> str:
    parts = []
    for step in _steps_of(report, "chaos"):
        d = step.details
        rec = d.get("recovery") or {}
        ttr = rec.get("time_to_recover_s")
        head = f'<h2 id="step-{_anchor(step)}">Chaos: {escape(str(d.get("title") or step.key))} {_badge(step.status)}</h2>'
        facts = [f"experiment {escape(str(d.get('status')))}", "deviated" if d.get("deviated") else "did not deviate"]
        if rec:
            facts.append(f"recovered in {ttr:.1f} s" if isinstance(ttr, int | float) else "did not recover")
            if rec.get("target_s") is not None:
                facts.append(f"target {rec.get('target_s')} s")
        timeline = d.get("timeline") or []
        end = max([r["end_s"] for r in timeline] + [1.0])
        rows = []
        for r in timeline:
            left = 100 * r["start_s"] / end
            width = max(0.5, 100 * (r["end_s"] - r["start_s"]) / end)
            colour = KIND_COLOURS.get(r["type"], "#8250df") if r.get("status") == "succeeded" else "#bf8700"
            rows.append(f'<div class="tl-row"><div class="tl-label">{escape(r["phase"])}: {escape(r["name"])}</div>'
                        f'<div class="tl-bar"><span style="left:{left:.1f}%;width:{width:.1f}%;background:{colour}" '
                        f'title="{r["start_s"]:.1f}s - {r["end_s"]:.1f}s {escape(str(r.get("status")))}"></span></div></div>')
        gates = "".join(f"<tr><td>{escape(g.name)}</td><td>{_badge(g.status)}</td><td>{escape(g.detail)}</td></tr>" for g in step.gates)
        load = d.get("load") or {}
        load_rows = "".join(
            f"<tr><td>{escape(str(phase))}</td><td class='n'>{_num(v.get('requests'))}</td>"
            f"<td class='n'>{_pct(v.get('availability'))}</td><td class='n'>{_pct(v.get('error_rate'))}</td>"
            f"<td class='n'>{_num(v.get('p95_ms'))}</td></tr>"
            for phase, v in load.items() if isinstance(v, dict))
        if load_rows:
            gates += ("</table><h3>Background load by phase</h3><table><tr><th>phase</th><th class='n'>requests</th>"
                      "<th class='n'>availability</th><th class='n'>errors</th><th class='n'>p95 ms</th></tr>" + load_rows)
        parts.append(head + f"<p>{', '.join(facts)}</p>"
                     + (f'<div class="timeline">{"".join(rows)}</div><p class="meta">timeline: 0 - {end:.1f} s</p>' if rows else "")
                     + (f"<table><tr><th>gate</th><th>status</th><th></th></tr>{gates}</table>" if gates else ""))
    return "".join(parts)


def _contracts(report: PlanReport) -> str:
    parts = []
    for step in _steps_of(report, "contract-verify") + _steps_of(report, "publish") + _steps_of(report, "can-i-deploy"):
        gates = "".join(f"<tr><td>{escape(g.name)}</td><td>{_badge(g.status)}</td><td class='gate'>{escape(g.detail[:300])}</td></tr>"
                        for g in step.gates)
        extra = ""
        if step.kind == "can-i-deploy":
            d = step.details
            extra = f"<p>deployable: <b>{escape(str(d.get('deployable')))}</b> {escape(str(d.get('reason') or ''))}</p>"
        parts.append(f'<h3 id="step-{_anchor(step)}">{escape(step.kind)}: {escape(step.key)} {_badge(step.status)}</h3>{extra}'
                     + (f"<table><tr><th>gate</th><th>status</th><th></th></tr>{gates}</table>" if gates else ""))
    return ("<h2>Contracts</h2>" + "".join(parts)) if parts else ""


def _slos(report: PlanReport) -> str:
    parts = []
    for step in _steps_of(report, "slo"):
        for score in step.details.get("scores", []):
            rows = "".join(
                f"<tr><td>{escape(str(o.get('id')))}</td><td>{escape(str(o.get('title')))}</td>"
                f"<td class='n'>{escape(o['shown']) if o.get('shown') else _num(o.get('value'))}</td>"
                f"<td>{escape(str(o.get('target') or ''))}</td>"
                f"<td>{_badge({'PASS': 'passed', 'WARNING': 'warning', 'FAIL': 'failed', 'CRITICAL': 'failed'}.get(str(o.get('code')), 'skipped'))}"
                f" {escape(str(o.get('code')))}</td></tr>"
                for o in score.get("objectives", []))
            parts.append(f'<h3 id="step-{_anchor(step)}">SLO {escape(str(step.details.get("slo")))} on {escape(str(score.get("result")))}: '
                         f"{escape(str(score.get('status')))}, score {_num(score.get('score'))}</h3>"
                         f"<table><tr><th>id</th><th>objective</th><th class='n'>value</th><th>target</th><th>verdict</th></tr>{rows}</table>")
    return ("<h2>SLO scores</h2>" + "".join(parts)) if parts else ""


def _pct(value: Any) -> str:
    return f"{100 * value:.1f}%" if isinstance(value, int | float) and not isinstance(value, bool) else "–"


def _num(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, int | float) and not isinstance(value, bool) else escape(str(value if value is not None else "–"))


def _trends(report: PlanReport, points: dict[str, list[tuple[str, float]]]) -> str:
    parts = []
    for scenario, series in points.items():
        if len(series) < 2:
            continue
        pts = [(float(i + 1), v) for i, (_, v) in enumerate(series)]
        parts.append(line_chart([("p(95) ms", "#8250df", pts)], title=f"{scenario}: http_req_duration p(95), last {len(series)} runs",
                                unit="ms", x_unit=" "))
    for step in _steps_of(report, "trend-detect"):
        d = step.details
        alarms = "".join(f"<li>{escape(g.name)}: {escape(g.detail)}</li>" for g in step.gates if g.status == "failed")
        notes = "".join(f"<li>{escape(str(n))}</li>" for n in d.get("notes", [])[:10])
        html_link = next((a for a in step.artifacts if a.endswith("trend.html")), None)
        parts.append(f'<h3 id="step-{_anchor(step)}">trend-detect {escape(step.key)} {_badge(step.status)}: '
                     f"{int(d.get('regressions') or 0)} regression(s), {len(d.get('series') or [])} series judged</h3>"
                     + (f"<ul>{alarms}</ul>" if alarms else "<p>no open alarms</p>")
                     + (f"<ul class='meta'>{notes}</ul>" if notes else "")
                     + (f'<p><a href="{escape(html_link)}">interactive trend page</a></p>' if html_link else ""))
    return ("<h2>Trends</h2>" + "".join(parts)) if parts else ""


def _tests(report: PlanReport) -> str:
    rows = []
    for step in report.steps():
        for t in step.tests:
            if step.kind == "contract-verify":
                continue
            rows.append(f"<tr><td>{escape(step.key)}</td><td>{escape(t.classname + '.' if t.classname else '')}{escape(t.name)}"
                        f"{' <i>(quarantined)</i>' if t.quarantined else ''}</td><td>{_badge(t.status)}</td>"
                        f"<td class='gate'>{escape(t.message[:200])}</td></tr>")
    if not rows:
        return ""
    return "<h2>Tests</h2><table><tr><th>step</th><th>test</th><th>status</th><th></th></tr>" + "".join(rows[:500]) + "</table>"


def _quarantine(report: PlanReport) -> str:
    """What the quarantine list held this night: it ran, it is shown, it could not fail the night."""
    if not report.quarantined:
        return ""
    hits = [f"<li>step {escape(s.key)}: {_badge(s.status)}</li>" for s in report.steps() if s.quarantined]
    hits += [f"<li>test {escape(t.classname + '.' if t.classname else '')}{escape(t.name)} in {escape(s.key)}: {_badge(t.status)}</li>"
             for s in report.steps() for t in s.tests if t.quarantined]
    patterns = ", ".join(f"<code>{escape(q)}</code>" for q in report.quarantined)
    return (f"<h2>Quarantined</h2><p>the plan quarantines {patterns}: these run and are reported but cannot fail the night.</p>"
            + (f"<ul>{''.join(hits)}</ul>" if hits else "<p>nothing quarantined ran tonight</p>"))


def _artifacts(report: PlanReport) -> str:
    items = ['<li><a href="report.json">report.json</a>, <a href="report.md">report.md</a>, '
             '<a href="junit.xml">junit.xml</a>, the plan as run</li>']
    for step in report.steps():
        if step.artifacts:
            links = ", ".join(f'<a href="{escape(a)}">{escape(a.rsplit("/", 1)[-1])}</a>' for a in step.artifacts[:40])
            items.append(f"<li>{escape(step.key)}: {links}</li>")
    for s in report.services:
        if s.log:
            items.append(f'<li>service {escape(s.name)}: <a href="{escape(s.log)}">log</a></li>')
    return f"<h2>Artifacts</h2><p class='meta'>in {escape(report.artifacts_dir)}</p><ul>{''.join(items)}</ul>"


def trend_points(report: PlanReport, store_url: str | None, last: int = 20) -> dict[str, list[tuple[str, float]]]:
    """p(95) of each load step's scenario over the last nights, from the trend store."""
    scenarios = []
    for step in _steps_of(report, "load"):
        scenarios.append(f"{report.plan}.{step.stage}.{step.name}")
    if not scenarios or report.trend_store is None:
        return {}
    from assay.trends.store import open_store

    out: dict[str, list[tuple[str, float]]] = {}
    with open_store(store_url) as store:
        for scenario in scenarios:
            runs = store.runs(scenario=scenario)[-last:]
            points = store.points("http_req_duration", runs)
            series = []
            for run in runs:
                got = points.get(run.pk)
                if got and got[1].get("p(95)") is not None:
                    series.append((run.run_id, float(got[1]["p(95)"])))
            out[scenario] = series
    return out


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, default=str)


__all__ = ["render", "trend_points"]
