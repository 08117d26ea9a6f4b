"""How scraped Prometheus series become result metrics: increases, gauges, histograms, bounds, windows."""

from __future__ import annotations

import math
from array import array

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assay.errors import UsageError
from assay.load.scrape import ScrapeOptions, Scraper, parse_exposition, parse_scrape_option
from assay.load.scrape_series import _increase

TEXT = """# HELP jobs_total Jobs done.
# TYPE jobs_total counter
jobs_total{{queue="a"}} {a}
jobs_total{{queue="b"}} {b}
# HELP depth Queue depth.
# TYPE depth gauge
depth{{queue="a"}} {da}
depth{{queue="b"}} 1
# HELP lat_seconds Latency.
# TYPE lat_seconds histogram
lat_seconds_bucket{{le="0.01"}} {h1}
lat_seconds_bucket{{le="0.1"}} {h2}
lat_seconds_bucket{{le="+Inf"}} {h3}
lat_seconds_count {h3}
lat_seconds_sum 1.0
# HELP idle Never moves.
# TYPE idle gauge
idle 7
"""


def _scraper(rounds: list[dict[str, float]], **opts: object) -> Scraper:
    s = Scraper(ScrapeOptions(urls=["http://127.0.0.1:1/metrics"], **opts))  # type: ignore[arg-type]
    for i, values in enumerate(rounds):
        expo = parse_exposition(TEXT.format(**values))
        s.types.update(expo.types)
        s._record(1000.0 + i, expo.samples)
    return s


ROUNDS = [
    {"a": 10, "b": 0, "da": 0, "h1": 0, "h2": 0, "h3": 0},
    {"a": 15, "b": 2, "da": 9, "h1": 50, "h2": 90, "h3": 100},
    {"a": 3, "b": 4, "da": 4, "h1": 100, "h2": 180, "h3": 200},  # queue a restarted: 15 -> 3 counts 3
]


def test_counters_gauges_and_histograms() -> None:
    summary = _scraper(ROUNDS).summarize()
    m = summary.metrics
    assert m["jobs_total{queue:a}"].sum == 5 + 3 and m["jobs_total{queue:b}"].sum == 4
    assert m["jobs_total"].sum == 12 and m["jobs_total"].stat("delta") == 12
    assert (m["depth{queue:a}"].min, m["depth{queue:a}"].max, m["depth{queue:a}"].value) == (0, 9, 4)
    assert (m["depth"].min, m["depth"].max, m["depth"].value) == (1, 10, 5)  # label sets summed per scrape
    lat = m["lat_seconds"]
    assert lat.count == 200 and lat.contains == "time"
    # half the observations were under 10 ms, 90 % under 100 ms (linear inside buckets, in ms)
    assert lat.stat("med") == pytest.approx(10.0, rel=0.05)
    assert 10.0 < lat.stat("p(75)") < 100.0
    assert lat.stat("p(95)") == pytest.approx(100.0, rel=0.05)
    assert "idle" not in m  # unchanged series are left out by default
    assert summary.series["jobs_total"] == [(1001.0, 7.0), (1002.0, 5.0)]


def test_select_keep_and_bounds() -> None:
    kept = _scraper(ROUNDS, select=["^idle$"]).summarize().metrics
    assert set(kept) == {"idle"}
    bounded = _scraper(ROUNDS, max_series=1).summarize(keep=["depth{queue:b}"]).metrics
    assert "depth{queue:b}" in bounded  # a threshold's series is kept even unchanged
    assert "lat_seconds" not in bounded and "jobs_total{queue:a}" not in bounded
    filtered = _scraper(ROUNDS).summarize(keep=["jobs_total{queue:b}"]).metrics
    assert filtered["jobs_total{queue:b}"].sum == 4


def test_window_starts_at_the_warmup() -> None:
    summary = _scraper(ROUNDS).summarize(window_start=1001.5)
    assert summary.metrics["jobs_total{queue:a}"].sum == 3
    assert summary.metrics["depth{queue:a}"].min == 4


def test_a_gap_is_skipped_by_increases() -> None:
    s = _scraper(ROUNDS[:2])
    s._record(1002.0, {})  # a failed scrape: no samples
    expo = parse_exposition(TEXT.format(**ROUNDS[2]))
    s._record(1003.0, expo.samples)
    assert s.summarize().metrics["jobs_total{queue:b}"].sum == 4


@given(st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False) | st.just(math.nan), min_size=1, max_size=40))
def test_increase_never_negative_and_equals_last_minus_first_without_resets(values: list[float]) -> None:
    inc = _increase(array("d", values), 0)
    assert inc >= 0
    seen = [v for v in values if not math.isnan(v)]
    if seen and all(b >= a for a, b in zip(seen, seen[1:], strict=False)):
        assert inc == pytest.approx(seen[-1] - seen[0])


def test_option_shapes() -> None:
    assert parse_scrape_option("http://a:1/metrics, http://b:2/metrics", "o").urls == ["http://a:1/metrics", "http://b:2/metrics"]
    opts = parse_scrape_option({"urls": ["http://a:1/m"], "interval": "2s", "select": "^x", "max_series": 5}, "o")
    assert (opts.interval, opts.select, opts.max_series) == (2.0, ["^x"], 5)
    for bad, fragment in (({"url": "http://a/m", "max_series": 0}, "max_series"), ({"urls": "x"}, "not an http"),
                          ({"intervl": 1}, "unknown key"), (5, "expected a URL")):
        with pytest.raises(UsageError, match=fragment):
            parse_scrape_option(bad, "o")


def test_a_service_metric_never_replaces_one_the_run_measured() -> None:
    from assay.results import Metric, MetricType, RunResult

    text = "# TYPE http_reqs counter\nhttp_reqs_total 5\n# TYPE vus gauge\nvus {v}\n"
    s = Scraper(ScrapeOptions(urls=["http://127.0.0.1:1/metrics"]))
    for i, v in enumerate((1, 3)):
        expo = parse_exposition(text.format(v=v))
        s.types.update(expo.types)
        s._record(1000.0 + i, expo.samples)
    result = RunResult()
    result.metrics["vus"] = Metric(type=MetricType.GAUGE, value=10, min=0, max=10, count=4)
    s.summarize().apply(result)
    assert result.metrics["vus"].value == 10
    assert any("the service's vus" in n for n in result.notes)
