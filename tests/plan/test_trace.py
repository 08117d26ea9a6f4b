"""`assay trace matrix`: stories and scenarios from a spec, tests from @pytest.mark.scenario and
their last results (pytest's own JUnit XML with assay's plugin, and plan reports), computed
totals, and exit 2 when a P0/P1 scenario has no test or a failing one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from plan_helpers import assay

from assay.plan.trace import parse_markdown

SPEC = """\
# Messaging

## US1: Send a message (P0)

Acceptance scenarios:
1. **US1-AS1**: Given a conversation, when alice posts, then bob receives it.
2. **US1-AS2**: Given a repeated Idempotency-Key, the message is stored once.

## US2: Search history
Priority: P1

- US2-AS1: Given 1000 messages, search returns in under 300 ms.

## US3: Export (P3)

- US3-AS1: export as JSON
"""

TESTS = """\
import pytest


@pytest.mark.scenario("US1-AS1")
def test_delivery():
    assert 1 + 1 == 2


@pytest.mark.scenario("US1-AS2", "US9-AS9")
def test_idempotency():
    assert "once" == "twice"


class TestExport:
    pytestmark = []

    @pytest.mark.scenario("US3-AS1")
    def test_json(self):
        assert "json" in "export.json"
"""


def test_markdown_spec_parses_stories_priorities_and_scenarios() -> None:
    spec = parse_markdown(SPEC)
    assert [(s.id, s.title, s.priority, [c.id for c in s.scenarios]) for s in spec.stories] == [
        ("US1", "Send a message", "P0", ["US1-AS1", "US1-AS2"]),
        ("US2", "Search history", "P1", ["US2-AS1"]),
        ("US3", "Export", "P3", ["US3-AS1"]),
    ]
    assert spec.stories[0].scenarios[1].title == "Given a repeated Idempotency-Key, the message is stored once."


@pytest.mark.slow
def test_the_matrix_from_real_pytest_results(tmp_path: Path) -> None:
    (tmp_path / "spec.md").write_text(SPEC)
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "test_messaging.py").write_text(TESTS)
    junit = tmp_path / "pytest.xml"
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tests), f"--junitxml={junit}"],
                   capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert 'name="scenario" value="US1-AS1"' in junit.read_text()  # the plugin records the marker
    proc = assay("trace", "matrix", str(tmp_path / "spec.md"), "--tests", str(tests), "--junit", str(junit),
                 "--format", "json", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    m = json.loads(proc.stdout)
    rows = {r["scenario"]: r for r in m["rows"]}
    assert rows["US1-AS1"]["last_result"] == "passed" and rows["US1-AS1"]["automated"]
    assert rows["US1-AS2"]["last_result"] == "failed"
    assert rows["US2-AS1"]["last_result"] == "no test" and not rows["US2-AS1"]["automated"]
    assert rows["US3-AS1"]["last_result"] == "passed"
    assert m["totals"] == {"scenarios": 4, "automated": 3, "passing": 2, "failing": 1, "coverage_pct": 75.0, "passing_pct": 50.0}
    assert m["by_priority"]["P0"]["coverage_pct"] == 100.0 and m["by_priority"]["P1"]["coverage_pct"] == 0.0
    assert m["gaps"] == ["US1-AS2 (P0): failing: " + rows["US1-AS2"]["tests"][0], "US2-AS1 (P1): no test"]
    assert m["unknown_ids"] == ["US9-AS9"]
    # only P0 gates: US1-AS2 still fails it; with none nothing does
    assert assay("trace", "matrix", str(tmp_path / "spec.md"), "--tests", str(tests), "--fail-on", "none", cwd=tmp_path).returncode == 0
    md = assay("trace", "matrix", str(tmp_path / "spec.md"), "--tests", str(tests), "--format", "markdown", cwd=tmp_path).stdout
    assert "**Totals:** 4 scenarios, 3 automated (75%)" in md and "| US2 Search history | P1 | US2-AS1" in md
    html = tmp_path / "matrix.html"
    proc = assay("trace", "matrix", str(tmp_path / "spec.md"), "--tests", str(tests), "--format", "html", "-o", str(html), cwd=tmp_path)
    assert "<h2>Gaps</h2>" in html.read_text() and "US2-AS1 (P1): no test" in proc.stderr


def test_plan_steps_tagged_with_scenarios_count(tmp_path: Path) -> None:
    (tmp_path / "spec.yaml").write_text("""\
stories:
  - id: US1
    title: Send
    priority: P0
    scenarios: [{id: US1-AS1, title: delivered}, {id: US1-AS2, title: once}]
""")
    report = {"schema": "assay.plan/1", "plan": "nightly", "source": "n.yaml", "run_id": "r1",
              "started_at": "2026-12-07T03:00:00Z", "stages": [{"name": "load", "key": "load", "status": "passed", "steps": [
                  {"stage": "load", "name": "soak", "kind": "load", "status": "passed", "scenarios": ["US1-AS1", "US1-AS2"]}]}]}
    (tmp_path / "report.json").write_text(json.dumps(report))
    proc = assay("trace", "matrix", str(tmp_path / "spec.yaml"), "--tests", str(tmp_path), "--plan-report",
                 str(tmp_path / "report.json"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 scenarios: 2 automated (100%), 2 passing (100%)" in proc.stdout
    md = assay("trace", "matrix", str(tmp_path / "spec.yaml"), "--tests", str(tmp_path), "--plan-report",
               str(tmp_path / "report.json"), "--format", "markdown", cwd=tmp_path).stdout
    assert "`plan nightly: load.soak`" in md


def test_spec_mistakes_are_located(tmp_path: Path) -> None:
    (tmp_path / "spec.md").write_text("# Spec\n\n- US7-AS1: orphan scenario\n\n## US1: x (P0)\n- US1-AS1: a\n- US1-AS1: again\n")
    proc = assay("trace", "matrix", str(tmp_path / "spec.md"), "--tests", str(tmp_path), cwd=tmp_path)
    assert proc.returncode == 64
    assert "spec.md:3:3: scenario US7-AS1 is under no story heading (US7)" in proc.stderr
    assert "spec.md:7:3: scenario US1-AS1 is listed twice (first on line 6)" in proc.stderr
