"""One run as a self-contained HTML page, as k6 users get from k6-reporter or the web dashboard.

Summary, thresholds, checks, a per-endpoint table, latency percentiles, and throughput,
errors and latency over time. Works offline: inline CSS and inline SVG, no script and no
remote resource, so it can be attached to a CI job or mailed as is. Reads only the RunResult
(assay's own runs, and k6's files once read into one).
"""

from __future__ import annotations

import math
from html import escape

from assay.report.console import format_bytes, format_duration_ms, format_number
from assay.results import Contains, Histogram, Metric, MetricType, RunResult, parse_metric_name, percentile_of

THROUGHPUT_COLOUR = "#1f6feb"
ERROR_COLOUR = "#d1242f"
P95_COLOUR = "#8250df"
P99_COLOUR = "#bf8700"
PERCENTILES = ("med", "p(90)", "p(95)", "p(99)", "p(99.9)", "max")
WIDTH, HEIGHT = 880, 260
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 28, 40

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#24292f;margin:24px auto;max-width:960px;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
.meta{color:#57606a}.status{display:inline-block;padding:2px 10px;border-radius:12px;color:#fff;font-weight:600}
.passed{background:#1a7f37}.warning{background:#9a6700}.failed,.error{background:#cf222e}.aborted{background:#6e7781}
table{border-collapse:collapse;width:100%;margin:4px 0}th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eaeef2}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}.ok{color:#1a7f37;font-weight:600}.bad{color:#cf222e;font-weight:600}
.cards{display:flex;flex-wrap:wrap;gap:12px}.card{border:1px solid #d0d7de;border-radius:6px;padding:8px 14px;min-width:130px}
.card b{display:block;font-size:20px}.note{background:#fff8c5;border:1px solid #d4a72c;border-radius:6px;padding:8px 12px;margin:6px 0}
svg{max-width:100%;height:auto}
"""


def render(result: RunResult) -> str:
    """The whole page."""
    title = f"{result.name}: load test report"
    body = [
        f"<h1>{escape(result.name)}</h1>",
        f'<p class="meta"><span class="status {escape(result.status.value)}">{escape(result.status.value)}</span> '
        f"{escape(result.tool)}, {result.duration_s:.1f} s"
        + (f", started {escape(result.started_at.strftime('%Y-%m-%d %H:%M:%S %Z'))}" if result.started_at else "")
        + "</p>",
        _cards(result),
        _notes(result),
        _thresholds(result),
        _checks(result),
        _percentiles(result),
        _endpoints(result),
        _failures(result),
        _charts(result),
    ]
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>\n"
        + "\n".join(b for b in body if b)
        + "\n</body></html>\n"
    )


# -- sections ------------------------------------------------------------------------------------


def _cards(result: RunResult) -> str:
    cards: list[tuple[str, str]] = []
    reqs = result.metrics.get("http_reqs")
    if reqs is not None:
        rate = result.stat("http_reqs", "rate")
        cards.append(("requests", format_number(reqs.sum) + (f" <small>({rate:.1f}/s)</small>" if rate else "")))
    failed = result.metrics.get("http_req_failed")
    if failed is not None and failed.count:
        cards.append(("failed", f"{100.0 * failed.passes / failed.count:.2f}%"))
    for key in ("p(95)", "p(99)"):
        v = result.stat("http_req_duration", key)
        if v is not None:
            cards.append((f"latency {key}", format_duration_ms(v)))
    it = result.metrics.get("iterations")
    if it is not None:
        cards.append(("iterations", format_number(it.sum)))
    vus = result.metrics.get("vus")
    if vus is not None and vus.max is not None:
        cards.append(("VUs (max)", format_number(vus.max)))
    checks = result.metrics.get("checks")
    if checks is not None and checks.count:
        cards.append(("checks", f"{100.0 * checks.passes / checks.count:.2f}%"))
    if not cards:
        return ""
    items = "".join(f'<div class="card">{escape(label)}<b>{value}</b></div>' for label, value in cards)
    return f'<h2>Summary</h2><div class="cards">{items}</div>'


def _notes(result: RunResult) -> str:
    notes = [n for n in result.notes if n]
    return "".join(f'<div class="note">{escape(n)}</div>' for n in notes)


def _thresholds(result: RunResult) -> str:
    rows = []
    for name, t in result.thresholds():
        verdict = '<span class="ok">passed</span>' if t.ok else '<span class="bad">crossed</span>' if t.ok is False else "not evaluated"
        observed = "" if t.observed is None else _value(result.metrics[name], _agg_of(t.source), t.observed)
        rows.append(f"<tr><td>{escape(name)}</td><td><code>{escape(t.source)}</code></td><td class=\"n\">{observed}</td><td>{verdict}</td></tr>")
    if not rows:
        return ""
    return '<h2>Thresholds</h2><table><tr><th>metric</th><th>threshold</th><th class="n">observed</th><th>verdict</th></tr>' + "".join(rows) + "</table>"


def _checks(result: RunResult) -> str:
    if not result.checks:
        return ""
    rows = []
    for c in sorted(result.checks, key=lambda c: c.path or c.name):
        cls = "ok" if c.fails == 0 else "bad"
        where = c.group_path.replace("::", " › ").strip(" ›")
        rows.append(
            f"<tr><td>{escape(where)}</td><td>{escape(c.name)}</td><td class=\"n\">{c.passes}</td><td class=\"n\">{c.fails}</td>"
            f'<td class="n {cls}">{100.0 * c.rate:.2f}%</td></tr>'
        )
    return ('<h2>Checks</h2><table><tr><th>group</th><th>check</th><th class="n">passed</th><th class="n">failed</th>'
            '<th class="n">rate</th></tr>' + "".join(rows) + "</table>")


def _percentiles(result: RunResult) -> str:
    rows = []
    for name in ("http_req_duration", "http_req_corrected_duration", "iteration_duration", "http_req_waiting", "http_req_connecting"):
        m = result.metrics.get(name)
        if m is None or m.count == 0:
            continue
        cells = "".join(f'<td class="n">{_pct(result, name, key)}</td>' for key in PERCENTILES)
        rows.append(f"<tr><td>{escape(name)}</td><td class=\"n\">{format_number(m.count)}</td>{cells}</tr>")
    if not rows:
        return ""
    head = "".join(f'<th class="n">{k}</th>' for k in PERCENTILES)
    return f'<h2>Latency percentiles</h2><table><tr><th>metric</th><th class="n">count</th>{head}</tr>' + "".join(rows) + "</table>"


def _endpoints(result: RunResult) -> str:
    names = sorted({parse_metric_name(n)[1]["name"] for n in result.metrics if n.startswith("http_reqs{name:")})
    if not names:
        return ""
    rows = []
    for name in names:
        reqs = result.metrics[f"http_reqs{{name:{name}}}"]
        failed = result.metrics.get(f"http_req_failed{{name:{name}}}")
        dur = f"http_req_duration{{name:{name}}}"
        pct_failed = 100.0 * failed.passes / failed.count if failed is not None and failed.count else 0.0
        cls = "bad" if pct_failed else ""
        cells = "".join(f'<td class="n">{_pct(result, dur, key)}</td>' for key in ("avg", "p(95)", "p(99)", "max"))
        rows.append(
            f"<tr><td>{escape(name)}</td><td class=\"n\">{format_number(reqs.sum)}</td>"
            f'<td class="n {cls}">{pct_failed:.2f}%</td>{cells}</tr>'
        )
    return ('<h2>Endpoints</h2><table><tr><th>name</th><th class="n">requests</th><th class="n">failed</th>'
            '<th class="n">avg</th><th class="n">p(95)</th><th class="n">p(99)</th><th class="n">max</th></tr>' + "".join(rows) + "</table>")


def _failures(result: RunResult) -> str:
    failures = (result.extra or {}).get("failures")
    parts = []
    if failures:
        rows = "".join(
            f"<tr><td>{escape(str(c['code']))}</td><td>{escape(str(c['meaning']))}</td><td class=\"n\">{c['count']}</td></tr>"
            for c in failures.get("causes", [])
        )
        parts.append(f'<h2>Why requests failed</h2><table><tr><th>code</th><th>meaning</th><th class="n">count</th></tr>{rows}</table>')
    errors: dict[str, int] = (result.extra or {}).get("errors") or {}
    where: dict[str, str] = (result.extra or {}).get("error_where") or {}
    check_errors: dict[str, int] = (result.extra or {}).get("check_errors") or {}
    rows_e = "".join(
        f"<tr><td>{escape(k)}</td><td>{escape(where.get(k, ''))}</td><td class=\"n\">{n}</td></tr>"
        for k, n in sorted({**errors, **check_errors}.items(), key=lambda kv: -kv[1])[:10]
    )
    if rows_e:
        parts.append(f'<h2>Errors</h2><table><tr><th>error</th><th>raised at</th><th class="n">count</th></tr>{rows_e}</table>')
    return "".join(parts)


def _charts(result: RunResult) -> str:
    if not result.timeseries:
        return ""
    start = result.timeseries[0].t
    reqs: list[tuple[float, float]] = []
    errors: list[tuple[float, float]] = []
    p95: list[tuple[float, float]] = []
    p99: list[tuple[float, float]] = []
    for b in result.timeseries:
        x = b.t - start
        m = b.metrics
        reqs.append((x, m.get("http_reqs", {}).get("count", 0.0)))
        errors.append((x, m.get("http_req_failed", {}).get("passes", 0.0)))
        d = m.get("http_req_duration")
        if d:
            for key, out in (("p(95)", p95), ("p(99)", p99)):
                if key in d:
                    out.append((x, d[key]))
                elif "http_req_duration" in b.hdr:
                    pct = percentile_of(key)
                    out.append((x, Histogram.decode(b.hdr["http_req_duration"]).value_at(pct or 95.0)))
    charts = ['<h2>Over time</h2>']
    charts.append(line_chart([("requests/s", THROUGHPUT_COLOUR, reqs)], title="Throughput (requests per second)", unit="req/s"))
    charts.append(line_chart([("failed requests/s", ERROR_COLOUR, errors)], title="Errors (failed requests per second)", unit="req/s"))
    if p95:
        charts.append(line_chart([("p(99)", P99_COLOUR, p99), ("p(95)", P95_COLOUR, p95)], title="Latency (http_req_duration)", unit="ms"))
    return "".join(charts)


# -- helpers ---------------------------------------------------------------------------------------


def _agg_of(source: str) -> str:
    from assay.thresholds import ThresholdError, parse_threshold

    try:
        return parse_threshold(source).aggregation
    except ThresholdError:
        return ""


def _value(metric: Metric, key: str, value: float) -> str:
    if metric.type is MetricType.RATE and key == "rate":
        return f"{100.0 * value:.2f}%"
    if metric.type is MetricType.TREND and key != "count":
        if metric.contains is Contains.TIME:
            return format_duration_ms(value)
        if metric.contains is Contains.DATA:
            return format_bytes(value)
    return format_number(value)


def _pct(result: RunResult, name: str, key: str) -> str:
    m = result.metrics.get(name)
    v = m.stat(key) if m is not None else None
    return "–" if v is None or m is None else _value(m, key, v)


def _nice_step(span: float, ticks: int = 5) -> float:
    raw = span / ticks if span > 0 else 1.0
    power = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * power:
            return m * power
    return 10 * power


def line_chart(series: list[tuple[str, str, list[tuple[float, float]]]], *, title: str, unit: str) -> str:
    """An inline SVG line chart of (label, colour, [(seconds, value)]) series, y from 0."""
    xs = [x for _, _, pts in series for x, _ in pts]
    ys = [y for _, _, pts in series for _, y in pts]
    x_max = max(xs) if xs and max(xs) > 0 else 1.0
    top = max(ys) if ys and max(ys) > 0 else 1.0
    y_step = _nice_step(top)
    y_max = y_step * math.ceil(top / y_step)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(x: float) -> float:
        return LEFT + plot_w * x / x_max

    def py(y: float) -> float:
        return TOP + plot_h * (1 - y / y_max)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label="{escape(title)}"><rect width="{WIDTH}" height="{HEIGHT}" fill="#fff"/>',
        f'<text x="{LEFT}" y="18" font-size="13" font-weight="bold" fill="#24292f">{escape(title)}</text>',
    ]
    y = 0.0
    while y <= y_max + 1e-9:
        out.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{py(y):.1f}" y2="{py(y):.1f}" stroke="#eaeef2"/>')
        out.append(f'<text x="{LEFT - 6}" y="{py(y) + 4:.1f}" font-size="11" text-anchor="end" fill="#57606a">{_tick(y)}</text>')
        y += y_step
    x_step = _nice_step(x_max, 8)
    x = 0.0
    while x <= x_max + 1e-9:
        out.append(f'<text x="{px(x):.1f}" y="{HEIGHT - BOTTOM + 16}" font-size="11" text-anchor="middle" fill="#57606a">{_tick(x)}s</text>')
        x += x_step
    out.append(f'<text x="14" y="{TOP + plot_h / 2:.1f}" font-size="11" fill="#57606a" transform="rotate(-90 14 {TOP + plot_h / 2:.1f})" '
               f'text-anchor="middle">{escape(unit)}</text>')
    out.append(f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#d0d7de"/>')
    for i, (label, colour, pts) in enumerate(series):
        if len(pts) == 1:
            pts = [pts[0], (pts[0][0] + 1e-9, pts[0][1])]
        points = " ".join(f"{px(a):.1f},{py(b):.1f}" for a, b in pts)
        out.append(f'<polyline class="series" data-label="{escape(label)}" points="{points}" fill="none" stroke="{colour}" '
                   'stroke-width="3" stroke-linejoin="round" shape-rendering="crispEdges"/>')
        lx = LEFT + 10 + i * 200
        out.append(f'<line x1="{lx}" x2="{lx + 18}" y1="{HEIGHT - 8}" y2="{HEIGHT - 8}" stroke="{colour}" stroke-width="3"/>')
        out.append(f'<text x="{lx + 24}" y="{HEIGHT - 4}" font-size="11" fill="#24292f">{escape(label)}</text>')
    out.append("</svg>")
    return "".join(out)


def _tick(v: float) -> str:
    return f"{v:.0f}" if v == int(v) or abs(v) >= 100 else f"{v:.3g}"
