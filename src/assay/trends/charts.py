"""Pictures of series: interactive HTML (plotly, inlined so it works offline) and PNG (matplotlib).

Each series is drawn over time with its baseline band, alarms (triangles where the
change began) and change points (dashed lines); hovering a point shows the run's id,
time and labels. A scenario page puts its series side by side as small multiples.
"""

from __future__ import annotations

import html as html_lib
from collections.abc import Sequence
from pathlib import Path

from assay.atomic import write_bytes_atomic, write_text_atomic
from assay.trends.analyze import Detection, SeriesOutcome
from assay.trends.report import value_text

LINE = "#1f77b4"
BAND = "rgba(44, 160, 44, 0.18)"
BAND_RGB = "#2ca02c"
REGRESSION = "#d62728"
IMPROVEMENT = "#9467bd"
HIDDEN_LABELS = {"host", "user", "assay_version"}


def _hover(outcome: SeriesOutcome) -> list[str]:
    out = []
    for run, value in zip(outcome.series.runs, outcome.series.values, strict=True):
        labels = "<br>".join(f"{k}={html_lib.escape(v)}" for k, v in sorted(run.labels.items()) if k not in HIDDEN_LABELS)
        out.append(f"run {run.short_id}<br>{run.at:%Y-%m-%d %H:%M}Z<br>{outcome.series.aggregation} = {value_text(outcome.series, value)}<br>{labels}")
    return out


def _band_start(outcome: SeriesOutcome) -> int:
    """Where the band begins: at its window's first run, or across the whole chart for a pinned run."""
    if len(outcome.baseline) <= 1:
        return 0
    return max(0, len(outcome.series) - 1 - len(outcome.baseline))


def figure(outcomes: Sequence[SeriesOutcome], title: str, columns: int = 2):  # type: ignore[no-untyped-def]
    """A plotly figure with one small panel per series."""
    from plotly.subplots import make_subplots

    columns = max(1, min(columns, len(outcomes)))
    rows = max(1, -(-len(outcomes) // columns))
    fig = make_subplots(
        rows=rows, cols=columns, subplot_titles=[o.series.title for o in outcomes],
        vertical_spacing=min(0.12, 0.5 / rows), horizontal_spacing=0.08,
    )
    for k, outcome in enumerate(outcomes):
        row, col = k // columns + 1, k % columns + 1
        series = outcome.series
        times = [r.at for r in series.runs]
        band = outcome.band
        if band is not None and times:
            start = _band_start(outcome)
            fig.add_trace(
                {"type": "scatter", "mode": "lines", "x": [times[start], times[-1], times[-1], times[start]], "y": [band[0], band[0], band[1], band[1]],
                 "fill": "toself", "fillcolor": BAND, "line": {"width": 0}, "hoverinfo": "skip", "showlegend": k == 0,
                 "name": f"baseline {outcome.baseline_name or ''}".strip()},
                row=row, col=col,
            )
        fig.add_trace(
            {"type": "scatter", "x": times, "y": series.values, "mode": "lines+markers", "name": series.name,
             "line": {"color": LINE, "width": 2}, "marker": {"size": 5}, "text": _hover(outcome),
             "hovertemplate": "%{text}<extra></extra>", "showlegend": False},
            row=row, col=col,
        )
        for alarm in outcome.alarms:
            colour = REGRESSION if alarm.regression else IMPROVEMENT
            fig.add_trace(
                {"type": "scatter", "x": [alarm.at], "y": [series.values[alarm.start_index]], "mode": "markers",
                 "marker": {"symbol": "triangle-up" if alarm.change > 0 else "triangle-down", "size": 14, "color": colour},
                 "name": "regression" if alarm.regression else "improvement", "showlegend": False,
                 "hovertemplate": html_lib.escape(f"{alarm.detector}: {alarm.size_text()} commits {alarm.commits_text()}") + "<extra></extra>"},
                row=row, col=col,
            )
            fig.add_vline(x=alarm.at, line={"color": colour, "dash": "dash", "width": 1}, row=row, col=col)  # type: ignore[arg-type]
    fig.update_layout(title=title, height=max(360, 300 * rows), template="plotly_white", margin={"l": 50, "r": 20, "t": 80, "b": 40})
    return fig


def html_page(detection: Detection, title: str | None = None) -> str:
    """One self-contained page (plotly.js inlined: no network needed)."""
    title = title or "assay trends"
    fig = figure(detection.outcomes, title)
    body = fig.to_html(full_html=False, include_plotlyjs=True, config={"displaylogo": False})
    notes = "".join(f"<li>{html_lib.escape(n)}</li>" for n in detection.notes)
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html_lib.escape(title)}</title></head><body style='font-family:sans-serif'>"
        f"{body}{f'<ul>{notes}</ul>' if notes else ''}</body></html>\n"
    )


def write_html(detection: Detection, path: str | Path) -> Path:
    return write_text_atomic(path, html_page(detection))


def write_scenario_pages(detection: Detection, directory: str | Path) -> list[Path]:
    """A page per scenario, its series as small multiples, and an index linking them."""
    folder = Path(directory)
    by_scenario: dict[str, list[SeriesOutcome]] = {}
    for outcome in detection.outcomes:
        by_scenario.setdefault(outcome.series.scenario, []).append(outcome)
    written = []
    links = []
    for scenario, outcomes in by_scenario.items():
        name = "".join(c if c.isalnum() or c in "-_." else "_" for c in scenario) + ".html"
        part = Detection(detection.store, outcomes, detection.methods)
        written.append(write_text_atomic(folder / name, html_page(part, f"assay trends: {scenario}")))
        links.append(f"<li><a href='{html_lib.escape(name)}'>{html_lib.escape(scenario)}</a></li>")
    written.append(write_text_atomic(folder / "index.html", f"<!doctype html><meta charset='utf-8'><title>assay trends</title><ul>{''.join(links)}</ul>\n"))
    return written


def png_bytes(detection: Detection, columns: int = 2) -> bytes:
    """The same small multiples as a PNG (matplotlib, no display needed)."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    outcomes = detection.outcomes
    columns = max(1, min(columns, len(outcomes)))
    rows = max(1, -(-len(outcomes) // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(6 * columns, 3.2 * rows), squeeze=False)
    for k, outcome in enumerate(outcomes):
        ax = axes[k // columns][k % columns]
        series = outcome.series
        times = [r.at for r in series.runs]
        band = outcome.band
        if band is not None and times:
            start = _band_start(outcome)
            ax.fill_between([times[start], times[-1]], band[0], band[1], color=BAND_RGB, alpha=0.18, linewidth=0)
        ax.plot(times, series.values, color=LINE, marker="o", markersize=3, linewidth=1.5)
        for alarm in outcome.alarms:
            colour = REGRESSION if alarm.regression else IMPROVEMENT
            ax.axvline(alarm.at, color=colour, linestyle="--", linewidth=1)
            ax.plot([alarm.at], [series.values[alarm.start_index]], marker="^" if alarm.change > 0 else "v", color=colour, markersize=10)
        ax.set_title(series.title, fontsize=9)
        ax.tick_params(axis="x", labelrotation=30, labelsize=7)
        ax.tick_params(axis="y", labelsize=7)
    for k in range(len(outcomes), rows * columns):
        axes[k // columns][k % columns].axis("off")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()


def write_png(detection: Detection, path: str | Path) -> Path:
    return write_bytes_atomic(path, png_bytes(detection))
