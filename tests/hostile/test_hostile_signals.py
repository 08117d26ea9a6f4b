"""SIGTERM (how CI stops a job) and SIGINT mid-run, with one and two workers: the run stops
gracefully, writes every requested output, and exits 1 (interrupted), never 143 or 130."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hostile_servers import hostile_server

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_mid_run_writes_the_results(sig: signal.Signals, workers: int, tmp_path: Path) -> None:
    summary, result = tmp_path / "summary.json", tmp_path / "result.json"
    with hostile_server("ok") as url:
        proc = subprocess.Popen(
            [sys.executable, "-m", "assay", "load", "run", url + "/", "--vus", "2", "--duration", "60s",
             "-w", str(workers), "--summary-export", str(summary), "--result", str(result)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert proc.stderr is not None
        # the plain progress line (not a TTY) says the run is under way
        deadline = time.monotonic() + 30
        first = ""
        while time.monotonic() < deadline and "running" not in first:
            first = proc.stderr.readline()
        assert "running" in first, first
        time.sleep(1.0)
        t_signal = time.monotonic()
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
        stopped_in = time.monotonic() - t_signal
    assert proc.returncode == 1, err
    assert stopped_in < 15, stopped_in
    assert "Traceback" not in err
    assert "interrupted" in err
    data = json.loads(result.read_text())
    assert data["status"] == "aborted"
    assert data["metrics"]["http_reqs"]["count"] > 0
    exported = json.loads(summary.read_text())
    assert exported["metrics"]["http_reqs"]["count"] == data["metrics"]["http_reqs"]["count"]


def test_ctrl_c_works_while_the_scheduler_is_behind_at_the_highest_rate(tmp_path: Path) -> None:
    # one VU cannot keep up with 1,000,000 iterations/s: the scheduler is always behind and
    # drops iterations in a loop that must still yield, or the signal handler never runs
    scenario = tmp_path / "flood.yaml"
    result = tmp_path / "result.json"
    with hostile_server("ok") as url:
        scenario.write_text(
            f"base_url: {url}\noptions:\n  scenarios:\n    flood: {{executor: constant-arrival-rate, rate: 1000000, "
            "duration: 60s, preAllocatedVUs: 1, maxVUs: 1}\nrequests:\n  - url: /\n"
        )
        proc = subprocess.Popen([sys.executable, "-m", "assay", "load", "run", str(scenario), "-w", "1", "--result", str(result)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert proc.stderr is not None
        deadline = time.monotonic() + 30
        first = ""
        while time.monotonic() < deadline and "running" not in first:
            first = proc.stderr.readline()
        assert "running" in first, first
        t_signal = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        stopped_in = time.monotonic() - t_signal
    assert proc.returncode == 1, err
    assert stopped_in < 15
    data = json.loads(result.read_text())
    assert data["metrics"]["dropped_iterations"]["count"] > 0
