"""The run's own metrics: scraped live from --metrics-port and pushed to a real Pushgateway."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_helpers import get, pushgateway_service, run_and_scrape, samples  # noqa: F401 (the pushgateway fixture)

from assay.harness.ports import free_port
from assay.harness.process import ServiceProcess
from assay.observe.metrics import EMITTED


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    cmd = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(tmp_path)]
    with ServiceProcess(cmd, port=port):
        yield f"http://127.0.0.1:{port}/"


@pytest.mark.slow
def test_live_metrics_and_push(pushgateway: str, server: str, tmp_path: Path) -> None:
    port = free_port()
    cmd = [sys.executable, "-m", "assay", "load", "run", server, "--rate", "20", "--duration", "6s", "--workers", "1", "--quiet"]
    cmd += ["--name", "observe-metrics", "--metrics-port", str(port), "--pushgateway", pushgateway]
    cmd += ["--threshold", "http_req_duration:p(95)<0.001"]  # crossed on purpose: one breach
    code, err, live = run_and_scrape(cmd, port, lambda found: any(v > 0 for _, v in found.get("assay_load_requests_total", [])))
    assert code == 99, err
    # seen while the test ran, with the run's labels
    [(labels, requests)] = live["assay_load_requests_total"]
    assert requests > 0 and labels["run"] == "observe-metrics" and labels["kind"] == "load" and labels["host"]
    assert "assay_load_vus" in live and "assay_load_requests_per_second" in live
    # pushed at the end: the breach, the duration, the final totals
    pushed = samples(get(f"{pushgateway}/metrics"))
    [(labels, breaches)] = pushed["k6_threshold_breaches_total"]
    assert breaches == 1 and labels["job"] == "assay" and labels["run"] == "observe-metrics"
    [(_, duration)] = pushed["e2e_suite_duration_seconds"]
    assert 5 <= duration < 120
    [(_, total)] = pushed["assay_load_requests_total"]
    assert total >= requests
    [(_, status)] = pushed["assay_run_status"]
    assert status == 2  # a crossed threshold fails the run (exit 99)
    for name in EMITTED:
        family = name[: -len("_total")] + "_total" if name.endswith("_total") else name
        assert family in pushed, name


def test_unreachable_pushgateway_is_a_usage_error(server: str) -> None:
    cmd = [sys.executable, "-m", "assay", "load", "run", server, "--duration", "1s", "--quiet", "--pushgateway", f"http://127.0.0.1:{free_port()}"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 64 and "could not push metrics to the Pushgateway" in done.stderr
