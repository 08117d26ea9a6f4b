"""Line charts as inline SVG: self-contained, readable offline, no script (DESIGN.md's choice
for simple report charts). Any report may use it; y starts at 0 so small values stay readable
against their own scale, and an optional dashed target line marks a threshold."""

from __future__ import annotations

import math
from html import escape

WIDTH, HEIGHT = 880, 260
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 28, 40
TARGET_COLOUR = "#d1242f"


def _nice_step(span: float, ticks: int = 5) -> float:
    raw = span / ticks if span > 0 else 1.0
    power = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * power:
            return m * power
    return 10 * power


def line_chart(
    series: list[tuple[str, str, list[tuple[float, float]]]], *, title: str, unit: str, target: float | None = None, x_unit: str = "s"
) -> str:
    """An inline SVG line chart of (label, colour, [(seconds, value)]) series, y from 0;
    `target` draws a dashed line (a threshold)."""
    xs = [x for _, _, pts in series for x, _ in pts]
    ys = [y for _, _, pts in series for _, y in pts] + ([target] if target is not None else [])
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
    if x_unit != "s":  # counts (runs, nights): whole ticks only
        x_step = max(1.0, x_step)
    x = 0.0
    while x <= x_max + 1e-9:
        out.append(f'<text x="{px(x):.1f}" y="{HEIGHT - BOTTOM + 16}" font-size="11" text-anchor="middle" fill="#57606a">{_tick(x)}{escape(x_unit)}</text>')
        x += x_step
    out.append(f'<text x="14" y="{TOP + plot_h / 2:.1f}" font-size="11" fill="#57606a" transform="rotate(-90 14 {TOP + plot_h / 2:.1f})" '
               f'text-anchor="middle">{escape(unit)}</text>')
    out.append(f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#d0d7de"/>')
    if target is not None:
        out.append(f'<line class="target" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{py(target):.1f}" y2="{py(target):.1f}" '
                   f'stroke="{TARGET_COLOUR}" stroke-width="1.5" stroke-dasharray="6 4"/>')
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
