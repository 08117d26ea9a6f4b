"""One run as a self-contained HTML page, as k6 users get from k6-reporter or the web dashboard.

Summary, thresholds, checks, a per-endpoint table, latency percentiles, and throughput,
errors and latency over time. Works offline: inline CSS and inline SVG, no script and no
remote resource, so it can be attached to a CI job or mailed as is. Reads only the RunResult
(assay's own runs, and k6's files once read into one).
"""

from __future__ import annotations

from html import escape

from assay.report.console import format_duration_ms, format_number, format_value, observed_text
from assay.report.svg_chart import line_chart
from assay.results import Histogram, MetricType, RunResult, parse_metric_name, percentile_of

THROUGHPUT_COLOUR = "#1f6feb"
ERROR_COLOUR = "#d1242f"
P95_COLOUR = "#8250df"
P99_COLOUR = "#bf8700"
PERCENTILES = ("med", "p(90)", "p(95)", "p(99)", "p(99.9)", "max")

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
        thresholds_section(result),
        _checks(result),
        _percentiles(result),
        _endpoints(result),
        _service_metrics(result),
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


def table(title: str, head: list[str], rows: list[list[tuple[str, str]]]) -> str:
    """A section with one table; a heading starting with '#' is a number column (right-aligned).
    Cells are (html, css classes)."""
    if not rows:
        return ""
    ths = "".join(f'<th class="n">{h[1:]}</th>' if h.startswith("#") else f"<th>{h}</th>" for h in head)
    trs = "".join("<tr>" + "".join(f'<td class="{cls}">{html}</td>' if cls else f"<td>{html}</td>" for html, cls in row) + "</tr>" for row in rows)
    return f"<h2>{title}</h2><table><tr>{ths}</tr>{trs}</table>"


def thresholds_section(result: RunResult) -> str:
    """The thresholds table of a run (shared by the messaging report)."""
    rows = []
    for name, t in result.thresholds():
        verdict = '<span class="ok">passed</span>' if t.ok else '<span class="bad">crossed</span>' if t.ok is False else "not evaluated"
        observed = "" if t.observed is None else observed_text(result, name, t)
        rows.append([(escape(name), ""), (f"<code>{escape(t.source)}</code>", ""), (observed, "n"), (verdict, "")])
    return table("Thresholds", ["metric", "threshold", "#observed", "verdict"], rows)


def _checks(result: RunResult) -> str:
    rows = []
    for c in sorted(result.checks, key=lambda c: c.path or c.name):
        where = c.group_path.replace("::", " › ").strip(" ›")
        rows.append([(escape(where), ""), (escape(c.name), ""), (str(c.passes), "n"), (str(c.fails), "n"),
                     (f"{100.0 * c.rate:.2f}%", "n ok" if c.fails == 0 else "n bad")])
    return table("Checks", ["group", "check", "#passed", "#failed", "#rate"], rows)


def _percentiles(result: RunResult) -> str:
    rows = []
    for name in ("http_req_duration", "http_req_corrected_duration", "iteration_duration", "http_req_waiting", "http_req_connecting"):
        m = result.metrics.get(name)
        if m is not None and m.count:
            rows.append([(escape(name), ""), (format_number(m.count), "n")] + [(_pct(result, name, key), "n") for key in PERCENTILES])
    return table("Latency percentiles", ["metric", "#count"] + [f"#{k}" for k in PERCENTILES], rows)


def _service_metrics(result: RunResult) -> str:
    """The target's own Prometheus metrics scraped during the run (`--scrape`), under their names."""
    scrape = result.extra.get("scrape") or {}
    rows = []
    for name in scrape.get("metrics", []):
        m = result.metrics.get(name)
        if m is None or "{" in name:
            continue
        if m.type is MetricType.COUNTER:
            shown = f"increase {format_number(m.sum)}" + (f", {format_number(m.sum / result.duration_s)}/s" if result.duration_s else "")
        elif m.type is MetricType.GAUGE:
            shown = ", ".join(f"{k} {format_number(v)}" for k, v in (("last", m.value), ("min", m.min), ("max", m.max)) if v is not None)
        else:
            shown = ", ".join(f"{k} {_pct(result, name, k)}" for k in ("med", "p(95)", "p(99)"))
        rows.append([(escape(name), ""), (escape(m.type.value), ""), (escape(shown), "")])
    for gap in scrape.get("gaps", []):
        rows.append([(escape(f"gap: {gap['url']}"), "bad"), ("", ""), (escape(f"{gap['seconds']:.0f} s without an answer: {gap['error']}"), "bad")])
    return table("Service metrics (scraped)", ["metric", "type", "over the run"], rows)


def _endpoints(result: RunResult) -> str:
    names = sorted({parse_metric_name(n)[1]["name"] for n in result.metrics if n.startswith("http_reqs{name:")})
    rows = []
    for name in names:
        reqs = result.metrics[f"http_reqs{{name:{name}}}"]
        failed = result.metrics.get(f"http_req_failed{{name:{name}}}")
        pct_failed = 100.0 * failed.passes / failed.count if failed is not None and failed.count else 0.0
        dur = f"http_req_duration{{name:{name}}}"
        rows.append([(escape(name), ""), (format_number(reqs.sum), "n"), (f"{pct_failed:.2f}%", "n bad" if pct_failed else "n")]
                    + [(_pct(result, dur, key), "n") for key in ("avg", "p(95)", "p(99)", "max")])
    return table("Endpoints", ["name", "#requests", "#failed", "#avg", "#p(95)", "#p(99)", "#max"], rows)


def _failures(result: RunResult) -> str:
    extra = result.extra or {}
    causes = (extra.get("failures") or {}).get("causes", [])
    rows = [[(escape(str(c["code"])), ""), (escape(str(c["meaning"])), ""), (str(c["count"]), "n")] for c in causes]
    errors: dict[str, int] = {**(extra.get("errors") or {}), **(extra.get("check_errors") or {})}
    where: dict[str, str] = extra.get("error_where") or {}
    error_rows = [[(escape(k), ""), (escape(where.get(k, "")), ""), (str(n), "n")] for k, n in sorted(errors.items(), key=lambda kv: -kv[1])[:10]]
    return (table("Why requests failed", ["code", "meaning", "#count"], rows)
            + table("Errors", ["error", "raised at", "#count"], error_rows))


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


def _pct(result: RunResult, name: str, key: str) -> str:
    m = result.metrics.get(name)
    v = m.stat(key) if m is not None else None
    return "–" if v is None or m is None else format_value(m, key, v, name)


def sections(result: RunResult) -> str:
    """A run's thresholds and over-time charts, for pages that embed runs (a plan's night report)."""
    return thresholds_section(result) + _charts(result)
