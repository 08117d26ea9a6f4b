"""A messaging run as one self-contained HTML page: the ledger's verdict first, then latency,
throughput over time, lost ids, thresholds and notes (inline CSS and SVG, works offline)."""

from __future__ import annotations

from html import escape
from typing import Any

from assay.histo import values_at
from assay.report.run_html import CSS, table, thresholds_section
from assay.report.svg_chart import line_chart
from assay.results import RunResult

__all__ = ["render"]

_COUNTS = (
    ("sent", "messages_sent", ""),
    ("acked", "messages_acked", ""),
    ("delivered", "messages_delivered", "ok"),
    ("lost", "messages_lost", "bad"),
    ("duplicated", "messages_duplicated", "bad"),
    ("out of order", "messages_out_of_order", "bad"),
    ("misdelivered", "messages_misdelivered", "bad"),
    ("failed sends", "messages_failed", "bad"),
    ("unrouted", "messages_unrouted", ""),
)


def render(result: RunResult) -> str:
    ledger: dict[str, Any] = result.extra.get("ledger", {})
    info: dict[str, Any] = result.extra.get("messaging", {})
    rows = []
    for label, key, bad_class in _COUNTS:
        n = int(ledger.get(key, 0))
        cls = "n " + (bad_class if (bad_class == "bad" and n) or bad_class == "ok" else "")
        rows.append([(escape(label), ""), (str(n), cls.strip())])
    body = [
        f"<h1>{escape(result.name)}</h1>",
        f'<p class="meta"><span class="status {escape(result.status.value)}">{escape(result.status.value)}</span> '
        f"{result.duration_s:.1f} s of publishing, {escape(str(info.get('consumers', '?')))} consumer(s), "
        f"{escape(str(info.get('keys', '?')))} keys, publish rate {escape(str(info.get('rate_achieved')))}/s "
        f"(target {escape(str(info.get('rate_target')))}/s)</p>",
        table("Delivery", ["verdict", "#messages"], rows),
        _latency(result),
        _over_time(result),
        _ids("Lost (first 100)", ledger.get("lost_ids") or []),
        thresholds_section(result),
        "".join(f'<p class="meta">{escape(n)}</p>' for n in result.notes),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(result.name)}: messaging report</title><style>{CSS}</style></head><body>\n"
        + "\n".join(b for b in body if b)
        + "\n</body></html>\n"
    )


def _latency(result: RunResult) -> str:
    rows = []
    for label, name in (("end-to-end", "message_delivery_latency"), ("publish (to the broker's ack)", "message_publish_latency")):
        m = result.metrics.get(name)
        if m is None or not m.count:
            continue
        p50, p95, p99 = values_at(m.histogram(), [50.0, 95.0, 99.0])
        rows.append([(escape(label), ""), (str(m.count), "n")] + [(f"{v:.2f} ms", "n") for v in (p50, p95, p99, m.max or 0.0)])
    return table("Latency", ["", "#count", "#p50", "#p95", "#p99", "#max"], rows)


def _over_time(result: RunResult) -> str:
    if not result.timeseries:
        return ""
    t0 = result.timeseries[0].t
    sent = [(b.t - t0, b.metrics.get("messages_sent", {}).get("count", 0.0)) for b in result.timeseries]
    got = [(b.t - t0, b.metrics.get("message_receipts", {}).get("count", 0.0)) for b in result.timeseries]
    return "<h2>Throughput</h2>" + line_chart([("sent/s", "#0969da", sent), ("received/s", "#1a7f37", got)], title="messages per second", unit="/s")


def _ids(title: str, ids: list[str]) -> str:
    if not ids:
        return ""
    return f"<h2>{escape(title)}</h2><pre>" + escape("\n".join(ids)) + "</pre>"
