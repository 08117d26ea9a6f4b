"""The chaos run as one self-contained HTML page: faults, probes, background load and recovery on
one time axis (inline SVG, no script, no external file), from the journal alone.

Panels share the x axis (seconds from the run's start): the phases and fault windows as bands
over every panel; latency p50/p95, throughput and error rate of the background load per
segment; a lane of probe marks (hypothesis, guard probe, recovery checks: green met, red not);
time to detect and time to recover drawn as brackets.
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any

WIDTH, LEFT, RIGHT = 1100, 70, 20
PANEL_H, GAP = 120, 28
PHASE_COLOURS = {"before": "#e8f4ea", "during": "#fdecea", "recovery": "#fff6db", "after": "#e8f0fb", "transition": "#f2f2f2"}


def _ts(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return datetime.fromisoformat(str(value)).timestamp()
    except ValueError:
        return None


def _probe_marks(journal: dict[str, Any]) -> list[tuple[float, bool, str]]:
    marks: list[tuple[float, bool, str]] = []
    for phase in ("before", "after"):
        state = journal["steady_states"].get(phase) or {}
        for p in state.get("probes", []):
            t = _ts(p.get("start"))
            if t is not None:
                marks.append((t, bool(p.get("tolerance_met")), f"hypothesis {phase}: {p['activity'].get('name')}"))
    for state in journal["steady_states"].get("during") or []:
        for p in (state or {}).get("probes", []):
            t = _ts(p.get("start"))
            if t is not None:
                marks.append((t, bool(p.get("tolerance_met", p.get("status") == "succeeded")),
                              f"hypothesis during: {p['activity'].get('name')}"))
    extra = journal.get("x-assay") or {}
    for t, ok in (extra.get("guard_probe") or {}).get("samples", []):
        marks.append((float(t), bool(ok), "guard probe"))
    for t, ok in (extra.get("recovery") or {}).get("checks", []):
        marks.append((float(t), bool(ok), "recovery check"))
    return marks


def _phases(journal: dict[str, Any], t0: float, t1: float) -> list[tuple[str, float, float]]:
    """Phase spans from the activities and faults: before, during (method), recovery, after."""
    run = [e for e in journal.get("run", []) if _ts(e.get("start")) is not None]
    extra = journal.get("x-assay") or {}
    if not run:
        return [("before", t0, t1)]
    m0 = min(_ts(e["start"]) or t0 for e in run)
    m1 = max(_ts(e.get("end")) or m0 for e in run)
    reverted = [f.get("reverted_at") for f in extra.get("faults") or [] if f.get("reverted_at")]
    m1 = max([m1, *(float(r) for r in reverted)])
    spans = [("before", t0, m0), ("during", m0, m1)]
    rec = extra.get("recovery") or {}
    checks = rec.get("checks") or []
    if checks:
        r1 = float(checks[-1][0])
        spans.append(("recovery", m1, r1))
        m1 = r1
    spans.append(("after", m1, t1))
    return [(name, a, b) for name, a, b in spans if b > a]


def render(journal: dict[str, Any]) -> str:
    t0 = _ts(journal.get("start")) or 0.0
    t1 = _ts(journal.get("end")) or t0 + float(journal.get("duration") or 1.0)
    extra = journal.get("x-assay") or {}
    segments = [s for s in extra.get("load_timeline") or [] if s.get("start") and s.get("end")]
    span = max(t1 - t0, 1e-3)
    plot_w = WIDTH - LEFT - RIGHT

    def x(t: float) -> float:
        return LEFT + (min(max(t, t0), t1) - t0) / span * plot_w

    panels = [("latency (ms)", "latency"), ("throughput (req/s)", "rps"), ("error rate (%)", "errors"), ("probes", "probes"),
              ("faults", "faults")]
    height = len(panels) * (PANEL_H + GAP) + 80
    out: list[str] = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" role="img" '
                      f'aria-label="chaos timeline" font-family="sans-serif" font-size="11">']
    top_all, bottom_all = 40, 40 + len(panels) * (PANEL_H + GAP) - GAP
    for name, a, b in _phases(journal, t0, t1):
        out.append(f'<rect class="phase" x="{x(a):.1f}" y="{top_all}" width="{max(x(b) - x(a), 0.5):.1f}" '
                   f'height="{bottom_all - top_all}" fill="{PHASE_COLOURS.get(name, "#eee")}"><title>{name}: '
                   f'{a - t0:.1f}s to {b - t0:.1f}s</title></rect>')
        if x(b) - x(a) > 40:  # a label only where it fits
            out.append(f'<text x="{x(a) + 3:.1f}" y="{top_all - 24}" fill="#555">{name}</text>')
    for f in extra.get("faults") or []:
        a, b = float(f["injected_at"]), float(f.get("reverted_at") or t1)
        out.append(f'<rect class="fault-band" x="{x(a):.1f}" y="{top_all}" width="{max(x(b) - x(a), 1):.1f}" '
                   f'height="{bottom_all - top_all}" fill="#d93025" fill-opacity="0.12"><title>{html.escape(str(f["label"]))}: '
                   f'{a - t0:.1f}s to {b - t0:.1f}s</title></rect>')
    for i, (title, key) in enumerate(panels):
        top = 40 + i * (PANEL_H + GAP)
        bottom = top + PANEL_H
        out.append(f'<rect x="{LEFT}" y="{top}" width="{plot_w}" height="{PANEL_H}" fill="none" stroke="#bbb"/>')
        out.append(f'<text x="{LEFT}" y="{top - 5}" fill="#333" font-weight="bold">{title}</text>')
        if key in ("latency", "rps", "errors"):
            out += _series(key, segments, x, top, bottom)
        elif key == "probes":
            for t, ok, label in _probe_marks(journal):
                colour = "#188038" if ok else "#d93025"
                lane = {"guard probe": 0.25, "recovery check": 0.75}.get(label, 0.5)
                out.append(f'<circle class="probe {"met" if ok else "missed"}" cx="{x(t):.1f}" cy="{top + PANEL_H * lane:.1f}" '
                           f'r="4" fill="{colour}"><title>{html.escape(label)} at {t - t0:.2f}s: '
                           f'{"met" if ok else "NOT met"}</title></circle>')
            out.append(f'<text x="{LEFT + 4}" y="{top + PANEL_H * 0.25 - 8:.1f}" fill="#777">guard</text>')
            out.append(f'<text x="{LEFT + 4}" y="{top + PANEL_H * 0.5 - 8:.1f}" fill="#777">hypothesis</text>')
            out.append(f'<text x="{LEFT + 4}" y="{top + PANEL_H * 0.75 - 8:.1f}" fill="#777">recovery</text>')
        else:
            for n, f in enumerate(extra.get("faults") or []):
                a, b = float(f["injected_at"]), float(f.get("reverted_at") or t1)
                y = top + 8 + (n % 5) * 22
                out.append(f'<rect class="fault" x="{x(a):.1f}" y="{y}" width="{max(x(b) - x(a), 2):.1f}" height="16" fill="#d93025">'
                           f'<title>{html.escape(str(f["label"]))}</title></rect>')
                out.append(f'<text x="{x(a) + 3:.1f}" y="{y + 12}" fill="#fff">{html.escape(str(f["label"]))[:40]}</text>')
            out += _brackets(extra, x, t0, top, bottom)
    for k in range(0, 11):
        t = t0 + span * k / 10
        out.append(f'<text x="{x(t):.1f}" y="{bottom_all + 16}" text-anchor="middle" fill="#555">{t - t0:.1f}s</text>')
    out.append("</svg>")
    return _page(journal, "\n".join(out))


def _series(key: str, segments: list[dict[str, Any]], x: Any, top: float, bottom: float) -> list[str]:
    points: dict[str, list[tuple[float, float]]] = {}
    for s in segments:
        mid = (float(s["start"]) + float(s["end"])) / 2
        seconds = max(float(s["end"]) - float(s["start"]), 1e-3)
        if key == "latency":
            for name in ("p50_ms", "p95_ms"):
                if s.get(name) is not None:
                    points.setdefault(name, []).append((mid, float(s[name])))
        elif key == "rps":
            points.setdefault("rps", []).append((mid, float(s.get("requests") or 0) / seconds))
        elif s.get("error_rate") is not None:
            points.setdefault("errors", []).append((mid, float(s["error_rate"]) * 100))
    if not points:
        return [f'<text x="{LEFT + 8}" y="{(top + bottom) / 2:.1f}" fill="#999">no background load</text>']
    high = max((v for pts in points.values() for _t, v in pts), default=1.0) or 1.0
    if key == "errors":
        high = 100.0
    colours = {"p50_ms": "#1a73e8", "p95_ms": "#e37400", "rps": "#188038", "errors": "#d93025"}
    out = [f'<text x="{LEFT - 6}" y="{top + 12}" text-anchor="end" fill="#999">{high:.0f}</text>',
           f'<text x="{LEFT - 6}" y="{bottom}" text-anchor="end" fill="#999">0</text>']
    for name, pts in points.items():
        path = " ".join(f"{x(t):.1f},{bottom - (v / high) * (bottom - top - 4):.1f}" for t, v in pts)
        out.append(f'<polyline class="series {name}" points="{path}" fill="none" stroke="{colours[name]}" stroke-width="1.6">'
                   f'<title>{name}</title></polyline>')
    if key == "latency":
        out.append(f'<text x="{WIDTH - RIGHT - 4}" y="{top + 12}" text-anchor="end" fill="#1a73e8">p50</text>')
        out.append(f'<text x="{WIDTH - RIGHT - 4}" y="{top + 24}" text-anchor="end" fill="#e37400">p95</text>')
    return out


def _brackets(extra: dict[str, Any], x: Any, t0: float, top: float, bottom: float) -> list[str]:
    out: list[str] = []
    det = extra.get("detection") or {}
    y = bottom - 28
    if det.get("detected_at") is not None:
        a, b = float(det["injected_at"]), float(det["detected_at"])
        out.append(f'<line class="ttd" x1="{x(a):.1f}" y1="{y}" x2="{x(b):.1f}" y2="{y}" stroke="#6a1b9a" stroke-width="2"/>')
        out.append(f'<text x="{x(a):.1f}" y="{y - 4}" fill="#6a1b9a">time to detect {det["time_to_detect_s"]:.2f}s '
                   f'({html.escape(str(det["detected_by"]))})</text>')
    rec = extra.get("recovery") or {}
    if rec.get("recovered") and rec.get("time_to_recover_s") is not None:
        a = float(rec["reverted_at"])
        b = a + float(rec["time_to_recover_s"])
        y = bottom - 8
        out.append(f'<line class="ttr" x1="{x(a):.1f}" y1="{y}" x2="{x(b) + 1:.1f}" y2="{y}" stroke="#188038" stroke-width="2"/>')
        out.append(f'<text x="{x(a):.1f}" y="{y - 4}" fill="#188038">time to recover {rec["time_to_recover_s"]:.2f}s</text>')
    return out


def _page(journal: dict[str, Any], svg: str) -> str:
    from assay.chaos.reports import to_markdown_rows

    extra = journal.get("x-assay") or {}
    verdict = "deviated" if journal.get("deviated") else str(journal.get("status"))
    rows = "".join(f"<tr><td>{html.escape(a)}</td><td>{html.escape(b)}</td><td class=\"{'ok' if c == 'ok' else 'bad'}\">"
                   f"{html.escape(c)}</td><td>{html.escape(d)}</td></tr>" for a, b, c, d in to_markdown_rows(journal))
    rec, det = extra.get("recovery") or {}, extra.get("detection") or {}
    facts = [("status", verdict), ("duration", f"{float(journal.get('duration') or 0):.2f}s")]
    if det.get("time_to_detect_s") is not None:
        facts.append(("time to detect", f"{det['time_to_detect_s']:.2f}s by {det['detected_by']}"))
    if rec:
        facts.append(("time to recover", f"{rec['time_to_recover_s']:.2f}s" if rec.get("time_to_recover_s") is not None
                      else "not recovered"))
    if extra.get("guard"):
        facts.append(("aborted by", str(extra["guard"])))
    fact_html = "".join(f"<div><b>{html.escape(k)}</b> {html.escape(v)}</div>" for k, v in facts)
    title = html.escape(str(journal["experiment"].get("title")))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>chaos: {title}</title>
<style>
body {{ font-family: sans-serif; margin: 24px; color: #222; }}
.facts {{ display: flex; gap: 24px; margin: 8px 0 16px; }}
table {{ border-collapse: collapse; margin-top: 16px; }}
td, th {{ border: 1px solid #ddd; padding: 4px 8px; text-align: left; }}
td.ok {{ color: #188038; }} td.bad {{ color: #d93025; }}
</style></head><body>
<h1>{title}</h1>
<div class="facts">{fact_html}</div>
{svg}
<table><thead><tr><th>step</th><th>name</th><th>result</th><th>duration</th></tr></thead><tbody>{rows}</tbody></table>
</body></html>
"""
