"""A latency-over-time chart as inline SVG, drawn from a RunResult's per-second time series.

Inline SVG keeps the HTML report self-contained and readable offline, with no script.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

from assay.results import Histogram, RunResult, percentile_of
from assay.slo.criteria import format_value

LINE_COLOUR = "#1f6feb"  # the objective's aggregation
AVG_COLOUR = "#8b949e"
TARGET_COLOUR = "#d1242f"
WIDTH, HEIGHT = 880, 300
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 28, 40


@dataclass
class Series:
    label: str
    colour: str
    points: list[tuple[float, float]]


def bucket_series(result: RunResult, metric: str, key: str) -> list[tuple[float, float]]:
    """(seconds since start, value) of `key` for `metric` per bucket; computed from histograms when needed."""
    if not result.timeseries:
        return []
    start = result.timeseries[0].t
    out: list[tuple[float, float]] = []
    pct = percentile_of(key)
    for bucket in result.timeseries:
        stats = bucket.metrics.get(metric)
        if stats is None:
            continue
        if key in stats:
            out.append((bucket.t - start, stats[key]))
        elif key == "med" and "p(50)" in stats:
            out.append((bucket.t - start, stats["p(50)"]))
        elif pct is not None and metric in bucket.hdr:
            out.append((bucket.t - start, Histogram.decode(bucket.hdr[metric]).value_at(pct)))
    return out


def chart_series(result: RunResult, metric: str, aggregation: str | None) -> list[Series]:
    series: list[Series] = []
    key = aggregation if aggregation and (aggregation in ("avg", "min", "max", "med") or percentile_of(aggregation)) else "p(95)"
    main = bucket_series(result, metric, key)
    if main:
        series.append(Series(f"{metric} {key}", LINE_COLOUR, main))
    if key != "avg":
        avg = bucket_series(result, metric, "avg")
        if avg:
            series.append(Series(f"{metric} avg", AVG_COLOUR, avg))
    return series


def _nice_step(span: float, ticks: int = 5) -> float:
    raw = span / ticks if span > 0 else 1.0
    power = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * power:
            return m * power
    return 10 * power


def svg(series: list[Series], *, title: str, unit: str = "ms", target: float | None = None) -> str:
    """One SVG line chart; `target` draws the pass threshold as a dashed line."""
    xs = [x for s in series for x, _ in s.points]
    ys = [y for s in series for _, y in s.points] + ([target] if target is not None else [])
    x_max = max(xs) if xs and max(xs) > 0 else 1.0
    y_step = _nice_step(max(ys) if ys else 1.0)
    y_max = y_step * math.ceil((max(ys) if ys else 1.0) / y_step) or y_step
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(x: float) -> float:
        return LEFT + plot_w * x / x_max

    def py(y: float) -> float:
        return TOP + plot_h * (1 - y / y_max)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">',
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
        f'<text x="{LEFT}" y="18" font-size="13" font-weight="bold" fill="#24292f">{escape(title)}</text>',
    ]
    y = 0.0
    while y <= y_max + 1e-9:
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{py(y):.1f}" y2="{py(y):.1f}" stroke="#eaeef2"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{py(y) + 4:.1f}" font-size="11" text-anchor="end" fill="#57606a">{format_value(y)}</text>')
        y += y_step
    x_step = _nice_step(x_max, 8)
    x = 0.0
    while x <= x_max + 1e-9:
        parts.append(f'<text x="{px(x):.1f}" y="{HEIGHT - BOTTOM + 16}" font-size="11" text-anchor="middle" fill="#57606a">{format_value(x)}s</text>')
        x += x_step
    parts.append(
        f'<text x="14" y="{TOP + plot_h / 2:.1f}" font-size="11" fill="#57606a" '
        f'transform="rotate(-90 14 {TOP + plot_h / 2:.1f})" text-anchor="middle">{escape(unit)}</text>'
    )
    parts.append(f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#d0d7de"/>')
    if target is not None:
        parts.append(
            f'<line class="target" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{py(target):.1f}" y2="{py(target):.1f}" '
            f'stroke="{TARGET_COLOUR}" stroke-width="1.5" stroke-dasharray="6 4"/>'
        )
        parts.append(f'<text x="{WIDTH - RIGHT - 4}" y="{py(target) - 4:.1f}" font-size="11" text-anchor="end" fill="{TARGET_COLOUR}">target {format_value(target)}</text>')
    for s in reversed(series):  # the main line is drawn last, on top
        points = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in s.points)
        parts.append(
            f'<polyline class="series" data-label="{escape(s.label)}" points="{points}" fill="none" stroke="{s.colour}" '
            f'stroke-width="3" stroke-linejoin="round" shape-rendering="crispEdges"/>'
        )
    for i, s in enumerate(series):
        lx = LEFT + 10 + i * 220
        parts.append(f'<line x1="{lx}" x2="{lx + 18}" y1="{HEIGHT - 8}" y2="{HEIGHT - 8}" stroke="{s.colour}" stroke-width="3"/>')
        parts.append(f'<text x="{lx + 24}" y="{HEIGHT - 4}" font-size="11" fill="#24292f">{escape(s.label)}</text>')
    parts.append("</svg>")
    return "".join(parts)
