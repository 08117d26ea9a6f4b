"""Safety guards: availability and error-rate aborts revert at once, the per-target lock, the duration cap."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import psutil
import pytest

from assay.chaos import guards
from assay.chaos.guards import GuardRefused, SafetySpec, Watch
from assay.chaos.runner import RunOptions
from assay.chaos.session import run_file


@pytest.fixture(autouse=True)
def _lock_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSAY_CHAOS_LOCK_DIR", str(tmp_path / "locks"))


def _pause_fault(pid: int, duration: str = "60s") -> dict[str, Any]:
    return {"type": "action", "name": "pause", "provider": {"type": "assay", "func": "fault", "arguments": {
        "fault": "process.pause", "target": f"pid:{pid}", "duration": duration}}}


def _wait_steps(n: int, seconds: float) -> list[dict[str, Any]]:
    return [{"type": "action", "name": f"wait-{i}", "provider": {"type": "process", "path": "sleep", "arguments": [str(seconds)]}}
            for i in range(n)]


@pytest.mark.parametrize(("limits", "reason"), [
    ({"min_availability": 0.5, "max_error_rate": 1.0}, "availability"),
    ({"min_availability": 0.0, "max_error_rate": 0.5}, "error rate"),
])
def test_guard_aborts_and_reverts_at_once(tmp_path: Path, recovering_service: str, sleeper: subprocess.Popen[bytes],
                                          limits: dict[str, float], reason: str) -> None:
    base = recovering_service
    exp = tmp_path / "guarded.json"
    exp.write_text(json.dumps({
        "title": "guarded", "description": "the service breaks; the guard aborts",
        "extensions": [{"name": "assay", "safety": {**limits, "min_samples": 3, "frequency": 0.1, "probe": {
            "type": "probe", "name": "health", "tolerance": 200,
            "provider": {"type": "http", "url": f"{base}/health", "timeout": 5}}}}],
        "method": [_pause_fault(sleeper.pid),
                   {"type": "action", "name": "break", "provider": {"type": "http", "url": f"{base}/break", "method": "POST"}},
                   *_wait_steps(40, 0.25)],
        "rollbacks": [{"type": "action", "name": "heal", "provider": {"type": "http", "url": f"{base}/heal", "method": "POST"}}],
    }))
    outcome = run_file(exp, RunOptions(), journal_path=tmp_path / "j.json")
    journal = outcome.journal
    assert journal["status"] == "aborted"
    assert reason in journal["x-assay"]["guard"]
    assert len(journal["run"]) < 42  # stopped well before the end of the method
    assert [e["activity"]["name"] for e in journal["rollbacks"]] == ["heal"]
    fault = journal["x-assay"]["faults"][0]
    assert fault["reverted_at"] is not None
    assert psutil.Process(sleeper.pid).status() != psutil.STATUS_STOPPED
    assert outcome.exit_code == 2


def test_watch_needs_min_samples_before_judging() -> None:
    spec = SafetySpec(min_samples=4, min_availability=0.5, max_error_rate=0.9)
    tally = Watch()
    assert [tally.record(ok, spec) for ok in (False, False, True)] == [None, None, None]
    assert tally.record(False, spec) == "availability 25% below 50%"


def test_one_experiment_at_a_time_per_target(tmp_path: Path) -> None:
    exp = tmp_path / "e.json"
    exp.write_text(json.dumps({"title": "t", "description": "d", "method": [],
                               "extensions": [{"name": "assay", "safety": {"target": "courier"}}]}))
    with guards.target_lock("courier"):
        with pytest.raises(GuardRefused, match="'courier' is locked by another experiment"):
            run_file(exp, RunOptions(), journal_path=tmp_path / "j.json")
    assert not (tmp_path / "j.json").exists()
    assert run_file(exp, RunOptions(), journal_path=tmp_path / "j.json").exit_code == 0  # released


def test_planned_duration_cap(tmp_path: Path, sleeper: subprocess.Popen[bytes]) -> None:
    exp = tmp_path / "long.json"
    exp.write_text(json.dumps({"title": "long", "description": "d", "method": [_pause_fault(sleeper.pid, "45m")]}))
    assert guards.planned_duration(json.loads(exp.read_text())) == 45 * 60
    with pytest.raises(GuardRefused, match="planned duration 2700s exceeds the cap of 1800s"):
        run_file(exp, RunOptions(), journal_path=tmp_path / "j.json")
    assert psutil.Process(sleeper.pid).status() != psutil.STATUS_STOPPED  # nothing injected
    outcome = run_file(exp, RunOptions(), journal_path=tmp_path / "j.json", max_duration=3600)
    assert outcome.exit_code == 0  # the fault was injected and reverted at the end of the method
    assert psutil.Process(sleeper.pid).status() != psutil.STATUS_STOPPED
