"""`assay load run --record`: the run lands in the trend store as `assay trend record` would put it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from assay.harness.ports import free_port
from assay.harness.process import ServiceProcess
from assay.results import RunResult
from assay.trends.store import open_store


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServiceProcess]:
    port = free_port()
    with ServiceProcess([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(tmp_path)], port=port) as proc:
        yield proc


def _load(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "assay", "load", "run", *args], capture_output=True, text=True, timeout=240)


@pytest.mark.slow
def test_load_run_records_the_run_with_its_histograms(server: ServiceProcess, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'trends.db'}"
    out = tmp_path / "run.json"
    done = _load(
        f"http://127.0.0.1:{server.port}/", "--iterations", "40", "--vus", "2", "--workers", "1", "--quiet",
        "--name", "smoke", "--tag", "env=ci", "--result", str(out), "--record", "--store", url,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "recorded run" in done.stderr and "(smoke)" in done.stderr
    saved = json.loads(out.read_text())
    with open_store(url) as store:
        [run] = store.runs()
        assert run.run_id == saved["id"] and run.scenario == "smoke"
        metric = store.metrics("http_req_duration", [run])[run.pk]
        assert metric.count == saved["metrics"]["http_req_duration"]["count"] == 40
        assert metric.stat("p(95)") == pytest.approx(RunResult.from_json(out.read_text()).stat("http_req_duration", "p(95)"))


def test_a_bad_store_fails_before_any_traffic(tmp_path: Path) -> None:
    done = _load("http://127.0.0.1:9/", "--iterations", "1", "--record", "--store", "mysql://nowhere/x")
    assert done.returncode == 64, done.stderr
    assert "--store" in done.stderr and "Traceback" not in done.stderr
    done = _load("http://127.0.0.1:9/", "--iterations", "1", "--store", f"sqlite:///{tmp_path / 'x.db'}")
    assert done.returncode == 64 and "--record" in done.stderr
