"""Charts of what each objective measures, over the run, as inline SVG from a RunResult's per-second series.

Latency is a per-second aggregate, an error or check rate a per-second share, throughput
requests per second, a total a running sum reaching the target. Inline SVG keeps the HTML
report self-contained and readable offline, with no script. The axis fits the data: a target
far above it is named at the top instead of flattening the line against the bottom.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

from assay.results import Histogram, Metric, MetricType, RunResult, parse_metric_name, percentile_of
from assay.slo.criteria import format_value
from assay.slo.report import ObjectiveResult

LINE_COLOUR = "#1f6feb"  # latency: the objective's aggregation
ERROR_COLOUR = "#bc4c00"  # error rates
CHECKS_COLOUR = "#8250df"  # check pass rates
THROUGHPUT_COLOUR = "#1b7c83"  # requests, iterations and other counts; gauges
AVG_COLOUR = "#8b949e"
TARGET_COLOUR = "#d1242f"
WIDTH, HEIGHT = 880, 300
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 28, 40
TARGET_HEADROOM = 2.0  # a target up to this many times the data's peak stays on the axis
HEADROOM = 1.05  # room above the highest value or target


@dataclass
class Series:
    label: str
    colour: str
    points: list[tuple[float, float]]


@dataclass
class Chart:
    """One objective's chart: what to draw, in which unit, against which target."""

    title: str
    unit: str
    series: list[Series]
    target: float | None = None
    note: str = ""

    def svg(self) -> str:
        return svg(self.series, title=self.title, unit=self.unit, target=self.target)


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


def running_total(result: RunResult, metric: str, key: str) -> list[tuple[float, float]]:
    """The sum of `key` so far at every second of the run (seconds without samples add 0)."""
    if not result.timeseries:
        return []
    start = result.timeseries[0].t
    total = 0.0
    out = []
    for bucket in result.timeseries:
        total += bucket.metrics.get(metric, {}).get(key, 0.0)
        out.append((bucket.t - start, total))
    return out


def chart_series(result: RunResult, metric: str, aggregation: str | None) -> list[Series]:
    """A trend's per-second aggregation (p(95) unless the objective names another) and its average."""
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


def _series_metric(result: RunResult, name: str) -> tuple[str, Metric] | None:
    """The metric whose buckets chart `name`: itself, or its whole metric when only that has a time series."""
    in_buckets = {m for b in result.timeseries for m in b.metrics}
    base, _ = parse_metric_name(name)
    for candidate in (name, base):
        metric = result.metrics.get(candidate)
        if candidate in in_buckets and metric is not None:
            return candidate, metric
    return None


def objective_chart(o: ObjectiveResult, result: RunResult) -> Chart | None:
    """The chart of what `o` measures, or None when the result has no time series for it."""
    if o.metric is None or o.value is None:
        return None
    found = _series_metric(result, o.metric)
    if found is None:
        return None
    name, metric = found
    note = "" if name == o.metric else f"The time series holds {name} over all requests; the objective is on {o.metric}."
    first = o.pass_criteria[0] if o.pass_criteria else []
    target = next((c.target for c in first if c.target is not None), None)
    aggregation = o.aggregation or ""
    if metric.type is MetricType.TREND and aggregation != "count":
        series = chart_series(result, name, aggregation)
        unit = "ms" if metric.contains.value == "time" else ""
        return Chart(f"{name} per second ({unit or 'value'})", unit, series, target, note)
    if metric.type is MetricType.RATE and aggregation in ("", "rate"):
        scale, unit = (100.0, "%") if o.percent else (1.0, "rate")
        colour = CHECKS_COLOUR if parse_metric_name(name)[0] == "checks" else ERROR_COLOUR
        points = [(t, v * scale) for t, v in bucket_series(result, name, "rate")]
        series = [Series(f"{name} rate", colour, points)] if points else []
        return Chart(f"{name} rate per second ({unit})", unit, series, None if target is None else target * scale, note)
    if metric.type is MetricType.GAUGE:
        points = bucket_series(result, name, "value")
        return Chart(f"{name} value", "", [Series(f"{name} value", THROUGHPUT_COLOUR, points)] if points else [], target, note)
    key = {"passes": "passes", "fails": "fails"}.get(aggregation, "count")
    if metric.type is MetricType.COUNTER and aggregation == "rate":
        per_second = bucket_series(result, name, key)
        series = [Series(f"{name} per second", THROUGHPUT_COLOUR, per_second)] if per_second else []
        return Chart(f"{name} per second (/s)", "/s", series, target, note)
    colour = ERROR_COLOUR if metric.type is MetricType.RATE else THROUGHPUT_COLOUR
    totals = running_total(result, name, key)
    series = [Series(f"{name} {key}, running total", colour, totals)] if totals else []
    return Chart(f"{name} {key}, running total", "total", series, target, note)


def _with_unit(value: float, unit: str) -> str:
    if unit in ("%", "/s"):
        return f"{format_value(value)}{unit}"
    return f"{format_value(value)} {unit}" if unit == "ms" else format_value(value)


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
    data_max = max((y for s in series for _, y in s.points), default=0.0)
    # The target joins the axis only when the data stays readable beside it (at least half the height).
    on_axis = target is not None and (data_max <= 0 or target <= TARGET_HEADROOM * data_max)
    top = max(data_max, target if on_axis and target is not None else 0.0)
    x_max = max(xs) if xs and max(xs) > 0 else 1.0
    top = top * HEADROOM if top > 0 else 1.0  # a flat line at the peak stays off the frame
    y_step = _nice_step(top)
    y_max = y_step * math.ceil(top / y_step) or y_step
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
    if target is not None and not on_axis:
        parts.append(
            f'<text class="target-above" x="{WIDTH - RIGHT - 4}" y="{TOP - 8}" font-size="11" text-anchor="end" '
            f'fill="{TARGET_COLOUR}">target {escape(_with_unit(target, unit))} is above the chart '
            f"(the data peaks at {format_value(data_max)}) \u2191</text>"
        )
    if target is not None and on_axis:
        parts.append(
            f'<line class="target" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{round(py(target))}" y2="{round(py(target))}" '
            f'stroke="{TARGET_COLOUR}" stroke-width="2" stroke-dasharray="6 4" shape-rendering="crispEdges"/>'
        )
        parts.append(f'<text x="{WIDTH - RIGHT - 4}" y="{py(target) - 4:.1f}" font-size="11" text-anchor="end" fill="{TARGET_COLOUR}">target {escape(_with_unit(target, unit))}</text>')
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
