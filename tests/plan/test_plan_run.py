"""`assay plan run` semantics on real subprocess steps: needs ordering, parallel stages, timeouts
that kill, continue-on-error, `if` conditions, retries with backoff, quarantine, exit codes."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from plan_helpers import PlanRun

Run = Callable[..., PlanRun]


def _t(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp)


@pytest.mark.slow
def test_needs_order_stages_and_independent_ones_run_in_parallel(run_plan: Run, tmp_path: Path) -> None:
    run = run_plan("""\
name: order
stages:
  left:
    steps: [{name: a, kind: run, command: "sleep 1.5; date +%s.%N > left.done"}]
  right:
    steps: [{name: b, kind: run, command: "sleep 1.5"}]
  after:
    needs: [left, right]
    steps: [{name: c, kind: run, command: "test -f left.done"}]
""")
    assert run.code == 0, run.err
    left, right, after = run.stage("left"), run.stage("right"), run.stage("after")
    # parallel: right started before left finished
    assert abs(_t(right["started_at"]).timestamp() - _t(left["started_at"]).timestamp()) < left["duration_s"]
    # ordered: after started once both had finished
    assert _t(after["started_at"]).timestamp() >= _t(left["started_at"]).timestamp() + left["duration_s"] - 0.05
    assert _t(after["started_at"]).timestamp() >= _t(right["started_at"]).timestamp() + right["duration_s"] - 0.05
    assert (tmp_path / "left.done").exists()


@pytest.mark.slow
def test_a_step_is_killed_at_its_timeout_and_its_dependents_are_skipped_with_the_reason(run_plan: Run, tmp_path: Path) -> None:
    run = run_plan("""\
name: timeouts
stages:
  slow:
    steps:
      - {name: hang, kind: run, command: "echo $$ > hang.pid; exec sleep 60", timeout: 1s}
      - {name: next, kind: run, command: "true"}
  later:
    needs: [slow]
    steps: [{name: x, kind: run, command: "true"}]
""")
    assert run.code == 2, run.err
    hang = run.step("slow.hang")
    assert hang["status"] == "failed" and "killed at its timeout (1s)" in hang["reason"]
    assert hang["gates"][0]["name"] == "timeout 1s"
    pid = int((tmp_path / "hang.pid").read_text())
    assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()
    assert run.step("slow.next")["status"] == "skipped" and run.step("slow.next")["reason"] == "hang failed"
    assert run.stage("later")["status"] == "skipped" and run.stage("later")["reason"] == "needs slow, which failed"
    assert any("slow.hang failed at gate 'timeout 1s'" in r for r in run.report["reasons"])  # type: ignore[index]


@pytest.mark.slow
def test_a_stage_timeout_kills_the_step_running_when_it_passes(run_plan: Run) -> None:
    run = run_plan("""\
name: stagetimeout
stages:
  s:
    timeout: 2s
    steps:
      - {name: one, kind: run, command: "sleep 1"}
      - {name: two, kind: run, command: "sleep 30"}
""")
    assert run.code == 2
    assert "killed at the stage's timeout" in run.step("s.two")["reason"]


@pytest.mark.slow
def test_continue_on_error_warns_and_if_conditions_pick_stages(run_plan: Run) -> None:
    plan = """\
name: conditions
stages:
  flaky-e2e:
    continue-on-error: true
    steps: [{name: e2e, kind: run, command: "exit 3"}]
  after-e2e:
    needs: [flaky-e2e]
    steps: [{name: a, kind: run, command: "true"}]
  on-failure:
    needs: [flaky-e2e]
    if: {status: {flaky-e2e: failed}}
    steps: [{name: alert, kind: run, command: "true"}]
  weekly:
    if: {weekday: [sat]}
    steps: [{name: baseline, kind: run, command: "true"}]
  monthly:
    if: {schedule: "0 3 1 * *"}
    steps: [{name: report, kind: run, command: "true"}]
  cleanup:
    needs: [after-e2e]
    if: always
    steps: [{name: c, kind: run, command: "true"}]
"""
    run = run_plan(plan, "--date", "2026-12-05T03:00")  # a Saturday, not the 1st
    assert run.code == 1, run.err  # only a continue-on-error stage failed: passed with warnings
    assert run.report["status"] == "warning"  # type: ignore[index]
    assert run.stage("flaky-e2e")["status"] == "failed"
    assert run.stage("after-e2e")["status"] == "passed"  # continue-on-error does not block its dependents
    assert run.stage("on-failure")["status"] == "passed"
    assert run.stage("weekly")["status"] == "passed"
    assert run.stage("monthly")["status"] == "skipped" and "does not fire on Sat 2026-12-05" in run.stage("monthly")["reason"]
    assert any(r.startswith("continue-on-error: flaky-e2e.e2e failed") for r in run.report["reasons"])  # type: ignore[index]
    run = run_plan(plan, "--date", "2026-12-01")  # a Tuesday, the 1st
    assert run.stage("weekly")["status"] == "skipped" and run.stage("weekly")["reason"] == "runs on sat; today is tue"
    assert run.stage("monthly")["status"] == "passed"


def test_retries_back_off_and_every_attempt_is_recorded(run_plan: Run, tmp_path: Path) -> None:
    run = run_plan("""\
name: retries
stages:
  s:
    steps:
      - name: flaky
        kind: run
        command: "n=$(cat n 2>/dev/null || echo 0); echo $((n+1)) > n; date +%s.%N >> times; [ $n -ge 2 ]"
        retry: {attempts: 4, backoff: 0.3s, max_backoff: 2s}
      - {name: hopeless, kind: run, command: "exit 1", retry: {attempts: 2, backoff: 0.1s}}
""")
    flaky = run.step("s.flaky")
    assert flaky["status"] == "passed" and flaky["reason"] == "passed on attempt 3 of 4"
    assert [a["status"] for a in flaky["attempts"]] == ["failed", "failed", "passed"]
    times = [float(t) for t in (tmp_path / "times").read_text().split()]
    assert times[1] - times[0] >= 0.25 and times[2] - times[1] >= 0.5  # exponential backoff
    assert (run.run_dir / "stages" / "s" / "flaky" / "attempt-1" / "step.log").is_file()  # type: ignore[operator]
    hopeless = run.step("s.hopeless")
    assert hopeless["status"] == "failed" and len(hopeless["attempts"]) == 2
    assert run.code == 2


def test_quarantined_steps_and_tests_run_but_cannot_fail_the_night(run_plan: Run, tmp_path: Path) -> None:
    junit = tmp_path / "pytest.xml"
    junit.write_text("""<?xml version="1.0"?><testsuites><testsuite name="pytest" tests="2">
<testcase classname="tests.test_api" name="test_ok" time="0.1"/>
<testcase classname="tests.test_api" name="test_flaky" time="0.2"><failure message="boom">boom</failure></testcase>
</testsuite></testsuites>""")
    run = run_plan(f"""\
name: quarantine
quarantine: ["e2e.known-flaky", "tests.test_api.test_flaky"]
stages:
  e2e:
    steps:
      - {{name: known-flaky, kind: run, command: "exit 1"}}
  unit:
    steps:
      - {{name: pytest, kind: run, command: "cp {junit} $ASSAY_STEP_DIR/junit.xml", ingest: [junit.xml]}}
""")
    assert run.code == 1, run.err
    assert run.step("e2e.known-flaky")["quarantined"] is True
    tests = run.step("unit.pytest")["tests"]
    assert [(t["name"], t["status"], t["quarantined"]) for t in tests] == [("test_ok", "passed", False), ("test_flaky", "failed", True)]
    assert run.step("unit.pytest")["status"] == "passed"
    reasons = run.report["reasons"]  # type: ignore[index]
    assert any(r.startswith("quarantined: e2e.known-flaky failed") for r in reasons)
    assert any("quarantined test tests.test_api.test_flaky failed" in r for r in reasons)
    html = (run.run_dir / "report.html").read_text()  # type: ignore[operator]
    assert "<h2>Quarantined</h2>" in html and "test tests.test_api.test_flaky in unit.pytest" in html
    junit_out = (run.run_dir / "junit.xml").read_text()  # type: ignore[operator]
    assert "quarantined: failed" in junit_out


def test_data_loss_in_any_result_fails_the_night(run_plan: Run, tmp_path: Path) -> None:
    result = {"schema": "assay.run/1", "name": "ledger", "kind": "load", "status": "passed",
              "metrics": {"messages_lost": {"type": "counter", "contains": "default", "count": 1, "sum": 3}}}
    (tmp_path / "ledger.json").write_text(json.dumps(result))
    run = run_plan(f"""\
name: ledger
stages:
  messaging:
    continue-on-error: true
    steps:
      - {{name: soak, kind: run, command: "cp {tmp_path / 'ledger.json'} $ASSAY_STEP_DIR/result.json", ingest: [result.json]}}
""")
    assert run.code == 2, run.err
    assert run.step("messaging.soak")["messages_lost"] == 3
    assert "data loss: messaging.soak lost 3 message(s)" in run.report["reasons"]  # type: ignore[index]
    assert run.report["data_loss"] == ["messaging.soak"]  # type: ignore[index]


@pytest.mark.slow
def test_matrix_stages_run_once_per_mode_side_by_side(run_plan: Run, tmp_path: Path) -> None:
    run = run_plan("""\
name: modes
stages:
  e2e:
    matrix: {mode: [standalone, integrated]}
    services:
      api:
        command: "python -m http.server ${services.api.port} --bind 127.0.0.1"
        port: auto
        env: {MODE: "${matrix.mode}"}
    steps:
      - {name: smoke, kind: load, target: "${services.api.url}/", iterations: 3, vus: 1, thresholds: ["http_req_failed:rate<0.01"]}
      - {name: mode, kind: run, command: "echo ${matrix.mode} > mode.txt"}
""")
    assert run.code == 0, run.err
    keys = [s["key"] for s in run.report["stages"]]  # type: ignore[index]
    assert keys == ["e2e[mode=standalone]", "e2e[mode=integrated]"]
    for key in keys:
        smoke = run.step(f"{key}.smoke")
        assert smoke["status"] == "passed" and smoke["details"]["http_reqs"]["count"] == 3
    assert (tmp_path / "mode.txt").read_text().strip() in ("standalone", "integrated")
    services = [(s["name"], s["stage"], s["status"]) for s in run.report["services"]]  # type: ignore[index]
    assert sorted(services) == [("api", "e2e[mode=integrated]", "stopped"), ("api", "e2e[mode=standalone]", "stopped")]


def test_a_reference_that_does_not_resolve_at_run_time_errors_the_step(run_plan: Run) -> None:
    run = run_plan("""\
name: refs
stages:
  s:
    steps: [{name: a, kind: run, command: "echo ${env.HOME} ${run.nothing}"}]
""")
    assert run.code == 2
    assert run.step("s.a")["status"] == "error" and "${run.nothing} is not known here" in run.step("s.a")["reason"]


@pytest.mark.slow
def test_a_regression_found_by_trend_detect_fails_the_night_even_in_a_continue_on_error_stage(
    run_plan: Run, tmp_path: Path
) -> None:
    gen = Path(__file__).resolve().parent / "gen_result.py"
    plan = f"""\
name: reg
stages:
  s:
    steps:
      - {{name: gen, kind: run, command: "python {gen} $(cat level)", ingest: [result.json]}}
  trends:
    needs: [s]
    continue-on-error: true
    steps:
      - {{name: record, kind: trend-record}}
      - {{name: detect, kind: trend-detect, trend_scenario: reg.s.gen, min_runs: 3, recent: 1,
          rules: ["50% worse than mean of last 3 runs"]}}
"""
    for level in ("10", "10", "10"):
        (tmp_path / "level").write_text(level)
        run = run_plan(plan, "--no-notify")
        assert run.code == 0, run.err + str(run.step("trends.detect"))
    (tmp_path / "level").write_text("100")
    run = run_plan(plan, "--no-notify")
    assert run.code == 2, run.err
    detect = run.step("trends.detect")
    assert detect["status"] == "failed" and detect["details"]["regressions"] >= 1
    reasons = run.report["reasons"]  # type: ignore[index]
    assert any(r.startswith("regression: trends.detect failed") for r in reasons), reasons
    assert run.report["regressions"]  # type: ignore[index]


@pytest.mark.slow
@pytest.mark.redis
def test_the_delivery_ledgers_verdict_is_read_from_a_messaging_step(run_plan: Run) -> None:
    run = run_plan("""\
name: ledger-real
stages:
  messaging:
    steps:
      - name: redis
        kind: run
        command: >-
          assay messaging run --broker redis://127.0.0.1:6379/0 --stream assay-plan-test-ledger --rate 50 --duration 2s
          --result $ASSAY_STEP_DIR/result.json --quiet
        ingest: [result.json]
""", "--no-record")
    assert run.code == 0, run.err
    step = run.step("messaging.redis")
    assert step["status"] == "passed" and step["messages_lost"] == 0
    assert step["results"] == ["stages/messaging/redis/result.json"]
