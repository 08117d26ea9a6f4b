"""Background load across the experiment: one RunResult per phase, availability and error rate per phase."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assay.chaos.runner import RunOptions
from assay.chaos.session import run_file
from assay.errors import UsageError
from assay.results import RunResult


def _break_hold_heal(base: str, *, hold: str, heal: str) -> list[dict[str, object]]:
    """The recovering service broken for `hold` seconds, then healed."""
    return [
        {"type": "action", "name": "break", "provider": {"type": "http", "url": f"{base}/break", "method": "POST"}},
        {"type": "action", "name": "hold", "provider": {"type": "process", "path": "sleep", "arguments": [hold]}},
        {"type": "action", "name": "heal", "provider": {"type": "http", "url": f"{base}/{heal}", "method": "POST"}},
    ]


def test_load_runs_across_phases_and_sees_the_fault(tmp_path: Path, recovering_service: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSAY_CHAOS_LOCK_DIR", str(tmp_path / "locks"))
    base = recovering_service
    exp = tmp_path / "load.json"
    exp.write_text(json.dumps({
        "title": "load during a fault", "description": "d",
        "extensions": [{"name": "assay", "load": {"url": f"{base}/health", "rate": 40, "segment": "300ms"},
                        "recovery": {"frequency": 0.1, "hold": 0.3, "timeout": 20}}],
        "steady-state-hypothesis": {"title": "healthy", "probes": [
            {"type": "probe", "name": "health", "tolerance": 200, "pauses": {"after": 1.0},
             "provider": {"type": "http", "url": f"{base}/health", "timeout": 5}}]},
        "method": _break_hold_heal(base, hold="1.2", heal="heal?delay=0.5"),
    }))
    outcome = run_file(exp, RunOptions(), journal_path=tmp_path / "j.json")
    load = outcome.journal["x-assay"]["load"]
    assert {"before", "during"} <= set(load)
    assert load["before"]["availability"] == 1.0
    assert load["during"]["availability"] < 0.5  # /health answers 503 while broken
    assert load["during"]["requests"] > 0
    phase = RunResult.model_validate(outcome.result.extra["phase_results"]["during"])
    assert phase.metric("http_reqs") is not None
    assert outcome.result.metrics["chaos_availability{phase:before}"].value == 1.0
    assert outcome.exit_code == 0


@pytest.mark.parametrize(("load", "said"), [
    ({"url": "http://127.0.0.1:1/", "scenario": "x.yaml"}, "exactly one of url"),
    ({"url": "http://127.0.0.1:1/", "segment": "soon"}, "extensions.assay.load.segment: 'soon'"),
])
def test_load_extension_is_checked(tmp_path: Path, load: dict[str, str], said: str) -> None:
    exp = tmp_path / "bad.json"
    exp.write_text(json.dumps({"title": "t", "description": "d", "method": [], "extensions": [{"name": "assay", "load": load}]}))
    with pytest.raises(UsageError, match=said):
        run_file(exp, RunOptions(), journal_path=None)


def test_a_scenario_file_keeps_its_own_executor_across_the_phases(tmp_path: Path, recovering_service: str,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Cutting a scenario file into segments with a duration would replace its executors by one VU
    running flat out (k6's rule for --duration); the segments are cut by the clock instead."""
    monkeypatch.setenv("ASSAY_CHAOS_LOCK_DIR", str(tmp_path / "locks"))
    base = recovering_service
    scenario = tmp_path / "load.yaml"
    scenario.write_text(
        "options:\n  scenarios:\n    paced:\n      executor: constant-arrival-rate\n      rate: 10\n      timeUnit: 1s\n"
        "      duration: 1m\n      preAllocatedVUs: 2\n"
        f"base_url: {base}\nrequests:\n  - {{method: GET, url: /health}}\n")
    exp = tmp_path / "load.json"
    exp.write_text(json.dumps({
        "title": "a load file during a fault", "description": "d",
        "extensions": [{"name": "assay", "load": {"scenario": scenario.name, "segment": "1s"}}],  # beside the experiment
        "method": _break_hold_heal(base, hold="2.5", heal="heal"),
    }))
    outcome = run_file(exp, RunOptions(), journal_path=tmp_path / "j.json")
    timeline = outcome.journal["x-assay"]["load_timeline"]
    assert timeline and all(0 < seg["requests"] <= 2 * 10 * 1 for seg in timeline)  # 10/s per 1 s segment, not flat out
    during = RunResult.model_validate(outcome.result.extra["phase_results"]["during"])
    assert during.metric("http_reqs{scenario:paced}") is not None
    assert outcome.journal["x-assay"]["load"]["during"]["availability"] == 0.0
    assert outcome.exit_code == 0
