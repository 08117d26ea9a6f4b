"""`assay trend detect|show|baseline|pages` on a real store: exit codes, report, marker, pictures."""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import text

from assay.cli.app import main
from assay.results import Metric, RunResult
from assay.trends.charts import LINE, REGRESSION
from assay.trends.report import value_text
from assay.trends.series import Series
from assay.trends.store import open_store


def cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


def fill(url: str, run_factory: Callable[..., RunResult], nights: int, *, step_at: int | None, step: float = 1.3, seed: int = 11) -> list[str]:
    rng = np.random.default_rng(seed)
    ids = []
    with open_store(url) as store:
        for day in range(nights):
            level = 100 * (1 + 0.03 * rng.standard_normal()) * (step if step_at is not None and day >= step_at else 1.0)
            run = run_factory(level, day=day, labels={"git_sha": f"{day:02d}" + "c0ffee" * 3}, samples=300)
            ids.append(store.record(run).run_id)
    return ids


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'trends.db'}"


def test_detect_finds_a_fresh_regression_writes_report_and_marker(url: str, tmp_path: Path, run_factory: Callable[..., RunResult], capsys: pytest.CaptureFixture[str]) -> None:
    ids = fill(url, run_factory, 24, step_at=20)
    report, marker, out_json = tmp_path / "report.txt", tmp_path / "regressed", tmp_path / "d.json"
    code, out, _ = cli(["trend", "detect", "http_req_duration p(95)", "--store", url, "--report", str(report), "--marker", str(marker), "--json", str(out_json)], capsys)
    assert code == 2
    text = report.read_text()
    assert text == out and "REGRESSION nightly: http_req_duration p(95)" in text
    assert f"began at run {ids[20][:12]}" in text
    assert "commits: 19c0ffeec0ff..20c0ffeec0ff" in text
    assert marker.exists() and ids[20] in marker.read_text()
    doc = json.loads(out_json.read_text())
    assert doc["schema"] == "assay.trend/1" and doc["regressions"] == 1 and doc["exit_code"] == 2
    alarm = doc["series"][0]["alarms"][0]
    low, high = alarm["interval"]
    assert 0.15 < low < alarm["change"] < high < 0.5  # a 30% step, inside its interval


def test_no_change_exits_0_without_marker(url: str, tmp_path: Path, run_factory: Callable[..., RunResult], capsys: pytest.CaptureFixture[str]) -> None:
    fill(url, run_factory, 24, step_at=None)
    marker = tmp_path / "regressed"
    code, out, _ = cli(["trend", "detect", "--store", url, "--marker", str(marker)], capsys)
    assert code == 0 and not marker.exists()
    assert "0 open regression(s) in 3 series" in out and "no changes found" in out


def test_too_little_history_warns_and_exits_0(url: str, run_factory: Callable[..., RunResult], capsys: pytest.CaptureFixture[str]) -> None:
    fill(url, run_factory, 4, step_at=2, step=2.0)
    code, out, err = cli(["trend", "detect", "http_req_duration p(95)", "--store", url], capsys)
    assert code == 0
    assert "not enough history: 4 of 10 runs" in err and "REGRESSION" not in out
    code, _, err = cli(["trend", "detect", "--rule", "10% above mean of last 7 runs for 3 consecutive", "--store", url], capsys)
    assert code == 0 and "not enough history for rule" in err and "4 of 10 runs" in err


def test_the_teams_rule_decides_exit_code_and_marker(url: str, tmp_path: Path, run_factory: Callable[..., RunResult], capsys: pytest.CaptureFixture[str]) -> None:
    fill(url, run_factory, 12, step_at=9)
    marker = tmp_path / "m"
    rule = "10% above mean of last 7 days for 3 consecutive nights"
    code, out, _ = cli(["trend", "detect", "http_req_duration p(95)", "--rule", rule, "--store", url, "--marker", str(marker)], capsys)
    assert code == 2 and marker.exists()
    assert "detector: rule: 10% above the mean of last 7 days for 3 consecutive runs" in out


def test_unknown_series_scenario_and_baseline_are_located_errors(url: str, run_factory: Callable[..., RunResult], capsys: pytest.CaptureFixture[str]) -> None:
    fill(url, run_factory, 3, step_at=None)
    code, _, err = cli(["trend", "show", "http_req_duraton p(95)", "--store", url], capsys)
    assert code == 64 and "did you mean 'http_req_duration'" in err
    code, _, err = cli(["trend", "detect", "--scenario", "nigthly", "--store", url], capsys)
    assert code == 64 and "did you mean 'nightly'" in err
    code, _, err = cli(["trend", "detect", "--baseline", "relese", "--store", url], capsys)
    assert code == 64 and "no baseline 'relese'" in err
    code, _, err = cli(["trend", "detect", "--rule", "ten percent worse", "--store", url], capsys)
    assert code == 64 and "expected 'X% worse than mean|median" in err
    code, _, err = cli(["trend", "show", "http_req_duration p(95", "--store", url], capsys)
    assert code == 64


def test_pinned_and_window_baselines(url: str, run_factory: Callable[..., RunResult], capsys: pytest.CaptureFixture[str]) -> None:
    ids = fill(url, run_factory, 12, step_at=11, step=1.6)
    assert cli(["trend", "baseline", "set", "release-1", ids[2][:8], "--store", url], capsys)[0] == 0
    assert cli(["trend", "baseline", "set", "week", "--window", "last 7 days", "--store", url], capsys)[0] == 0
    code, out, _ = cli(["trend", "baseline", "list", "--store", url], capsys)
    assert f"release-1\trun {ids[2]}" in out and "week\twindow last 7 days" in out
    for name in ("release-1", "week"):
        code, out, _ = cli(["trend", "detect", "http_req_duration p(95)", "--no-stats", "--baseline", name, "--store", url], capsys)
        assert code == 2 and f"baseline '{name}': newest run outside the band" in out
    assert cli(["trend", "baseline", "rm", "week", "--store", url], capsys)[0] == 0
    assert "week" not in cli(["trend", "baseline", "list", "--store", url], capsys)[1]
    # a pinned run outside the selection, and one deleted behind the baseline's back, are told apart
    code, _, err = cli(["trend", "detect", "--baseline", "release-1", "--since", "2026-03-10", "--store", url], capsys)
    assert code == 64 and "not among the selected runs" in err and "--since/--label" in err
    with open_store(url) as store, store.sessions.begin() as session:
        pk = store.find_run(ids[2]).pk
        session.execute(text("delete from trend_points where run_pk = :pk"), {"pk": pk})
        session.execute(text("delete from trend_runs where id = :pk"), {"pk": pk})
    code, _, err = cli(["trend", "detect", "--baseline", "release-1", "--store", url], capsys)
    assert code == 64 and f"its run {ids[2][:12]} is no longer in the store" in err


def test_show_prints_the_series_with_the_change_marked(url: str, run_factory: Callable[..., RunResult], capsys: pytest.CaptureFixture[str]) -> None:
    fill(url, run_factory, 24, step_at=12)
    code, out, _ = cli(["trend", "show", "http_req_duration{name:create} p(99)", "--store", url], capsys)
    assert code == 0
    assert "nightly: http_req_duration{name:create} p(99)" in out
    assert out.count("▲ regression") == 1


def _fill_rss(url: str, run_factory: Callable[..., RunResult], nights: int, step_at: int) -> None:
    """Nights with a resident-memory gauge near 100 MiB that steps to 150 MiB, and a byte counter."""
    rng = np.random.default_rng(5)
    with open_store(url) as store:
        for day in range(nights):
            run = run_factory(100, day=day, samples=100)
            rss = Metric.new("gauge")
            rss.add(100 * 2**20 * (1.5 if day >= step_at else 1.0) * (1 + 0.01 * rng.standard_normal()))
            run.metrics["proc_rss_bytes{proc:api}"] = rss
            sent = Metric.new("counter", sum=3 * 2**20 * run.duration_s, count=10)
            run.metrics["wire_sent_bytes"] = sent
            store.record(run)


def test_show_and_report_print_byte_series_in_their_units_json_keeps_raw(url: str, tmp_path: Path, run_factory: Callable[..., RunResult], capsys: pytest.CaptureFixture[str]) -> None:
    _fill_rss(url, run_factory, 24, step_at=20)
    code, out, _ = cli(["trend", "show", "proc_rss_bytes{proc:api} max", "wire_sent_bytes rate", "wire_sent_bytes count", "--store", url], capsys)
    assert code == 0
    assert re.search(r"│ 99\.\d\d MiB|│ 100\.\d MiB", out) and re.search(r"│ 14\d\.\d MiB|│ 150\.\d MiB", out)
    assert "e+0" not in out  # no raw exponents: 1.048e+08
    assert "3 MiB/s" in out and "Δ prev" in out
    assert out.split("wire_sent_bytes count")[1].count("│ 6 MiB ") == 24  # a byte counter's total: 3 MiB/s for 2 s
    report, out_json = tmp_path / "r.txt", tmp_path / "d.json"
    code, _, _ = cli(["trend", "detect", "proc_rss_bytes{proc:api} max", "--worse", "higher", "--store", url, "--report", str(report), "--json", str(out_json)], capsys)
    assert code == 2
    size = next(line for line in report.read_text().splitlines() if "size:" in line)
    assert re.search(r"\(\d+(\.\d+)? MiB -> 1[45]\d(\.\d+)? MiB\)", size), size
    alarm = json.loads(out_json.read_text())["series"][0]["alarms"][0]
    assert alarm["after"] > 1.4 * 2**20 * 100  # JSON: the raw bytes


def test_value_text_counts_stay_numbers_rates_of_byte_counters_per_second() -> None:
    def text(metric: str, aggregation: str, metric_type: str, value: float) -> str:
        return value_text(Series("s", metric, aggregation, "higher", metric_type=metric_type), value)

    assert text("proc_rss_bytes{proc:api}", "value", "gauge", 20.61e6) == "19.66 MiB"
    assert text("resp_bytes", "p(95)", "trend", 2048.0) == "2 KiB"
    assert text("resp_bytes", "count", "trend", 4.2e7) == "4.2e+07"  # samples, not bytes
    assert text("wire_sent_bytes", "count", "counter", 3 * 2**30) == "3 GiB"
    assert text("wire_sent_bytes", "rate", "counter", 1536.0) == "1.5 KiB/s"
    assert text("proc_cpu_percent", "max", "gauge", 27.25) == "27.25%"
    assert text("http_req_duration", "p(95)", "trend", 381.27) == "381.3"
    assert text("checks", "passes", "rate", 1200.0) == "1200"


def _chromium(chromium: str, page: Path, png: Path) -> str:
    with tempfile.TemporaryDirectory(prefix="assay-chromium-") as profile:
        done = subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
             "--virtual-time-budget=8000", "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>", f"--screenshot={png}", "--window-size=1200,1000", "--hide-scrollbars", page.as_uri()],
            check=True, capture_output=True, text=True, timeout=120,
        )
    return done.stderr


def _pixels(png: Path, hex_colour: str) -> int:
    target = tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return sum(1 for p in Image.open(png).convert("RGB").getdata() if p == target)


@pytest.mark.slow
def test_html_pages_render_offline_in_chromium_without_console_errors(url: str, tmp_path: Path, run_factory: Callable[..., RunResult], capsys: pytest.CaptureFixture[str], system_tool: Callable[..., str]) -> None:
    chromium = system_tool("chromium")
    fill(url, run_factory, 24, step_at=14)
    pages = tmp_path / "pages"
    assert cli(["trend", "pages", str(pages), "--store", url], capsys)[0] == 0
    page = pages / "nightly.html"
    text = page.read_text()
    # plotly.js is inlined (no script tag loads anything) and chromium runs with no way out: works offline
    assert all("src" not in attrs for attrs in re.findall(r"<script([^>]*)>", text))
    for title in ("http_req_duration med", "http_req_duration p(95)", "http_req_duration p(99)", "http_reqs rate", "http_req_failed rate"):
        assert f"nightly: {title}" in text
    assert "run " in text and "git_sha=14c0ffee" in text  # hover labels
    png = tmp_path / "shot.png"
    log = _chromium(chromium, page, png)
    assert "CONSOLE" not in log and "Uncaught" not in log
    assert _pixels(png, LINE) > 300  # the series lines are drawn
    assert _pixels(png, REGRESSION) > 30  # and the alarms
    index = (pages / "index.html").read_text()
    assert "href='nightly.html'" in index


def test_png_draws_the_series_and_the_alarm(url: str, tmp_path: Path, run_factory: Callable[..., RunResult], capsys: pytest.CaptureFixture[str]) -> None:
    fill(url, run_factory, 24, step_at=14)
    png = tmp_path / "trend.png"
    code, _, _ = cli(["trend", "show", "http_req_duration p(95)", "--png", str(png), "--store", url], capsys)
    assert code == 0
    image = Image.open(png)
    assert image.format == "PNG" and image.size[0] >= 600
    assert _pixels(png, LINE) > 100 and _pixels(png, REGRESSION) > 20


def test_detect_without_named_series_skips_a_rate_with_no_samples(url: str, run_factory: Callable[..., RunResult], capsys: pytest.CaptureFixture[str]) -> None:
    """A chaos run records `chaos_hypothesis_during_met` with no samples when no probe ran during
    the method; `detect` over every scenario watches the rest instead of refusing the store."""
    from assay.results import Metric

    fill(url, run_factory, 6, step_at=None)
    with open_store(url) as store:
        for _ in range(3):
            run = RunResult(name="chaos", labels={"scenario": "chaos"}, duration_s=10.0)
            run.metrics["chaos_hypothesis_during_met"] = Metric.new("rate", passes=0, fails=0)
            run.metrics["chaos_deviated"] = Metric.new("gauge", value=0.0)
            store.record(run)
    code, out, err = cli(["trend", "detect", "--store", url], capsys)
    assert code == 0, err
    assert "chaos_hypothesis_during_met" not in out and "http_req_duration" in out
    code, _, err = cli(["trend", "detect", "chaos_hypothesis_during_met", "--store", url], capsys)
    assert code == 64 and "no 'rate' aggregate" in err  # named by the user: still an error


def test_default_page_series_a_scenario_lacks_are_left_out(url: str, tmp_path: Path, run_factory: Callable[..., RunResult], capsys: pytest.CaptureFixture[str]) -> None:
    """A run recorded from a k6 summary has p(90)/p(95) but no p(99): the pages, the exporter and
    the Grafana export leave that series out for its scenario instead of failing the whole store."""
    sample = Path(__file__).resolve().parents[1] / "data" / "k6" / "k6-summary-export.sample.json"
    fill(url, run_factory, 3, step_at=None)
    code, _, err = cli(["trend", "record", str(sample), "--at", "2026-03-01", "--store", url], capsys)
    assert code == 0 and "names no scenario (k6 files carry none)" in err
    code, _, err = cli(["trend", "record", str(sample), "--at", "2026-03-02", "--label", "scenario=k6sample", "--store", url], capsys)
    assert code == 0 and "names no scenario" not in err
    code, _, err = cli(["trend", "pages", str(tmp_path / "pages"), "--store", url], capsys)
    assert code == 0, err
    pages = sorted(p.name for p in (tmp_path / "pages").glob("*.html"))
    assert len(pages) == 4 and {"nightly.html", "k6sample.html", "index.html"} <= set(pages), pages
    code, out, err = cli(["trend", "export", "prometheus", "--store", url], capsys)
    assert code == 0, err
    assert 'aggregation="p(99)",metric="http_req_duration",scenario="nightly"' in out
    assert 'aggregation="p(95)",metric="http_req_duration",scenario="k6sample"' in out
    assert 'aggregation="p(99)",metric="http_req_duration",scenario="k6sample"' not in out
    code, _, err = cli(["trend", "export", "grafana", "-o", str(tmp_path / "g.json"), "--store", url], capsys)
    assert code == 0, err
    # a series the user names is still required
    code, _, err = cli(["trend", "export", "prometheus", "http_req_duration p(99)", "--scenario", "k6sample", "--store", url], capsys)
    assert code == 64 and "no 'p(99)' aggregate" in err
    code, _, err = cli(["trend", "baseline", "set", "x", "--store", url], capsys)
    assert code == 64 and "name a run to pin" in err
