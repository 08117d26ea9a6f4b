"""The HTML report's charts, drawn by headless Chromium: what each failing objective measures, readably scaled."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PIL import Image
from slo_helpers import count_colour

from assay.config import parse_config
from assay.results import RunResult
from assay.slo.check import check
from assay.slo.reports import html
from assay.slo.reports.chart import (
    CHECKS_COLOUR,
    ERROR_COLOUR,
    HEIGHT,
    LINE_COLOUR,
    TARGET_COLOUR,
    THROUGHPUT_COLOUR,
    TOP,
    Chart,
    objective_chart,
)
from assay.slo.spec import SloFile

FAILING = """
objectives:
  - {name: latency, sli: http_req_duration, aggregation: p(95), pass: ["<300"]}
  - {name: errors, display_name: "errors < 1%", sli: http_req_failed, pass: ["<0.01"]}
  - {name: checks, sli: checks, pass: [">0.99"]}
  - {name: throughput, sli: http_reqs, aggregation: rate, pass: [">=50"]}
  - {name: drops, sli: dropped_iterations, aggregation: count, pass: ["<5"]}
"""


def test_each_failing_objective_gets_a_chart_of_what_it_measures(
    k6_run: Callable[..., RunResult], tmp_path: Path, screenshot: Callable[..., Path]
) -> None:
    # 10 requests/s at 50 ms (latency passes), one in ten a 503, 20 dropped iterations.
    result = k6_run(seconds=20, rps=10, status=lambda t, name, i: 503 if i % 10 == 3 else 200, dropped=20)
    outcome = check(parse_config(FAILING, SloFile), [result])
    statuses = {o.id: o.status for o in outcome.evaluations[0].objectives}
    assert statuses == {"latency": "PASS", "errors": "FAIL", "checks": "FAIL", "throughput": "FAIL", "drops": "FAIL"}
    page = html.render(outcome)
    for title in ("http_req_failed rate per second (%)", "checks rate per second (rate)", "http_reqs per second (/s)"):
        assert f"<h3>{title}</h3>" in page
    assert "dropped_iterations count, running total" in page
    assert "http_req_duration per second" not in page  # the passing latency objective is not charted
    path = tmp_path / "report.html"
    path.write_text(page)
    png = screenshot(path, height=2400)
    # Each chart's line is drawn crisply in its kind's colour: hundreds of exact pixels each.
    assert count_colour(png, ERROR_COLOUR) > 500
    assert count_colour(png, CHECKS_COLOUR) > 500
    assert count_colour(png, THROUGHPUT_COLOUR) > 4000  # two lines: requests per second and the running total of drops
    assert count_colour(png, LINE_COLOUR) == 0


def _chart_page(chart: Chart, path: Path) -> Path:
    path.write_text(f'<!DOCTYPE html><html><body style="margin:0;background:#fff">{chart.svg()}</body></html>')
    return path


def _line_rows(png: Path, hex_colour: str) -> list[int]:
    target = tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    image = Image.open(png).convert("RGB")
    width, height = image.size
    pixels = image.load()
    return [y for y in range(height) for x in range(width) if pixels[x, y] == target]


def test_small_values_fill_the_chart_and_a_far_target_is_named_above_it(
    k6_run: Callable[..., RunResult], tmp_path: Path, screenshot: Callable[..., Path]
) -> None:
    spec = parse_config("objectives: [{sli: http_req_duration, aggregation: p(95), pass: ['<250']}]", SloFile)
    fast = k6_run(seconds=20, rps=10, latency=lambda t, name: 10.0)
    objective = check(spec, [fast]).evaluations[0].objectives[0]
    assert objective.status == "PASS"
    chart = objective_chart(objective, fast)
    assert chart is not None and "target 250 ms is above the chart" in chart.svg()
    png = screenshot(_chart_page(chart, tmp_path / "fast.html"), width=900, height=HEIGHT + 20)
    rows = sorted(_line_rows(png, LINE_COLOUR))
    plot_bottom = HEIGHT - 40
    assert len(rows) > 500
    # ~10 ms on an axis fitted to the data sits in the upper half of the plot (under a 250 ms axis it would hug the bottom).
    assert rows[len(rows) // 2] < TOP + (plot_bottom - TOP) / 2
    assert count_colour(png, TARGET_COLOUR) < 100  # no dashed target line, only its label
    # A target near the data stays on the axis as a dashed line.
    slow = k6_run(seconds=20, rps=10, latency=lambda t, name: 200.0)
    near = objective_chart(check(spec, [slow]).evaluations[0].objectives[0], slow)
    assert near is not None and "above the chart" not in near.svg()
    assert count_colour(screenshot(_chart_page(near, tmp_path / "slow.html"), width=900, height=HEIGHT + 20), TARGET_COLOUR) > 300
