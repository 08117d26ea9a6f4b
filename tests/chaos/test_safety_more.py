"""Blast radius (refused before anything is injected, and at injection when a pattern matches too
much), guards fed by the background load (error rate, p95), time to detect, and `--dry` as a plan."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
import xmlschema

from assay.chaos.blast import BlastLimit, violations
from assay.chaos.guards import GuardRefused
from assay.chaos.reports import to_junit, to_markdown
from assay.chaos.runner import RunOptions
from assay.chaos.session import run_file, to_run_result
from assay.errors import UsageError


@pytest.fixture(autouse=True)
def _lock_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSAY_CHAOS_LOCK_DIR", str(tmp_path / "locks"))


@pytest.fixture
def two_sleepers() -> Iterator[list[subprocess.Popen[bytes]]]:
    procs = [subprocess.Popen(["sleep", "121.5"]) for _ in range(2)]
    try:
        yield procs
    finally:
        for p in procs:
            os.kill(p.pid, 18)  # SIGCONT, whatever happened
            p.kill()
            p.wait()


def _fault(name: str, fault: str, target: str | None, duration: str = "30s", **params: Any) -> dict[str, Any]:
    args: dict[str, Any] = {"fault": fault, "duration": duration, **params}
    if target is not None:
        args["target"] = target
    return {"type": "action", "name": name, "provider": {"type": "assay", "func": "fault", "arguments": args}}


def _write(tmp_path: Path, method: list[dict[str, Any]], safety: dict[str, Any] | None = None,
           extra: dict[str, Any] | None = None, **top: Any) -> Path:
    ext: dict[str, Any] = {"name": "assay", **(extra or {})}
    if safety is not None:
        ext["safety"] = safety
    exp = tmp_path / "exp.json"
    exp.write_text(json.dumps({"title": "safety", "description": "guards", "method": method, "extensions": [ext], **top}))
    return exp


def test_blast_radius_levels_targets_and_fraction() -> None:
    limit = BlastLimit.parse({"level": "SINGLE_SERVICE", "max_targets": 1}, "x")
    assert violations(limit, [("pause", "SINGLE_SERVICE", "pid:1")]) == []
    assert violations(limit, [("cpu", "ENTIRE_SYSTEM", "this host")]) == ["cpu: blast radius ENTIRE_SYSTEM exceeds the declared SINGLE_SERVICE"]
    assert "2 distinct targets" in violations(limit, [("a", "SINGLE_SERVICE", "pid:1"), ("b", "SINGLE_SERVICE", "pid:2")])[0]
    share = BlastLimit.parse({"max_fraction": 0.5, "population": ["a", "b", "c", "d"]}, "x")
    assert violations(share, [("x", "SINGLE_SERVICE", "a"), ("y", "SINGLE_SERVICE", "b")]) == []
    assert violations(share, [("x", "SINGLE_SERVICE", t) for t in "abc"]) == ["75% of the population targeted, above max_fraction 50%"]
    with pytest.raises(UsageError, match="max_fraction needs the list"):
        BlastLimit.parse({"max_fraction": 0.5}, "safety.blast_radius")
    with pytest.raises(UsageError, match="expected one of SINGLE_REQUEST"):
        BlastLimit.parse("WHOLE_WORLD", "safety.blast_radius")


def test_blast_radius_refuses_before_anything_is_injected(tmp_path: Path, two_sleepers: list[subprocess.Popen[bytes]]) -> None:
    pid = two_sleepers[0].pid
    exp = _write(tmp_path, [_fault("pause", "process.pause", f"pid:{pid}"), _fault("burn", "stress.cpu", None, workers=1)],
                 safety={"blast_radius": "SINGLE_SERVICE"})
    with pytest.raises(GuardRefused, match="burn \\(stress.cpu\\): blast radius ENTIRE_SYSTEM exceeds the declared SINGLE_SERVICE"):
        run_file(exp, RunOptions(), journal_path=tmp_path / "j.json")
    assert psutil.Process(pid).status() != psutil.STATUS_STOPPED
    assert not (tmp_path / "j.json").exists()
    code = subprocess.run([sys.executable, "-m", "assay", "chaos", "run", str(exp), "--journal-path", str(tmp_path / "j.json")],
                          capture_output=True, text=True, timeout=120, env=os.environ.copy())
    assert code.returncode == 2 and "blast radius" in code.stderr and "Traceback" not in code.stderr


def test_a_pattern_matching_more_than_max_targets_is_refused_at_injection(
        tmp_path: Path, two_sleepers: list[subprocess.Popen[bytes]]) -> None:
    exp = _write(tmp_path, [_fault("pause sleepers", "process.pause", "pattern:^sleep 121\\.5$"),
                            {"type": "action", "name": "after", "provider": {"type": "process", "path": "true"}}],
                 safety={"blast_radius": {"level": "SERVICE_CLUSTER", "max_targets": 1}})
    journal = run_file(exp, RunOptions(), journal_path=tmp_path / "j.json").journal
    assert journal["status"] == "aborted"
    assert "matches 2 processes, above the blast radius's max_targets 1" in journal["x-assay"]["guard"]
    assert [e["activity"]["name"] for e in journal["run"]] == ["pause sleepers"]
    assert all(psutil.Process(p.pid).status() != psutil.STATUS_STOPPED for p in two_sleepers)


@pytest.mark.slow
def test_the_background_load_trips_the_guard_and_detection_is_timed(tmp_path: Path, recovering_service: str,
                                                                      sleeper: subprocess.Popen[bytes]) -> None:
    base = recovering_service
    waits = [{"type": "action", "name": f"wait {i}", "provider": {"type": "process", "path": "sleep", "arguments": ["0.25"]}}
             for i in range(40)]
    exp = _write(tmp_path, [_fault("pause", "process.pause", f"pid:{sleeper.pid}", "60s"),
                            {"type": "action", "name": "break", "provider": {"type": "http", "url": f"{base}/break", "method": "POST"}},
                            *waits],
                 safety={"min_availability": 0.0, "max_error_rate": 0.5, "min_requests": 10},
                 extra={"load": {"url": f"{base}/health", "rate": 40, "segment": "500ms"}},
                 rollbacks=[{"type": "action", "name": "heal", "provider": {"type": "http", "url": f"{base}/heal", "method": "POST"}}])
    journal = run_file(exp, RunOptions(), journal_path=tmp_path / "j.json").journal
    assert journal["status"] == "aborted"
    assert journal["x-assay"]["guard"].startswith("background load error rate")
    assert len(journal["run"]) < 30
    assert journal["x-assay"]["faults"][0]["reverted_at"] is not None
    assert psutil.Process(sleeper.pid).status() != psutil.STATUS_STOPPED
    detection = journal["x-assay"]["detection"]
    assert detection["detected_by"] == "background load"
    assert 0 <= detection["time_to_detect_s"] < 10
    junit = tmp_path / "chaos.xml"
    junit.write_text(to_junit(journal))
    xmlschema.XMLSchema(str(Path(__file__).parent / "junit.xsd")).validate(str(junit))
    cases = {c.get("name"): c for c in ET.parse(junit).getroot().iter("testcase")}
    assert cases["safety guard"].find("failure") is not None
    assert cases["time to detect (by the background load)"].find("failure") is None
    assert "Time to detect" in to_markdown(journal)


@pytest.mark.slow
def test_the_latency_guard_trips_on_the_loads_p95(tmp_path: Path, recovering_service: str) -> None:
    base = recovering_service
    waits = [{"type": "action", "name": f"wait {i}", "provider": {"type": "process", "path": "sleep", "arguments": ["0.25"]}}
             for i in range(40)]
    exp = _write(tmp_path, [{"type": "action", "name": "slow down", "provider": {"type": "http", "url": f"{base}/slow?ms=150",
                                                                                  "method": "POST"}}, *waits],
                 safety={"max_p95": "100ms", "min_requests": 5},
                 extra={"load": {"url": f"{base}/health", "rate": 20, "vus": 4, "segment": "500ms"}})
    try:
        journal = run_file(exp, RunOptions(), journal_path=tmp_path / "j.json").journal
    finally:
        httpx.post(f"{base}/slow?ms=0")
    assert journal["status"] == "aborted", journal.get("x-assay")
    assert "p95" in journal["x-assay"]["guard"] and "above 100 ms" in journal["x-assay"]["guard"]


@pytest.mark.slow
def test_time_to_detect_from_the_continuous_hypothesis_beside_time_to_recover(
        tmp_path: Path, recovering_service: str, sleeper: subprocess.Popen[bytes]) -> None:
    base = recovering_service
    exp = tmp_path / "exp.json"
    exp.write_text(json.dumps({
        "title": "ttd", "description": "detect then recover",
        "steady-state-hypothesis": {"title": "healthy", "probes": [
            {"type": "probe", "name": "health", "tolerance": 200, "provider": {"type": "http", "url": f"{base}/health"}}]},
        "method": [_fault("pause", "process.pause", f"pid:{sleeper.pid}", "30s"),
                   {"type": "action", "name": "break", "provider": {"type": "http", "url": f"{base}/break", "method": "POST"},
                    "pauses": {"before": 0.5, "after": 1.0}},
                   {"type": "action", "name": "heal", "provider": {"type": "http", "url": f"{base}/heal?delay=1", "method": "POST"}}],
        "extensions": [{"name": "assay", "recovery": {"frequency": 0.2, "timeout": 20}}],
    }))
    journal = run_file(exp, RunOptions(hypothesis_strategy="during-method-only", hypothesis_frequency=0.1),
                       journal_path=tmp_path / "j.json").journal
    detection = journal["x-assay"]["detection"]
    assert detection["detected_by"] == "steady state during the method"
    assert 0.4 <= detection["time_to_detect_s"] <= 1.5  # the break came 0.5 s after the injection
    recovery = journal["x-assay"]["recovery"]
    assert recovery["recovered"] and recovery["time_to_detect_s"] == detection["time_to_detect_s"]
    assert to_run_result(journal).metrics["chaos_time_to_detect_s"].value == pytest.approx(detection["time_to_detect_s"])


def test_dry_prints_the_plan_and_does_nothing(tmp_path: Path, sleeper: subprocess.Popen[bytes]) -> None:
    exp = tmp_path / "exp.json"
    exp.write_text(json.dumps({
        "title": "planned", "description": "a plan",
        "configuration": {"hold": 12},
        "steady-state-hypothesis": {"title": "up", "probes": [
            {"type": "probe", "name": "up", "tolerance": True,
             "provider": {"type": "assay", "func": "tcp", "arguments": {"host": "127.0.0.1", "port": 9}}}]},
        "method": [_fault("pause worker", "process.pause", f"pid:{sleeper.pid}", "20s") | {"pauses": {"before": 2, "after": "${hold}"}},
                   {"type": "action", "name": "slow db", "background": True, "provider": {"type": "assay", "func": "toxic", "arguments": {
                       "proxy": "db", "type": "latency", "attributes": {"latency": 1500}, "duration": "45s"}}}],
        "rollbacks": [{"type": "action", "name": "heal", "provider": {"type": "process", "path": "true"}}],
        "extensions": [{"name": "assay", "safety": {"target": "courier", "blast_radius": "SINGLE_SERVICE", "max_p95": "800ms"},
                        "recovery": {"target": 30}, "load": {"url": "http://127.0.0.1:9/orders", "rate": 5}}],
    }))
    journal = tmp_path / "journal.json"
    done = subprocess.run([sys.executable, "-m", "assay", "chaos", "run", str(exp), "--dry", "--journal-path", str(journal)],
                          capture_output=True, text=True, timeout=120, env=os.environ.copy())
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "dry run: nothing is injected" in out
    assert "process.pause" in out and f"pid:{sleeper.pid}" in out and "t+2s" in out and "20s" in out
    assert "latency" in out and "proxy:db" in out and "45s" in out and "(background)" in out
    assert "heal" in out and "blast radius SINGLE_SERVICE" in out and "p95 > 800 ms" in out and "target 30.0s" in out
    assert "Background load: http://127.0.0.1:9/orders (rate 5/s)" in out and "measured by the background load" in out
    assert "t+  14.0s" in out  # ${hold} substituted: 2 s before + 12 s after
    assert not journal.exists() and psutil.Process(sleeper.pid).status() != psutil.STATUS_STOPPED
    # a plan a guard would refuse says so, exit 2; Chaos Toolkit's modes still work
    exp.write_text(exp.read_text().replace('"SINGLE_SERVICE"', '"SINGLE_REQUEST"'))
    done = subprocess.run([sys.executable, "-m", "assay", "chaos", "run", "--dry", str(exp)], capture_output=True, text=True,
                          timeout=120, env=os.environ.copy())
    assert done.returncode == 2 and "REFUSED by a pre-flight guard: blast radius" in done.stdout
