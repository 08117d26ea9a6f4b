"""Issue 20's load items a new user hits: why requests failed, check errors, res.json paths,
http.options, the vus gauge under arrival rate, quick-mode names."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from assay.load.api import LoadRequest, prepare
from assay.load.coordinator import run_load
from assay.load.http.response import Response
from assay.report.console import render_summary

FAILING = '''
import os
BASE = os.environ["BASE"]
options = {"vus": 2, "iterations": 8}

async def default(vu):
    res = await vu.http.get(BASE + "/json", tags={"name": "json"})
    vu.check(res, {
        "has nope": lambda r: r.json()["nope"] > 1,
        "id by both paths": lambda r: r.json("$.id") == 7 and r.json("id") == 7 and r.json("items.1.name") == "b",
    })
    await vu.http.get("http://127.0.0.1:1/", tags={"name": "refused"})
    await vu.http.get(BASE + "/status/503", tags={"name": "unavailable"})
    opt = await vu.http.options(BASE + "/")
    vu.check(opt, {"options sent": lambda r: r.status == 200})
    if vu.iteration % 2:
        raise ValueError("odd iteration")
'''


def test_summary_says_why_requests_failed(tmp_path: Path, target_url: str, monkeypatch: pytest.MonkeyPatch, run_cli: Callable[..., tuple[int, str, str]]) -> None:
    cli = run_cli
    monkeypatch.setenv("BASE", target_url)
    path = tmp_path / "failing.py"
    path.write_text(FAILING)
    loaded, plan = prepare(LoadRequest(target=str(path)), env={"BASE": target_url})
    result = run_load(loaded, plan, workers=1, env={"BASE": target_url})
    failures = result.extra["failures"]
    assert failures["failed"] == 16 and failures["requests"] == 32
    causes = {c["code"]: (c["meaning"], c["count"]) for c in failures["causes"]}
    assert causes == {"1212": ("connection refused", 8), "HTTP 503": ("Service Unavailable", 8)}
    assert {e["name"]: (e["failed"], e["requests"]) for e in failures["endpoints"]} == {"refused": (8, 8), "unavailable": (8, 8)}
    text = render_summary(result)
    assert "FAILED REQUESTS  16 of 32 (50.00%)" in text
    assert "1212  connection refused: 8" in text and "HTTP 503  Service Unavailable: 8" in text
    assert "refused: 8 of 8 failed" in text
    # iteration exceptions: where they were raised
    assert "default: ValueError: odd iteration  (x4)" in text
    assert f"at {path}:17 in default" in text
    # a check predicate that raised: a failed check, its error shown once with its count
    checks = {c.name: c for c in result.checks}
    assert checks["has nope"].fails == 8 and checks["id by both paths"].passes == 8
    assert checks["options sent"].passes == 8
    assert result.extra["check_errors"] == {"check 'has nope': KeyError: 'nope'": 8}
    assert text.count("KeyError: 'nope'") == 1 and "check 'has nope': KeyError: 'nope'  (x8)" in text
    assert f"at {path}:9 in <lambda>" in text
    # and `results show` of the saved file prints the same block
    saved = tmp_path / "run.json"
    result.save(saved)
    code, out, _ = cli("results", "show", str(saved))
    assert code == 0 and "FAILED REQUESTS  16 of 32" in out and "connection refused: 8" in out


def test_all_refused_quick_run_names_the_cause_and_the_url(tmp_path: Path, run_cli: Callable[..., tuple[int, str, str]]) -> None:
    cli = run_cli
    from assay.harness.ports import free_port

    url = f"http://127.0.0.1:{free_port()}/delay/0.1"
    out_file = tmp_path / "r.json"
    code, out, _ = cli("load", "run", url, "--iterations", "5", "--vus", "1", "--workers", "1", "-o", f"assay={out_file}")
    assert code == 0
    assert "FAILED REQUESTS  5 of 5 (100.00%)" in out and "1212  connection refused: 5" in out
    assert json.loads(out_file.read_text())["name"] == url


def test_res_json_reads_jsonpath_and_k6_selectors() -> None:
    body = json.dumps({"a": {"b": [1, {"c": 5}]}, "odd key": 3}).encode()
    res = Response(200, None, body, (0.0,) * 7, "http://x/")
    assert res.json("$.a.b") == res.json("a.b") == [1, {"c": 5}]
    assert res.json("$.a.b[1].c") == res.json("a.b.1.c") == 5
    assert res.json("a.b.#") == res.json("$.a.b.length()") == 2
    assert res.json("odd key") == 3
    assert res.json("a.missing") is None and res.json("$.a.missing") is None


GAUGE = '''
import asyncio, time
T0 = []
options = {"scenarios": {"open": {"executor": "constant-arrival-rate", "rate": 40, "timeUnit": "1s",
                                  "duration": "2s", "preAllocatedVUs": 20, "maxVUs": 40}}}

async def default(vu):
    if not T0:
        T0.append(time.monotonic())
    if 0.2 <= time.monotonic() - T0[0] < 0.4:
        await asyncio.sleep(0.3)  # a short stall between two gauge samples
'''


def test_arrival_rate_vus_gauge_keeps_the_peak_between_samples(tmp_path: Path) -> None:
    path = tmp_path / "gauge.py"
    path.write_text(GAUGE)
    loaded, plan = prepare(LoadRequest(target=str(path)))
    result = run_load(loaded, plan, workers=1)
    vus = result.metrics["vus"]
    # about 8 iterations start in the 0.2 s window and all sleep through it
    assert vus.max is not None and vus.max >= 6, vus


def test_per_sample_outputs_join_workers_gzip_and_stop_at_their_limit(tmp_path: Path, target_url: str, run_cli: Callable[..., tuple[int, str, str]]) -> None:
    cli = run_cli
    from assay.formats import load_result

    nd, gz, small = tmp_path / "s.ndjson", tmp_path / "s.ndjson.gz", tmp_path / "small.csv"
    code, _, err = cli("load", "run", target_url + "/", "--iterations", "40", "--vus", "2", "--workers", "2", "-q",
                       "-o", f"json={nd}", "-o", f"json={gz}", "--result", str(tmp_path / "r.json"))
    assert code == 0, err
    assert gz.read_bytes()[:2] == b"\x1f\x8b" and not list(tmp_path.glob(".part*"))
    for path in (nd, gz):
        back = load_result(path)
        assert back.metrics["http_reqs"].sum == 40 and back.metrics["iterations"].sum == 40
    declared = [line for line in nd.read_text().splitlines() if line.startswith('{"type":"Metric"')]
    assert len(declared) == len(set(declared))  # both workers' parts, each metric declared once
    # a soak's per-sample file stops at its limit and the run says so; the RunResult stays whole
    code, _, err = cli("load", "run", target_url + "/", "--vus", "2", "-d", "2s", "--workers", "1", "-q",
                       "-o", f"csv={small}", "--out-limit", "20kB", "--result", str(tmp_path / "r2.json"))
    assert code == 0, err
    assert small.stat().st_size <= 20_000 + 300
    assert "per-sample output csv=" in err and "stopped at its limit" in err
    run = json.loads((tmp_path / "r2.json").read_text())
    assert run["metrics"]["http_reqs"]["sum"] > load_result(small).metrics["http_reqs"].sum


def test_separate_runs_are_combined_explicitly_with_honest_rates(tmp_path: Path, target_url: str, run_cli: Callable[..., tuple[int, str, str]]) -> None:
    cli = run_cli
    from datetime import timedelta

    from assay.results import RunResult

    first = tmp_path / "monday.json"
    code, _, err = cli("load", "run", target_url + "/", "--vus", "2", "-d", "1s", "--workers", "1", "-q", "--result", str(first))
    assert code == 0, err
    run = RunResult.from_json(first.read_text())
    later = run.model_copy(deep=True)
    later.name = "tuesday"
    later.started_at = run.started_at + timedelta(days=1)  # type: ignore[operator]
    later.finished_at = run.finished_at + timedelta(days=1)  # type: ignore[operator]
    for bucket in later.timeseries:
        bucket.t += 86400
    second = tmp_path / "tuesday.json"
    later.save(second)
    code, _, err = cli("results", "merge", str(first), str(second), "-o", str(tmp_path / "m.json"))
    assert code == 64 and "separate runs" in err and "assay results combine" in err
    out = tmp_path / "both.json"
    code, _, err = cli("results", "combine", str(first), str(second), "-o", str(out))
    assert code == 0, err
    both = RunResult.from_json(out.read_text())
    assert both.duration_s == pytest.approx(2 * run.duration_s)
    total = 2 * run.metrics["http_reqs"].sum
    assert both.stat("http_reqs", "count") == total
    assert both.stat("http_reqs", "rate") == pytest.approx(run.stat("http_reqs", "rate"))  # not diluted by the day between
    assert any("combined 2 separate runs" in n for n in both.notes)
    # parts of one run (overlapping in time) still merge
    code, _, err = cli("results", "merge", str(first), str(first), "-o", str(tmp_path / "twice.json"))
    assert code == 0, err


def test_expected_interval_correction_matches_hdrhistogram() -> None:
    from assay.load.omission import corrected_histogram
    from assay.results import Histogram

    values = [0.2, 0.3, 0.25, 450.0, 0.2, 12.5, 0.3]
    hist = Histogram()
    reference = Histogram()
    for v in values:
        hist.record(v)
        # the library's own correction, one value at a time (scaled as Histogram stores them)
        reference.hdr.record_corrected_value(int(v * Histogram.SCALE + 0.5), int(2.0 * Histogram.SCALE))
    corrected, _ = corrected_histogram(hist, 2.0)
    # a copy corrects each bucket from its highest equivalent value (as HdrHistogram's
    # copyCorrectedForCoordinatedOmission does): at most one more value per large bucket
    assert 0 <= corrected.count - reference.count <= 2
    for p in (50, 90, 95, 99, 99.9):
        assert corrected.value_at(p) == pytest.approx(reference.value_at(p), rel=0.02)


@pytest.mark.slow
def test_closed_model_reports_corrected_latency_and_warns(tmp_path: Path, target_url: str, run_cli: Callable[..., tuple[int, str, str]]) -> None:
    cli = run_cli
    url = target_url + "/stall?period=2&stall=0.3"
    out = tmp_path / "r.json"
    code, text, err = cli("load", "run", url, "--vus", "4", "-d", "4s", "--workers", "1", "--result", str(out))
    assert code == 0, err
    run = json.loads(out.read_text())
    from assay.results import RunResult

    result = RunResult.from_json(out.read_text())
    measured = result.stat("http_req_duration", "p(99)")
    corrected = result.stat("http_req_corrected_duration", "p(99)")
    assert measured is not None and corrected is not None
    assert corrected > 100.0 and corrected > 5 * measured, (measured, corrected)
    assert "http_req_corrected_duration{scenario:default}" in run["metrics"]
    assert "LATENCY HIDDEN BY THE CLOSED MODEL" in text and "coordinated omission: corrected p(99)" in text
    # the factor is the user's: a large one keeps the summary quiet
    code, text, err = cli("load", "run", url, "--vus", "4", "-d", "2s", "--workers", "1", "--omission-warn-factor", "100000")
    assert code == 0, err
    assert "coordinated omission" not in text and "http_req_corrected_duration" in text
