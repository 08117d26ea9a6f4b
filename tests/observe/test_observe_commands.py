"""Every command that runs something is observable: `chaos run`, `contract verify` and `messaging run`
serve and push their metrics (a real Pushgateway), chaos fault windows included, and emit spans."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from prometheus_helpers import Samples, get, pushgateway_service, run_and_scrape, samples  # noqa: F401 (the pushgateway fixture)

from assay.harness.ports import free_port
from assay.harness.process import ServiceProcess


def _of(found: Samples, name: str, run: str) -> list[tuple[dict[str, str], float]]:
    """One run's samples (a Pushgateway on a shared machine may hold other runs too)."""
    return [(labels, value) for labels, value in found.get(name, []) if labels.get("run") == run]




def _assay(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "assay", *args], capture_output=True, text=True, timeout=timeout)


def _experiment(tmp_path: Path) -> Path:
    """A method action that 'injects' a fault, then holds it for 4 s; a rollback reverts it."""
    doc: dict[str, Any] = {
        "title": "observed fault window",
        "description": "a process action as the fault",
        "steady-state-hypothesis": {
            "title": "always fine",
            "probes": [{"type": "probe", "name": "ok", "tolerance": 0, "provider": {"type": "process", "path": sys.executable, "arguments": "-c pass"}}],
        },
        "method": [
            {"type": "action", "name": "inject-latency", "provider": {"type": "process", "path": sys.executable, "arguments": "-c pass"},
             "pauses": {"after": 4}},
        ],
        "rollbacks": [{"type": "action", "name": "remove-latency", "provider": {"type": "process", "path": sys.executable, "arguments": "-c pass"}}],
    }
    path = tmp_path / "observed.json"
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.slow
def test_chaos_run_serves_fault_windows_and_pushes_its_result(pushgateway: str, tmp_path: Path) -> None:
    port = free_port()
    cmd = [sys.executable, "-m", "assay", "chaos", "run", str(_experiment(tmp_path)), "--journal-path", str(tmp_path / "j.json"),
           "--metrics-port", str(port), "--pushgateway", pushgateway]

    def window_open(found: Samples) -> bool:
        return any(value == 1.0 for _, value in _of(found, "assay_fault_active", "observed"))

    code, err, live = run_and_scrape(cmd, port, window_open, timeout=60)
    assert code == 0, err
    during = [s for s in _of(live, "assay_fault_active", "observed") if s[1] == 1.0]
    [(labels, _)] = during  # the window was open while the method held the fault
    assert labels["fault"] == "inject-latency" and labels["kind"] == "chaos" and labels["run"] == "observed"
    pushed = samples(get(f"{pushgateway}/metrics"))
    [(labels, active)] = _of(pushed, "assay_fault_active", "observed")
    assert active == 0.0 and labels["fault"] == "inject-latency"  # closed by the rollbacks
    [(labels, status)] = _of(pushed, "assay_run_status", "observed")
    assert status == 0 and labels["job"] == "assay" and labels["run"] == "observed"
    [(_, duration)] = _of(pushed, "e2e_suite_duration_seconds", "observed")
    assert duration >= 4


class _Provider:
    """A provider whose /users/1 answers the pact and /users/2 does not."""

    @staticmethod
    def serve(tmp_path: Path) -> tuple[list[str], int]:
        port = free_port()
        (tmp_path / "users").mkdir(parents=True)
        (tmp_path / "users" / "1").write_text(json.dumps({"id": 1}))
        return [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(tmp_path)], port


def _pact(tmp_path: Path) -> Path:
    def interaction(n: int) -> dict[str, Any]:
        return {"description": f"user {n}", "request": {"method": "GET", "path": f"/users/{n}"}, "response": {"status": 200}}

    doc = {"consumer": {"name": "ObsWeb"}, "provider": {"name": "ObsApi"}, "interactions": [interaction(1), interaction(2), interaction(3)],
           "metadata": {"pactSpecification": {"version": "3.0.0"}}}
    path = tmp_path / "pact.json"
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.slow
def test_contract_verify_pushes_its_failures(pushgateway: str, tmp_path: Path) -> None:
    pact = _pact(tmp_path)
    cmd, port = _Provider.serve(tmp_path / "site")
    with ServiceProcess(cmd, port=port):
        done = _assay("contract", "verify", "--provider", "ObsApi", "--pact", str(pact), "--provider-base-url", f"http://127.0.0.1:{port}",
                      "--no-replay", "--pushgateway", pushgateway)
    assert done.returncode == 2, done.stderr  # users 2 and 3 are 404
    pushed = samples(get(f"{pushgateway}/metrics"))
    [(labels, failures)] = _of(pushed, "contract_test_failures_total", "ObsApi")
    assert failures == 2 and labels["kind"] == "contract" and labels["run"] == "ObsApi"
    [(_, status)] = _of(pushed, "assay_run_status", "ObsApi")
    assert status == 2


def test_observing_flags_fail_before_any_work(tmp_path: Path) -> None:
    journal = tmp_path / "j.json"
    gone = f"http://127.0.0.1:{free_port()}"
    done = _assay("chaos", "run", str(_experiment(tmp_path)), "--journal-path", str(journal), "--pushgateway", gone)
    assert done.returncode == 64 and "could not push metrics to the Pushgateway" in done.stderr and "Traceback" not in done.stderr
    assert not journal.exists()  # nothing ran
    done = _assay("messaging", "run", "--broker", "redis://127.0.0.1:6379", "--count", "10", "--pushgateway", gone)
    assert done.returncode == 64 and "could not push metrics" in done.stderr and "Traceback" not in done.stderr


def test_chaos_phases_are_spans(tmp_path: Path) -> None:
    """With an OTLP endpoint, the run and each chaos phase are spans (an in-process exporter here)."""
    pytest.importorskip("opentelemetry.sdk")
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from assay.cli.observing import ObservedRun
    from assay.observe.tracing import TRACING

    exporter = InMemorySpanExporter()
    TRACING.configure(exporter=exporter)  # as --otel-endpoint would, with an exporter the test can read
    observed = ObservedRun("exp", "chaos", metrics_port=None, pushgateway=None, otel_endpoint=None)
    with observed:
        for phase in ("hypothesis before", "method", "hypothesis after", "rollbacks"):
            observed.event("phase", {"name": phase})
    spans = exporter.get_finished_spans()
    names = [(s.name, dict(s.attributes or {}).get("phase")) for s in spans]
    assert names == [("chaos.phase", "hypothesis before"), ("chaos.phase", "method"), ("chaos.phase", "hypothesis after"),
                     ("chaos.phase", "rollbacks"), ("chaos.run", None)]
    root = spans[-1]
    assert all(s.parent is not None and s.parent.span_id == root.context.span_id for s in spans[:-1])


@pytest.mark.slow
def test_chaos_run_samples_the_target_processes(tmp_path: Path) -> None:
    """`--sample` on a chaos run: the target's resources go into the chaos result with leak verdicts."""
    target = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        out = tmp_path / "r.json"
        done = _assay("chaos", "run", str(_experiment(tmp_path)), "--journal-path", str(tmp_path / "j.json"), "--result", str(out),
                      "--sample", f"web={target.pid}")
    finally:
        target.kill()
        target.wait()
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    assert result["kind"] == "chaos"
    assert result["metrics"]["proc_rss_bytes{proc:web}"]["value"] > 0
    assert any(leak["metric"] == "proc_rss_bytes{proc:web}" for leak in result["extra"]["leaks"])
    assert "leak check: proc_rss_bytes{proc:web}" in done.stderr


def test_chaos_run_bad_sample_fails_before_the_experiment(tmp_path: Path) -> None:
    journal = tmp_path / "j.json"
    done = _assay("chaos", "run", str(_experiment(tmp_path)), "--journal-path", str(journal), "--sample", "re:(")
    assert done.returncode == 64 and "not a valid pattern" in done.stderr and "Traceback" not in done.stderr
    assert not journal.exists()
