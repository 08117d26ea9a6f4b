"""`assay load run --sample`: the target's and the generator's resources land in the result."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from assay.harness.ports import free_port
from assay.harness.process import ServiceProcess

ASSAY = [sys.executable, "-m", "assay", "load", "run"]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServiceProcess]:
    port = free_port()
    proc = ServiceProcess([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(tmp_path)], port=port)
    with proc:
        yield proc


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ASSAY, *args], capture_output=True, text=True, timeout=240)


@pytest.mark.slow
def test_sample_a_server_during_a_load_run(server: ServiceProcess, tmp_path: Path) -> None:
    assert server.proc is not None
    out = tmp_path / "run.json"
    done = _run(
        f"http://127.0.0.1:{server.port}/",
        "--rate", "20", "--duration", "3s", "--workers", "1", "--quiet",
        "--sample", f"srv={server.proc.pid}",
        "--threshold", "proc_rss_bytes{proc:srv}:slope<1GB/h",
        "--threshold", "proc_open_fds{proc:srv}:value<1000",
        "--threshold", "http_req_failed:rate<0.5",
        "--result", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    metrics = result["metrics"]
    for name in ("proc_rss_bytes{proc:srv}", "proc_open_fds{proc:srv}", "proc_rss_bytes{proc:assay}", "proc_cpu_percent{proc:srv}"):
        assert metrics[name]["type"] == "gauge" and metrics[name]["count"] >= 1
    assert [t["source"] for t in metrics["proc_rss_bytes{proc:srv}"]["thresholds"]] == ["slope<1GB/h"]
    assert metrics["proc_open_fds{proc:srv}"]["thresholds"][0]["ok"] is True
    assert metrics["http_reqs"]["count"] > 0
    assert {v["metric"] for v in result["extra"]["leaks"]} >= {"proc_rss_bytes{proc:srv}", "proc_open_fds{proc:srv}"}
    assert any("proc_rss_bytes{proc:srv}" in b["metrics"] for b in result["timeseries"])


def test_resource_threshold_on_an_unsampled_process_is_a_usage_error(tmp_path: Path) -> None:
    done = _run("http://127.0.0.1:9/", "--duration", "1s", "--sample", "srv=1", "--threshold", "proc_rss_bytes{proc:other}:growth<5%")
    assert done.returncode == 64
    assert "proc tag naming a sampled process" in done.stderr and "srv" in done.stderr
    done = _run("http://127.0.0.1:9/", "--duration", "1s", "--sample", "srv=1", "--threshold", "proc_rss_bytes{proc:srv}:slope<10MB/day")
    assert done.returncode == 64 and "unknown unit" in done.stderr
