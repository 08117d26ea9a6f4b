"""The fault model: registry, located parameter errors, events, TTL and the watchdog."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fault_helpers import sigkill, start_owner, wait_until

from assay.config import ConfigError
from assay.faults import injector, registry
from assay.faults.model import FaultError, FaultRefused, parse_duration


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().rsplit(")", 1)[1].split()[0]


def _resumed(pid: int) -> bool:
    """Running again: back asleep in nanosleep (S) or, on a busy box, still runnable (R) after SIGCONT."""
    return _state(pid) in ("S", "R")


@pytest.fixture
def sleeper():
    proc = subprocess.Popen(["sleep", "60"])
    yield proc
    proc.kill()
    proc.wait()


def test_registry_names_every_type_and_suggests_on_typo() -> None:
    names = {t.name for t in registry.all_types()}
    assert {"process.kill", "process.pause", "process.restart"} <= names
    with pytest.raises(FaultError, match="did you mean 'process.pause'"):
        registry.get("process.pasue")


def test_bad_parameter_is_a_located_error() -> None:
    with pytest.raises(ConfigError) as info:
        injector.validate("process.kill", {"signl": "SIGTERM"})
    assert "signl" in info.value.message and "signal" in info.value.message
    with pytest.raises(ConfigError, match="unknown signal"):
        injector.validate("process.kill", {"signal": "SIGNOPE"})


def test_durations_parse_like_go() -> None:
    assert parse_duration("1m30s") == 90
    assert parse_duration("250ms") == 0.25
    assert parse_duration(2) == 2.0
    with pytest.raises(ValueError):
        parse_duration("3 parsecs")


def test_pause_reverts_at_ttl_with_events(sleeper: subprocess.Popen[bytes]) -> None:
    fault = injector.inject("process.pause", f"pid:{sleeper.pid}", duration="0.6s")
    assert _state(sleeper.pid) == "T"
    assert wait_until(lambda: _state(sleeper.pid) == "S", 30)
    assert wait_until(lambda: fault.status == "reverted", 30)
    kinds = [e.kind for e in fault.events]
    assert kinds == ["injected", "reverted"]
    times = [e.time for e in fault.events]
    assert 0.5 < times[1] - times[0] < 2.5


def test_context_manager_reverts_on_exception_and_twice_is_harmless(sleeper: subprocess.Popen[bytes]) -> None:
    with pytest.raises(RuntimeError):
        with injector.inject("process.pause", f"pid:{sleeper.pid}", duration=30) as fault:
            assert _state(sleeper.pid) == "T"
            raise RuntimeError("boom")
    assert _resumed(sleeper.pid)
    fault.revert()
    assert injector.revert(fault.id) is False
    assert [e.kind for e in fault.events] == ["injected", "reverted"]


def test_sigkill_of_the_owner_reverts(sleeper: subprocess.Popen[bytes]) -> None:
    owner, fault_id = start_owner("process.pause", f"pid:{sleeper.pid}", "20s", {})
    assert _state(sleeper.pid) == "T"
    assert [f["fault_id"] for f in injector.active()] == [fault_id]
    sigkill(owner)
    assert wait_until(lambda: _state(sleeper.pid) == "S", 30)
    assert wait_until(lambda: injector.active() == [], 30)


@pytest.mark.slow
def test_background_fault_is_reverted_by_the_watchdog_at_ttl(sleeper: subprocess.Popen[bytes], fault_dir: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "assay", "fault", "inject", "process.pause", "-t", f"pid:{sleeper.pid}",
         "-d", "8s", "--background", "--json"],
        capture_output=True, text=True, timeout=30, env=os.environ.copy(),
    )
    assert out.returncode == 0, out.stderr
    fault_id = json.loads(out.stdout)["id"]
    assert _state(sleeper.pid) == "T"
    assert [f["fault_id"] for f in injector.active()] == [fault_id]
    assert wait_until(lambda: _state(sleeper.pid) == "S", 20)

    def events() -> list[dict[str, str]]:
        return [json.loads(line) for line in (fault_dir / "events.jsonl").read_text().splitlines()]

    # the watchdog resumes the process, then records the revert: on a busy box the test can look in between
    assert wait_until(lambda: len(events()) == 2, 10), events()
    assert [e["kind"] for e in events()] == ["injected", "reverted"]
    assert "TTL" in events()[1]["detail"]


def test_cli_revert_by_id_and_all(sleeper: subprocess.Popen[bytes]) -> None:
    a = injector.inject("process.pause", f"pid:{sleeper.pid}", duration=60, owned=False)
    listed = subprocess.run([sys.executable, "-m", "assay", "fault", "list", "--json"], capture_output=True, text=True, timeout=60)
    assert [f["fault_id"] for f in json.loads(listed.stdout)] == [a.id]
    out = subprocess.run([sys.executable, "-m", "assay", "fault", "revert", a.id], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and f"reverted {a.id}" in out.stdout
    assert _resumed(sleeper.pid)
    injector.inject("process.pause", f"pid:{sleeper.pid}", duration=30, owned=False)
    out = subprocess.run([sys.executable, "-m", "assay", "fault", "revert", "--all"], capture_output=True, text=True, timeout=30)
    assert "reverted 1 fault" in out.stdout
    assert _resumed(sleeper.pid)


@pytest.mark.parametrize(
    "args, message",
    [
        (["inject", "process.pause", "-t", "pid:1", "-d", "1s"], "PID 1"),
        (["inject", "process.pause", "-t", "pid:123", "-a", "childs=1", "-d", "1s"], "childs"),
        (["inject", "process.kil", "-d", "1s"], "did you mean"),
        (["inject", "process.pause", "-t", f"pid:{os.getpid()}", "-d", "1s"], "runner itself"),
        (["inject", "process.pause", "-t", "pid:999999", "-d", "nope"], "duration"),
    ],
)
def test_cli_bad_input_exits_64(args: list[str], message: str) -> None:
    out = subprocess.run([sys.executable, "-m", "assay", "fault", *args], capture_output=True, text=True, timeout=30)
    assert out.returncode == 64, out.stderr
    assert message in out.stderr and "Traceback" not in out.stderr


def test_other_users_processes_are_refused() -> None:
    import psutil

    other = [p for p in psutil.process_iter(["uids"]) if p.info["uids"] and p.info["uids"].real != os.getuid()]
    if not other:
        pytest.skip("no process of another user on this machine")
    with pytest.raises(FaultRefused, match="another user"):
        injector.inject("process.pause", f"pid:{other[0].pid}", duration=1)


def test_types_catalogue_lists_parameters() -> None:
    out = subprocess.run([sys.executable, "-m", "assay", "fault", "types", "--json"], capture_output=True, text=True, timeout=30)
    data = json.loads(out.stdout)
    assert data["process.kill"]["params"]["properties"]["signal"]["default"] == "SIGKILL"
    assert signal.SIGKILL.name == "SIGKILL"
    assert time.time() > 0


def test_the_watchdog_and_injector_import_without_the_proxy() -> None:
    """assay.faults is lazy: a watchdog starting for every fault must not load the proxy server and HTTP client."""
    code = ("import sys, assay.faults.watchdog, assay.faults.injector; "
            "print(sorted(m for m in ('httpx', 'assay.faults.server', 'assay.faults.client') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stderr
    names = subprocess.run([sys.executable, "-c", "from assay.faults import ProxyServer, Toxiproxy; print(Toxiproxy.__name__)"],
                           capture_output=True, text=True, timeout=60)
    assert names.stdout.strip() == "Toxiproxy", names.stderr
