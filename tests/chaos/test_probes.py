"""assay's own probes in experiments: HTTP (status, headers, JSON, latency), TCP connect, a Prometheus
text scrape (gauge, counter increase, histogram p95), a PromQL query against a real Prometheus,
a log pattern, and an SLO file on the background load's phase result."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from assay.chaos.runner import RunOptions
from assay.chaos.session import run_file


@pytest.fixture(autouse=True)
def _lock_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSAY_CHAOS_LOCK_DIR", str(tmp_path / "locks"))


def _probe(title: str, func: str, tolerance: Any, **arguments: Any) -> dict[str, Any]:
    return {"type": "probe", "name": title, "tolerance": tolerance,
            "provider": {"type": "assay", "func": func, "arguments": arguments}}


def _run(tmp_path: Path, probes: list[dict[str, Any]], method: list[dict[str, Any]] | None = None,
         extensions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    exp = tmp_path / "exp.json"
    exp.write_text(json.dumps({"title": "probes", "description": "assay probes",
                               "steady-state-hypothesis": {"title": "all probes", "probes": probes},
                               "method": method or [], "extensions": extensions or []}))
    return run_file(exp, RunOptions(), journal_path=tmp_path / "journal.json").journal


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_http_probe_checks_status_headers_json_and_latency(tmp_path: Path, http_service: str) -> None:
    good = _probe("headers", "http", True, url=f"{http_service}/headers", expect_status=200,
                  expect_headers={"X-Version": "/^v3\\./", "Content-Type": "application/json", "X-Debug": None},
                  expect_json={"$.status": "ok", "$.version": 3}, max_latency="2s")
    journal = _run(tmp_path, [good])
    probe = journal["steady_states"]["before"]["probes"][0]
    assert journal["steady_states"]["before"]["steady_state_met"] is True
    assert probe["output"]["ok"] is True and probe["output"]["latency_ms"] > 0
    bad = _probe("headers", "http", True, url=f"{http_service}/headers", expect_headers={"X-Version": "v4"},
                 expect_json={"$.version": 4}, body_excludes=["postgresql://"])
    journal = _run(tmp_path, [bad])
    probe = journal["steady_states"]["before"]["probes"][0]
    assert journal["steady_states"]["before"]["steady_state_met"] is False
    assert probe["output"]["problems"] == ["header X-Version is 'v3.1', expected 'v4'", "$.version is 3, expected 4"]


def test_http_probe_latency_limit(tmp_path: Path, recovering_service: str) -> None:
    httpx.post(f"{recovering_service}/slow?ms=300")
    journal = _run(tmp_path, [_probe("fast enough", "http", True, url=f"{recovering_service}/health", max_latency="100ms")])
    out = journal["steady_states"]["before"]["probes"][0]["output"]
    assert out["ok"] is False and out["latency_ms"] >= 300 and "above 100 ms" in out["problems"][0]


def test_tcp_probe_connects_or_not(tmp_path: Path, http_service: str) -> None:
    port = int(http_service.rsplit(":", 1)[1])
    journal = _run(tmp_path, [_probe("open", "tcp", True, host="127.0.0.1", port=port),
                              _probe("closed", "tcp", False, host="127.0.0.1", port=_closed_port(), timeout="500ms")])
    before = journal["steady_states"]["before"]
    assert before["steady_state_met"] is True
    assert before["probes"][0]["output"]["connect_ms"] is not None
    assert "ConnectionRefusedError" in before["probes"][1]["output"]["error"]


def test_metric_probe_reads_a_scrape_without_prometheus(tmp_path: Path, recovering_service: str) -> None:
    base = recovering_service
    gauge = _probe("outbox depth", "metric", {"type": "range", "range": [0, 10]}, url=f"{base}/metrics",
                   name="demo_queue_depth", labels={"queue": "outbox"})
    p95 = _probe("p95", "metric", {"type": "range", "range": [0.7, 0.8]}, url=f"{base}/metrics",
                 name="demo_latency_seconds", mode="p95")
    increase = _probe("requests grew", "metric", {"type": "range", "range": [3, 1000]}, url=f"{base}/metrics",
                      name="demo_requests", labels={"route": "/health"}, mode="increase")
    hits = [{"type": "action", "name": f"hit {i}", "provider": {"type": "http", "url": f"{base}/health"}} for i in range(3)]
    journal = _run(tmp_path, [gauge, p95, increase], method=hits)
    before, after = journal["steady_states"]["before"], journal["steady_states"]["after"]
    assert [p["output"] for p in before["probes"]] == [7.0, pytest.approx(0.75), 0.0]
    assert before["probes"][2]["tolerance_met"] is False  # nothing has grown yet: the gate stops the method
    assert after is None and journal["run"] == []
    journal = _run(tmp_path, [gauge, p95], method=hits)
    assert journal["steady_states"]["after"]["steady_state_met"] is True


def test_metric_probe_missing_metric_fails_the_probe(tmp_path: Path, http_service: str) -> None:
    journal = _run(tmp_path, [_probe("nope", "metric", 1, url=f"{http_service}/metrics", name="no_such_metric")])
    probe = journal["steady_states"]["before"]["probes"][0]
    assert probe["status"] == "failed" and "no sample no_such_metric" in probe["exception"][-1]
    assert journal["status"] == "failed"


@pytest.fixture
def prometheus(tmp_path: Path, http_service: str, system_tool: Any) -> Iterator[str]:
    """A real Prometheus scraping the test service every 200 ms (apt: prometheus)."""
    binary = system_tool("prometheus")
    port = _closed_port()
    target = http_service.removeprefix("http://")
    config = tmp_path / "prometheus.yml"
    config.write_text(f"global: {{scrape_interval: 200ms, evaluation_interval: 1s}}\n"
                      f"scrape_configs: [{{job_name: demo, static_configs: [{{targets: ['{target}']}}]}}]\n")
    proc = subprocess.Popen([binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                             f"--web.listen-address=127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                body = httpx.get(f"{url}/api/v1/query", params={"query": "demo_queue_depth"}, timeout=2).json()
                if body["data"]["result"]:
                    break
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            time.sleep(0.3)
        else:
            pytest.fail("prometheus did not scrape the service within 60 s")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.slow
def test_prometheus_query_probe_against_a_real_prometheus(tmp_path: Path, prometheus: str) -> None:
    journal = _run(tmp_path, [
        _probe("outbox", "prometheus", {"type": "range", "range": [7, 7]}, url=prometheus, query='demo_queue_depth{queue="outbox"}'),
        _probe("p95", "prometheus", {"type": "range", "range": [0.7, 0.8]}, url=prometheus,
               query="histogram_quantile(0.95, demo_latency_seconds_bucket)"),
    ])
    assert journal["steady_states"]["before"]["steady_state_met"] is True, journal["steady_states"]["before"]
    journal = _run(tmp_path, [_probe("bad", "prometheus", 0, url=prometheus, query="sum(")])
    probe = journal["steady_states"]["before"]["probes"][0]
    assert probe["status"] == "failed" and "bad_data" in probe["exception"][-1]


def test_log_probe_sees_lines_written_during_the_run_only(tmp_path: Path) -> None:
    log = tmp_path / "service.log"
    log.write_text("ERROR old failure before the run\n")
    write = {"type": "action", "name": "service logs", "provider": {
        "type": "process", "path": "sh", "arguments": ["-c", f"echo 'WARN circuit breaker open' >> {log}"]}}
    exp_probes = [_probe("no errors", "log", True, path=str(log), pattern="ERROR", expect="absent"),
                  _probe("breaker opened", "log", True, path=str(log), pattern="breaker (open|opened)")]
    journal = _run(tmp_path, exp_probes[:1], method=[write])
    assert journal["steady_states"]["before"]["steady_state_met"] is True  # the old ERROR predates the run
    exp = tmp_path / "exp2.json"
    exp.write_text(json.dumps({"title": "log", "description": "log probe in the method", "method": [write, exp_probes[1]]}))
    journal = run_file(exp, RunOptions(), journal_path=tmp_path / "j2.json").journal
    assert journal["run"][1]["output"]["matches"] == 1
    assert journal["run"][1]["output"]["first"] == ["WARN circuit breaker open"]


@pytest.mark.slow
def test_slo_probe_judges_the_phase_result_of_the_background_load(tmp_path: Path, recovering_service: str) -> None:
    slo = tmp_path / "slo.yaml"
    slo.write_text("objectives:\n  - name: errors\n    sli: http_req_failed\n    aggregation: rate\n    pass: ['<0.01']\n"
                   "    key: true\n")
    wait = {"type": "action", "name": "traffic flows", "provider": {"type": "process", "path": "sleep", "arguments": ["2.5"]}}
    slo_probe = {"type": "probe", "name": "slo holds", "provider": {"type": "assay", "func": "slo", "arguments": {"slo": str(slo)}}}
    exp = tmp_path / "exp.json"
    exp.write_text(json.dumps({
        "title": "slo", "description": "the SLO on the load during the method",
        "method": [wait, slo_probe,
                   {"type": "action", "name": "break", "provider": {"type": "http", "url": f"{recovering_service}/break", "method": "POST"}},
                   wait, slo_probe],
        "extensions": [{"name": "assay", "load": {"url": f"{recovering_service}/health", "rate": 20, "segment": "500ms"}}],
    }))
    journal = run_file(exp, RunOptions(), journal_path=tmp_path / "j.json").journal
    first, second = journal["run"][1]["output"], journal["run"][4]["output"]
    assert first["ok"] is True and first["status"] == "PASS"
    assert second["ok"] is False and second["failing"] == ["errors"]
