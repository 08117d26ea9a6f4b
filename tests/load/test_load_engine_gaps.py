"""The load engine gaps the messaging plan hits: --rps, --warmup, availability/downtime, --scrape's gaps."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from assay.harness.ports import free_port
from assay.harness.process import ServiceProcess
from assay.load.api import LoadRequest, prepare
from assay.load.coordinator import run_load

CliRun = Callable[..., tuple[int, str, str]]

HERE = Path(__file__).resolve().parent


def _outage_target(down_from: float, down_for: float, *extra: str) -> ServiceProcess:
    port = free_port()
    return ServiceProcess(
        [sys.executable, str(HERE / "outage_target.py"), str(port), str(down_from), str(down_for), *extra], port=port
    )


@pytest.fixture
def steady_target() -> Iterator[str]:
    with _outage_target(1e9, 0) as proc:
        yield f"http://127.0.0.1:{proc.port}"


def test_rps_caps_requests_across_all_vus(target_url: str) -> None:
    loaded, plan = prepare(LoadRequest(target=f"{target_url}/", vus=8, duration="3s", rps=40))
    result = run_load(loaded, plan, workers=1)
    sent = result.metrics["http_reqs"].count
    # 8 VUs on a local target would send thousands; the limiter hands out one slot per 25 ms
    assert 0 < sent <= 40 * result.duration_s + 2
    assert sent >= 40 * 1.5
    assert result.extra["rps"] == 40


def test_rps_is_shared_by_workers(target_url: str) -> None:
    loaded, plan = prepare(LoadRequest(target=f"{target_url}/", vus=4, duration="3s", rps=30))
    result = run_load(loaded, plan, workers=2)
    assert 0 < result.metrics["http_reqs"].count <= 30 * result.duration_s + 2


def test_rps_option_in_a_scenario_file_and_bad_values(tmp_path: Path, target_url: str) -> None:
    script = tmp_path / "capped.py"
    script.write_text(
        "options = {'vus': 4, 'duration': '2s', 'rps': 20}\n"
        "async def default(vu):\n"
        f"    await vu.http.get('{target_url}/')\n"
    )
    loaded, plan = prepare(LoadRequest(target=str(script)))
    assert plan.engine.rps == 20
    result = run_load(loaded, plan, workers=1)
    assert result.metrics["http_reqs"].count <= 20 * result.duration_s + 2
    script.write_text("options = {'rps': -5}\nasync def default(vu):\n    pass\n")
    from assay.errors import UsageError

    with pytest.raises(UsageError, match="options.rps"):
        prepare(LoadRequest(target=str(script)))


def test_warmup_is_recorded_but_kept_out_of_thresholds(target_url: str) -> None:
    # 20 req/s for 4 s: 80 requests in all, at most 42 after a 2 s warm-up
    loaded, plan = prepare(
        LoadRequest(target=f"{target_url}/", vus=2, duration="4s", rps=20, warmup="2s", thresholds=["http_reqs:count<55"])
    )
    result = run_load(loaded, plan, workers=1)
    warm = result.extra["warmup"]
    measured = result.metrics["http_reqs"].count
    warm_requests = warm["metrics"]["http_reqs"]["sum"]
    assert warm["seconds"] == 2 and warm_requests > 0 and measured > 0
    assert measured + warm_requests >= 55  # the whole run would cross the threshold...
    assert not result.failed_thresholds()  # ...the measured window does not
    assert result.duration_s == pytest.approx(2.0, abs=0.5)
    # the time series keeps every second, warm-up included
    per_second = sum(b.metrics.get("http_reqs", {}).get("count", 0) for b in result.timeseries)
    assert per_second == measured + warm_requests


def test_a_warmup_as_long_as_the_run_is_refused(target_url: str) -> None:
    """Nothing would be measured: thresholds and gates would pass on an empty window."""
    proc = subprocess.run([sys.executable, "-m", "assay", "load", "run", target_url + "/", "-d", "1s", "--warmup", "5s", "-q"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 64 and "options.warmup: 5s is not shorter than the run (1s)" in proc.stderr


def test_warmup_with_workers_merges_their_warmups(target_url: str) -> None:
    loaded, plan = prepare(LoadRequest(target=f"{target_url}/", vus=2, duration="3s", rps=20, warmup="1s"))
    result = run_load(loaded, plan, workers=2)
    warm = result.extra["warmup"]["metrics"]["http_reqs"]["sum"]
    total = sum(b.metrics.get("http_reqs", {}).get("count", 0) for b in result.timeseries)
    assert warm > 0 and result.metrics["http_reqs"].count + warm == total


@pytest.mark.slow
def test_availability_and_downtime_from_a_real_outage(tmp_path: Path) -> None:
    with _outage_target(1.5, 2.0) as proc:
        loaded, plan = prepare(
            LoadRequest(target=f"http://127.0.0.1:{proc.port}/", vus=2, duration="5s", rps=50,
                        thresholds=["downtime:count==0", "availability:rate>0.99"])
        )
        result = run_load(loaded, plan, workers=1)
    info = result.extra["availability"]
    down = result.metrics["downtime"].sum
    assert 1 <= down <= 4
    assert info["seconds_down"] == down and len(info["outages"]) == 1
    assert result.metrics["availability"].stat("rate") < 1.0
    assert {m for m, _ in result.failed_thresholds()} == {"downtime", "availability"}
    assert any(n.startswith("downtime:") for n in result.notes)


def test_no_downtime_on_a_steady_target(steady_target: str) -> None:
    loaded, plan = prepare(LoadRequest(target=f"{steady_target}/", vus=1, duration="2s", rps=20, thresholds=["downtime:count==0"]))
    result = run_load(loaded, plan, workers=1)
    assert result.metrics["downtime"].sum == 0
    assert result.metrics["availability"].stat("rate") == 1.0
    assert not result.failed_thresholds()


@pytest.mark.slow
def test_scrape_target_dying_mid_run_leaves_a_gap_and_the_run_goes_on(target_url: str, tmp_path: Path, run_cli: CliRun) -> None:
    # the scraped service exits after its 3rd scrape (the check before the run, the baseline, one during
    # the run) of a 5 s run; the load (on another target) carries on
    port = free_port()
    with ServiceProcess([sys.executable, str(HERE / "outage_target.py"), str(port), "1e9", "0", "--exit-after-scrapes", "3"], port=port):
        out = tmp_path / "run.json"
        code, _, err = run_cli(
            "load", "run", f"{target_url}/", "--vus", "1", "--duration", "5s", "--rps", "20", "--workers", "1",
            "--scrape", f"http://127.0.0.1:{port}/metrics", "--scrape-select", "^outage_target_",
            "--result", str(out), "--quiet",
        )
    assert code == 0, err
    data = json.loads(out.read_text())
    scrape = data["extra"]["scrape"]
    assert len(scrape["gaps"]) == 1
    gap = scrape["gaps"][0]
    assert gap["seconds"] >= 1 and gap["failed_scrapes"] >= 1 and "refused" in gap["error"].lower()
    assert data["metrics"]["http_reqs"]["sum"] > 40  # the load ran to the end
    assert any(n.startswith("scrape gap:") for n in data["notes"])
    # --scrape-select kept the target's series although none changed (nobody loaded that target)
    assert "outage_target_latency_seconds_count" in scrape["metrics"]
    assert data["metrics"]["outage_target_latency_seconds_count"]["sum"] == 0
    # the HTML report lists the service's metrics and the gap
    html = tmp_path / "r.html"
    code, _, err = run_cli("results", "show", str(out), "--html", str(html))
    assert code == 0, err
    page = html.read_text()
    assert "Service metrics (scraped)" in page and "outage_target_latency_seconds_count" in page and "gap: " in page


def test_scrape_options_are_checked_before_the_run(run_cli: CliRun, target_url: str) -> None:
    code, _, err = run_cli("load", "run", f"{target_url}/", "--scrape", "ftp://nowhere/metrics", "--duration", "1s")
    assert code == 64 and "not an http(s):// URL" in err
    code, _, err = run_cli("load", "run", f"{target_url}/", "--scrape", "http://127.0.0.1:1/metrics", "--scrape-select", "(", "--duration", "1s")
    assert code == 64 and "not a regular expression" in err
    code, _, err = run_cli(
        "load", "run", f"{target_url}/", "--scrape", "http://127.0.0.1:1/metrics", "--duration", "1s",
        "--threshold", "svc_total:delta>0",
    )
    assert code == 64 and "unknown metric 'svc_total'" in err and "scrape before the run failed" in err


def test_leak_warmup_follows_the_run_warmup() -> None:
    from assay.load.warmup import leak_warmup

    assert leak_warmup(None, 30) == "30s"
    assert leak_warmup("5%", 30) == "5%"  # --leak-warmup given: it wins
    assert leak_warmup(None, 0) == "10%"  # the leak check's own default


@pytest.mark.slow
def test_leak_verdicts_leave_the_warmup_out(target_url: str, tmp_path: Path, run_cli: CliRun) -> None:
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        windows = {}
        for warmup in ("0s", "3s"):
            out = tmp_path / f"w{warmup}.json"
            code, _, err = run_cli(
                "load", "run", f"{target_url}/", "--vus", "1", "--duration", "5s", "--rps", "20", "--workers", "1",
                "--warmup", warmup, "--sample", f"sleeper={sleeper.pid}", "--result", str(out), "--quiet",
            )
            assert code == 0, err
            leaks = json.loads(out.read_text())["extra"]["leaks"]
            windows[warmup] = max(v["points"] for v in leaks if "sleeper" in v["metric"])
    finally:
        sleeper.kill()
        sleeper.wait()
    # readings (one a second) judged: 10 % of ~5 s left out without a warm-up, 3 s with --warmup 3s
    assert windows["3s"] <= windows["0s"] - 2


def test_yaml_options_rps_warmup_and_scrape(steady_target: str, tmp_path: Path) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        "options:\n"
        "  vus: 2\n"
        "  duration: 3s\n"
        "  rps: 30\n"
        "  warmup: 1s\n"
        f"  scrape: {{urls: ['{steady_target}/metrics'], select: ['^outage_target_requests']}}\n"
        "  thresholds:\n"
        "    'outage_target_requests_total{code:200}': ['delta >= http_reqs.count - 2']\n"
        "    outage_target_queue_depth: ['max < 10']\n"
        "requests:\n"
        f"  - url: {steady_target}/\n"
    )
    loaded, plan = prepare(LoadRequest(target=str(scenario)))
    assert (plan.engine.rps, plan.engine.warmup) == (30.0, 1.0)
    result = run_load(loaded, plan, workers=1)
    served = result.metrics["outage_target_requests_total{code:200}"]
    # measured from the warm-up's end on both sides (a scrape is taken the moment it ends): the service
    # counted what assay sent after it, give or take a request in flight at that instant
    assert abs(served.sum - result.metrics["http_reqs"].count) <= 2 and served.sum > 0
    assert not result.failed_thresholds()
    bad = tmp_path / "bad.yaml"
    bad.write_text(scenario.read_text().replace("outage_target_queue_depth", "outage_target_queue_dpth"))
    from assay.thresholds import ThresholdError

    with pytest.raises(ThresholdError, match="did you mean 'outage_target_queue_depth'"):
        prepare(LoadRequest(target=str(bad)))
