"""The flake report from the trend store: over the last nights, steps and tests that both passed
and failed, or passed only on retry, with flip rates."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from plan_helpers import PlanRun, assay

from assay.plan.flakes import flaky_from

Run = Callable[..., PlanRun]

PLAN = """\
name: nightly
stages:
  s:
    steps:
      - {{name: stable, kind: run, command: "true"}}
      - name: retried
        kind: run
        command: "test -f {tmp}/retry.$ASSAY_RUN_ID || {{ touch {tmp}/retry.$ASSAY_RUN_ID; exit 1; }}"
        retry: {{attempts: 2, backoff: 0.1s}}
      - {{name: flips, kind: run, command: "n=$(cat flips.n 2>/dev/null || echo 0); echo $((n+1)) > flips.n; [ $((n % 2)) -eq 0 ]"}}
  t:
    needs: [s]
    if: always
    steps:
      - {{name: tests, kind: run, command: "cp {tmp}/junit-$(cat flips.n).xml $ASSAY_STEP_DIR/junit.xml", ingest: [junit.xml]}}
"""

JUNIT = """<?xml version="1.0"?><testsuite name="t"><testcase classname="t" name="test_steady"/>
<testcase classname="t" name="test_wobbly">{fail}</testcase></testsuite>"""


@pytest.mark.slow
def test_flaky_steps_and_tests_over_the_last_nights(run_plan: Run, tmp_path: Path) -> None:
    for n in range(1, 5):
        (tmp_path / f"junit-{n}.xml").write_text(JUNIT.format(fail="<failure message='x'/>" if n == 2 else ""))
    for _ in range(4):
        run_plan(PLAN.format(tmp=tmp_path))
    store = f"sqlite:///{tmp_path / 'trends.db'}"
    proc = assay("plan", "flakes", "nightly", "--last", "4", "--store", store, "--json", str(tmp_path / "flakes.json"),
                 "--markdown", str(tmp_path / "flakes.md"))
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "flakes.json").read_text())
    assert report["schema"] == "assay.flakes/1" and report["nights"] == 4
    flaky = {(f["kind"], f["name"]): f for f in report["flaky"]}
    # the tests step fails on the night its test failed: it flips too
    assert set(flaky) == {("step", "s.flips"), ("step", "s.retried"), ("step", "t.tests"), ("test", "t.test_wobbly")}
    flips = flaky[("step", "s.flips")]
    assert flips["history"] == "PFPF" and flips["flip_rate"] == 1.0 and flips["passed"] == 2 and flips["failed"] == 2
    retried = flaky[("step", "s.retried")]
    assert retried["history"] == "RRRR" and retried["passed_on_retry"] == 4 and retried["flip_rate"] == 0.0
    assert flaky[("test", "t.test_wobbly")]["history"] == "PFPP"
    assert report["flaky"][0]["name"] == "s.flips"  # flakiest first
    assert "| step | `s.flips` | 2 | 2 | 0 | 100% | `PFPF` |" in (tmp_path / "flakes.md").read_text()


def test_flip_rates_ignore_absent_nights() -> None:
    nights = [{"steps": [{"key": "a", "status": "passed"}]}, {"steps": []}, {"steps": [{"key": "a", "status": "failed"}]}]
    [a] = flaky_from(nights)
    assert a.history == "P.F" and a.flip_rate == 1.0
