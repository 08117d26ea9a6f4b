"""Process faults against a real HTTP service the harness started, checked from outside."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from fault_helpers import sigkill, start_owner, wait_until

from assay.faults import injector
from assay.faults.model import FaultError
from assay.harness.ports import port_is_open
from assay.harness.process import ServiceProcess


def _get(svc: ServiceProcess, timeout: float = 2.0) -> int:
    return httpx.get(f"http://127.0.0.1:{svc.port}/", timeout=timeout).status_code


def test_kill_refuses_connections_then_restart_brings_it_back(http_service: ServiceProcess) -> None:
    old_pid = http_service.proc.pid if http_service.proc else 0
    fault = injector.inject("process.kill", f"service:{http_service.name}", duration="1s", restart=True)
    assert fault.record["signal"] == "SIGKILL" and fault.record["pids"] == [old_pid]
    with pytest.raises(httpx.ConnectError):
        _get(http_service)
    assert wait_until(lambda: port_is_open("127.0.0.1", http_service.port or 0), 15)
    assert _get(http_service) == 200
    assert http_service.proc is not None and http_service.proc.pid != old_pid
    assert wait_until(lambda: fault.status == "reverted", 30)


def test_kill_with_sigterm_without_restart(http_service: ServiceProcess) -> None:
    with injector.inject("process.kill", f"service:{http_service.name}", duration="0.1s", signal="TERM") as fault:
        assert fault.record["signal"] == "SIGTERM"
        assert http_service.proc is not None and http_service.proc.returncode == -15
        assert not port_is_open("127.0.0.1", http_service.port or 0)


def test_restart_needs_a_service() -> None:
    with pytest.raises(FaultError, match="service"):
        injector.inject("process.kill", "pid:999999", duration=1, restart=True)


def test_pause_hangs_requests_which_then_resume(http_service: ServiceProcess) -> None:
    assert _get(http_service) == 200
    fault = injector.inject("process.pause", f"service:{http_service.name}", duration="1.5s")
    with pytest.raises(httpx.ReadTimeout):
        _get(http_service, timeout=0.5)
    results: list[tuple[int, float]] = []
    t0 = time.monotonic()

    def call() -> None:
        results.append((_get(http_service, timeout=60), time.monotonic() - t0))

    worker = threading.Thread(target=call)
    worker.start()
    worker.join(60)
    assert results and results[0][0] == 200
    assert results[0][1] > 0.5  # it hung until SIGCONT, then answered
    assert wait_until(lambda: fault.status == "reverted", 30)


def test_restart_measures_time_to_healthy(http_service: ServiceProcess) -> None:
    old_pid = http_service.proc.pid if http_service.proc else 0
    fault = injector.inject("process.restart", f"service:{http_service.name}", wait="0.2s")
    assert fault.record["old_pid"] == old_pid != fault.record["new_pid"]
    assert 0 < fault.record["time_to_healthy_s"] < fault.record["downtime_s"]
    assert fault.record["downtime_s"] >= 0.2
    assert _get(http_service) == 200
    assert [e.kind for e in fault.events] == ["injected", "reverted"]


def test_sigkill_owner_mid_pause_resumes_the_service(http_service: ServiceProcess) -> None:
    owner, _ = start_owner("process.pause", f"pid:{http_service.proc.pid if http_service.proc else 0}", "30s", {})
    with pytest.raises(httpx.ReadTimeout):
        _get(http_service, timeout=0.3)
    sigkill(owner)
    assert wait_until(lambda: _get(http_service, timeout=3) == 200, 30)


def test_pattern_target_matches_command_lines(http_service: ServiceProcess) -> None:
    with injector.inject("process.pause", f"pattern:(?s)ThreadingHTTPServer.* {http_service.port}$", duration=5) as fault:
        assert [p["pid"] for p in fault.record["processes"]] == [http_service.proc.pid if http_service.proc else 0]
    assert _get(http_service) == 200
    with pytest.raises(FaultError, match="no process"):
        injector.inject("process.pause", "pattern:^no-such-command-anywhere-xyz$", duration=1)
