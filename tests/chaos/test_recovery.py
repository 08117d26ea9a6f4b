"""Recovery measurement: a fake clock for the rule, and a real service that recovers after a known delay."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from assay.chaos.recovery import RecoverySpec, measure, spec_from
from assay.chaos.runner import RunOptions
from assay.chaos.session import run_file
from assay.errors import UsageError


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_time_to_recover_counts_from_the_revert_to_the_held_streak() -> None:
    clock = FakeClock()
    # unhealthy until t=102.0, one flap at 102.5, healthy from 103.0 on
    healthy = lambda: clock.now >= 103.0 or 102.0 <= clock.now < 102.5  # noqa: E731
    result = measure(RecoverySpec(frequency=0.5, hold=1.0, timeout=30, target=5), healthy, reverted_at=100.0,
                     first_injected_at=90.0, clock=clock, sleep=clock.sleep)
    assert result.recovered and result.within_target
    assert result.time_to_recover_s == pytest.approx(3.0)
    assert result.time_degraded_s == pytest.approx(13.0)
    assert result.probes == 9


def test_never_recovering_stops_at_the_timeout_and_misses_the_target() -> None:
    clock = FakeClock()
    result = measure(RecoverySpec(frequency=1, timeout=10, target=5), lambda: False, reverted_at=100.0,
                     first_injected_at=None, clock=clock, sleep=clock.sleep)
    assert (result.recovered, result.within_target, result.time_to_recover_s) == (False, False, None)
    assert clock.now == pytest.approx(110.0)


def test_spec_from_the_assay_extension() -> None:
    spec = spec_from({"extensions": [{"name": "other"}, {"name": "assay", "recovery": {"frequency": "100ms", "target": "30s"}}]})
    assert spec == RecoverySpec(frequency=0.1, hold=0.0, timeout=60.0, target=30.0)
    assert spec_from({"extensions": [{"name": "assay"}]}) is None
    with pytest.raises(UsageError, match="unknown keys"):
        spec_from({"extensions": [{"name": "assay", "recovery": {"frequncy": 1}}]})


def _experiment(tmp_path: Path, base: str, delay: float, target: float) -> Path:
    path = tmp_path / "recover.json"
    path.write_text(json.dumps({
        "title": "recovers after a known delay", "description": "d",
        "extensions": [{"name": "assay", "recovery": {"frequency": 0.1, "hold": 0.3, "timeout": 20, "target": target}}],
        "steady-state-hypothesis": {"title": "healthy", "probes": [
            {"type": "probe", "name": "health", "tolerance": 200, "provider": {"type": "http", "url": f"{base}/health", "timeout": 5}}]},
        "method": [
            {"type": "action", "name": "break", "provider": {"type": "http", "url": f"{base}/break", "method": "POST"}},
            {"type": "action", "name": "heal", "provider": {"type": "http", "url": f"{base}/heal?delay={delay}", "method": "POST"}},
        ],
    }))
    return path


def test_recovery_measured_against_a_service_that_recovers_after_a_known_delay(tmp_path: Path, recovering_service: str) -> None:
    delay = 1.0
    outcome = run_file(_experiment(tmp_path, recovering_service, delay, target=15), RunOptions(),
                       journal_path=tmp_path / "j.json")
    recovery = outcome.journal["x-assay"]["recovery"]
    assert recovery["recovered"] and recovery["within_target"]
    # the service turned healthy `delay` after the heal request; the recovery is placed at the start of the
    # first probe that saw it (a probe takes a while on a shared box), so that probe began before that moment
    # (within one probe interval) and ended after it
    heal = outcome.journal["run"][-1]
    heal_start, heal_end = (datetime.fromisoformat(heal[k]).timestamp() for k in ("start", "end"))
    recovered_at = recovery["reverted_at"] + recovery["time_to_recover_s"]
    first_met_done = next(t for t, met in recovery["checks"] if met)
    probe_took = first_met_done - recovered_at
    assert heal_start + delay - probe_took - 0.05 <= recovered_at <= heal_end + delay + 0.1 + 1.0  # a busy box delays probes
    assert first_met_done >= heal_start + delay - 0.05  # never reported before it was true
    assert recovery["time_to_recover_s"] <= delay + 0.1 + 1.0
    assert outcome.exit_code == 0
    assert outcome.result.metrics["chaos_time_to_recover_s"].value == pytest.approx(recovery["time_to_recover_s"])


def test_a_missed_recovery_target_deviates(tmp_path: Path, recovering_service: str) -> None:
    outcome = run_file(_experiment(tmp_path, recovering_service, 1.0, target=0.2), RunOptions(),
                       journal_path=tmp_path / "j.json")
    assert outcome.journal["x-assay"]["recovery"]["within_target"] is False
    assert outcome.journal["deviated"] is True
    assert outcome.exit_code == 2
