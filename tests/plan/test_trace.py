"""`assay trace matrix`: stories and scenarios from a spec, tests from @pytest.mark.scenario and
their last results (pytest's own JUnit XML with assay's plugin, and plan reports), computed
totals, and exit 2 when a P0/P1 scenario has no test or a failing one."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from plan_helpers import PlanRun, assay

from assay.plan.trace import parse_markdown

HERE = Path(__file__).resolve().parent

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


# --- load scenario files and chaos experiments ---------------------------------------------------

LOAD_SPEC = """\
stories:
  - id: US1
    title: Browse
    priority: P0
    scenarios: [{id: US1-AS1, title: pages answer}, {id: US1-AS2, title: pages say hello}]
  - id: US2
    title: Scripts
    priority: P1
    scenarios: [{id: US2-AS1, title: the k6 script runs}]
  - id: US3
    title: Recovery
    priority: P1
    scenarios: [{id: US3-AS1, title: recovers}]
"""

LOAD_YAML = """\
# the YAML scenario covers US1-AS1
scenario: [US1-AS1]
options:
  thresholds:
    http_req_failed: ["rate<0.01"]
requests:
  - {url: "{{ env.API_URL }}/", check: {status: 200}}
"""

LOAD_PY = """\
import os

scenario = ["US1-AS2"]  # the module covers US1-AS2
API = os.environ["API_URL"]
options = {"thresholds": {"checks": ["rate>0.99"]}}


async def default(vu):
    resp = await vu.http.get(API + "/")
    vu.check(resp, {"says hello": lambda r: r.text == "hello"})  # it says "ok": this one fails
"""

K6_JS = """\
import http from 'k6/http';

export const scenario = [
  'US2-AS1',
];
export const options = { vus: 1, iterations: 1 };

export default function () {
  http.get(`${__ENV.API_URL}/`);
}
"""

EXPERIMENT = """\
title: recovers
description: a tagged experiment
tags: [api, US3-AS1]
method:
  - {type: action, name: nothing, provider: {type: process, path: "true"}}
"""


def _load_files(root: Path) -> None:
    (root / "spec.yaml").write_text(LOAD_SPEC)
    (root / "browse.yaml").write_text(LOAD_YAML)
    (root / "hello.py").write_text(LOAD_PY)
    (root / "script.js").write_text(K6_JS)
    (root / "recovers.yaml").write_text(EXPERIMENT)
    (root / "tests").mkdir()


def test_load_files_and_experiments_named_with_tests_count_as_automated(tmp_path: Path) -> None:
    _load_files(tmp_path)
    proc = assay("trace", "matrix", "spec.yaml", "--tests", "tests", "--tests", "browse.yaml", "--tests", "hello.py",
                 "--tests", "script.js", "--tests", "recovers.yaml", "--format", "json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    m = json.loads(proc.stdout)
    rows = {r["scenario"]: (r["tests"], r["last_result"]) for r in m["rows"]}
    assert rows == {"US1-AS1": (["browse.yaml"], "not run"), "US1-AS2": (["hello.py"], "not run"),
                    "US2-AS1": (["script.js"], "not run"), "US3-AS1": (["recovers.yaml"], "not run")}
    assert m["totals"]["automated"] == 4 and m["totals"]["coverage_pct"] == 100.0


@pytest.mark.slow
def test_a_plan_s_load_files_count_and_its_newest_night_gives_their_results(tmp_path: Path, run_plan: Callable[..., PlanRun]) -> None:
    """The plan names the files; the matrix reads what they declare before the night runs, then
    takes each one's last result from the plan's newest report."""
    _load_files(tmp_path)
    plan = f"""\
name: traced
artifacts: out
services: {{api: {{command: [python, {HERE / 'slow_service.py'}, --port, "${{services.api.port}}"], port: auto}}}}
stages:
  load:
    steps:
      - {{name: browse, kind: load, target: browse.yaml, rate: 5, duration: 1s, env: {{API_URL: "${{services.api.url}}"}}}}
      - {{name: hello, kind: load, target: hello.py, rate: 5, duration: 1s, env: {{API_URL: "${{services.api.url}}"}}}}
"""
    (tmp_path / "plan.yaml").write_text(plan)
    before = assay("trace", "matrix", "spec.yaml", "--tests", "tests", "--plan", "plan.yaml", "--format", "json", cwd=tmp_path)
    assert before.returncode == 2, before.stderr  # US2-AS1 and US3-AS1 (P1) have no test
    m = json.loads(before.stdout)
    rows = {r["scenario"]: r for r in m["rows"]}
    assert rows["US1-AS1"]["tests"] == ["plan traced: load.browse"] and rows["US1-AS1"]["last_result"] == "not run"
    assert rows["US1-AS2"]["tests"] == ["plan traced: load.hello"]
    assert m["totals"] == {"scenarios": 4, "automated": 2, "passing": 0, "failing": 0, "coverage_pct": 50.0, "passing_pct": 0.0}
    assert "last results of" not in before.stderr  # no night yet

    run = run_plan(plan)
    assert run.code == 2, run.err  # hello's check fails
    assert run.step("load.browse")["scenarios"] == ["US1-AS1"] and run.step("load.browse")["status"] == "passed"
    assert run.step("load.hello")["scenarios"] == ["US1-AS2"] and run.step("load.hello")["status"] == "failed"

    after = assay("trace", "matrix", "spec.yaml", "--tests", "tests", "--plan", "plan.yaml", "--format", "json", cwd=tmp_path)
    assert "last results of plan.yaml: out/traced/run01/report.json" in after.stderr
    m = json.loads(after.stdout)
    rows = {r["scenario"]: r for r in m["rows"]}
    assert (rows["US1-AS1"]["last_result"], rows["US1-AS2"]["last_result"]) == ("passed", "failed")
    assert rows["US1-AS2"]["tests"] == ["plan traced: load.hello"]  # the step's static row and its result are one test
    assert m["totals"] == {"scenarios": 4, "automated": 2, "passing": 1, "failing": 1, "coverage_pct": 50.0, "passing_pct": 25.0}
    assert m["gaps"][0] == "US1-AS2 (P0): failing: plan traced: load.hello"


def test_a_matrix_stage_s_steps_stay_apart_per_entry(tmp_path: Path) -> None:
    (tmp_path / "spec.yaml").write_text(LOAD_SPEC)
    steps = [{"stage": f"e2e[mode={mode}]", "name": name, "kind": "run", "status": status, "scenarios": [sid]}
             for mode, status in (("a", "passed"), ("b", "failed")) for name, sid in (("one", "US1-AS1"), ("two", "US1-AS2"))]
    report = {"schema": "assay.plan/1", "plan": "p", "source": "p.yaml", "run_id": "r", "started_at": "2026-12-07T03:00:00Z",
              "stages": [{"name": "e2e", "key": s["stage"], "status": "passed", "steps": [s]} for s in steps]}
    (tmp_path / "report.json").write_text(json.dumps(report))
    (tmp_path / "tests").mkdir()
    proc = assay("trace", "matrix", "spec.yaml", "--tests", "tests", "--plan-report", "report.json", "--format", "json",
                 "--fail-on", "none", cwd=tmp_path)
    rows = {r["scenario"]: r for r in json.loads(proc.stdout)["rows"]}
    assert rows["US1-AS1"]["tests"] == ["plan p: e2e[mode=a].one", "plan p: e2e[mode=b].one"]
    assert rows["US1-AS1"]["last_result"] == "failed"


def test_ids_that_are_not_ids_are_located_errors(tmp_path: Path) -> None:
    (tmp_path / "spec.yaml").write_text(LOAD_SPEC)
    bad = {
        "bad.yaml": ("scenario: [US1-AS1, US1 AS2]\nrequests: [{url: /}]\n",
                     "bad.yaml:1:21: scenario[1]: expected an acceptance scenario id such as US1-AS2 (got 'US1 AS2')"),
        "bad.py": ('options = {}\nscenario = ["US1-AS1", f"US{1}"]\n',
                   "bad.py:2:24: scenario: expected an acceptance scenario id such as US1-AS2 (a string literal), got f'US{1}'"),
        "bad.js": ("export const scenario = ['US1-AS1', 'as1'];\n",
                   "bad.js:1:37: scenario: expected an acceptance scenario id such as US1-AS2, got 'as1'"),
        "test_bad.py": ('import pytest\n\n@pytest.mark.scenario("US1-AS1", "AS2")\ndef test_x():\n    assert 2 + 2 == 4\n',
                        "test_bad.py:3:34: @pytest.mark.scenario: expected an acceptance scenario id such as US1-AS2, got 'AS2'"),
    }
    for name, (text, message) in bad.items():
        (tmp_path / name).write_text(text)
        proc = assay("trace", "matrix", "spec.yaml", "--tests", name, cwd=tmp_path)
        assert proc.returncode == 64, (name, proc.stderr)
        assert message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    # the load engine refuses the same declaration before any traffic, and so does a plan step's
    proc = assay("load", "run", "bad.yaml", cwd=tmp_path)
    assert proc.returncode == 64 and "bad.yaml:1:21: scenario[1]: expected an acceptance scenario id" in proc.stderr, proc.stderr
    proc = assay("load", "run", "bad.py", cwd=tmp_path)
    assert proc.returncode == 64 and "bad.py:2:24: scenario: expected an acceptance scenario id" in proc.stderr, proc.stderr
    (tmp_path / "plan.yaml").write_text("name: p\nstages:\n  s:\n    steps:\n      - {name: x, kind: run, command: 'true', scenario: [us1-as1]}\n")
    proc = assay("plan", "validate", "plan.yaml", cwd=tmp_path)
    assert proc.returncode == 64 and "plan.yaml:5:" in proc.stderr and "expected an acceptance scenario id" in proc.stderr, proc.stderr
    proc = assay("trace", "matrix", "spec.yaml", "--tests", "bad.yaml", "--plan", "plan.yaml", cwd=tmp_path)
    assert proc.returncode == 64
    # and a plan whose load step runs a file with a bad declaration does not validate either
    (tmp_path / "plan.yaml").write_text("name: p\nstages:\n  s:\n    steps:\n      - {name: x, kind: load, target: bad.py}\n")
    proc = assay("plan", "validate", "plan.yaml", cwd=tmp_path)
    assert proc.returncode == 64 and "bad.py:2:24: scenario: expected an acceptance scenario id" in proc.stderr, proc.stderr
    (tmp_path / "tests").mkdir()
    proc = assay("trace", "matrix", "spec.yaml", "--tests", "tests", "--plan", "plan.yaml", cwd=tmp_path)
    assert proc.returncode == 64 and "bad.py:2:24: scenario:" in proc.stderr, proc.stderr


@pytest.fixture
def api_url() -> Iterator[str]:
    """The plan tests' slow_service on a free loopback port, ready when this yields."""
    import socket
    import time

    from assay.harness.ports import free_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, str(HERE / "slow_service.py"), "--port", str(port)], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "slow_service did not listen"
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.wait()


def test_standalone_load_results_give_their_files_scenarios_a_last_result(tmp_path: Path, api_url: str) -> None:
    """`assay load run FILE --result out.json` outside a plan: the matrix reads the ids FILE declares
    and takes the run's status (hello.py's check fails, browse.yaml passes)."""
    _load_files(tmp_path)
    for name in ("browse.yaml", "hello.py"):
        ran = assay("load", "run", name, "--vus", "1", "--iterations", "3", "--result", f"{name}.json", cwd=tmp_path,
                    env={"API_URL": api_url})
        assert ran.returncode in (0, 99), ran.stderr
    proc = assay("trace", "matrix", "spec.yaml", "--tests", "tests", "--tests", "browse.yaml", "--result", "browse.yaml.json",
                 "--result", "hello.py.json", "--format", "json", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr  # hello.py failed (P0) and US2-AS1, US3-AS1 have no test
    m = json.loads(proc.stdout)
    rows = {r["scenario"]: (r["tests"], r["last_result"]) for r in m["rows"]}
    assert rows["US1-AS1"] == (["browse.yaml"], "passed")  # the static row and the result are one test
    assert rows["US1-AS2"] == (["hello.py"], "failed")
    assert m["totals"]["passing"] == 1 and m["totals"]["failing"] == 1
    # run from elsewhere, the result's own folder still finds the file it names
    (tmp_path / "elsewhere").mkdir()
    away = assay("trace", "matrix", "../spec.yaml", "--tests", "../tests", "--result", "../browse.yaml.json", "--format", "json",
                 cwd=tmp_path / "elsewhere")
    assert {r["scenario"]: r["last_result"] for r in json.loads(away.stdout)["rows"]}["US1-AS1"] == "passed", away.stderr


def test_a_load_result_records_its_files_ids_and_the_matrix_reads_them_first(tmp_path: Path, api_url: str) -> None:
    """The result keeps the ids its file declared when the run began (`source.scenarios`): the
    matrix credits them even after the file moved or changed; an older result without them
    falls back to the file."""
    _load_files(tmp_path)
    for name in ("browse.yaml", "hello.py", "script.js"):
        ran = assay("load", "run", name, "--vus", "1", "--iterations", "1", "--result", f"{name}.json", cwd=tmp_path,
                    env={"API_URL": api_url})
        assert ran.returncode in (0, 99), ran.stderr
    sources = {n: json.loads((tmp_path / f"{n}.json").read_text())["source"] for n in ("browse.yaml", "hello.py", "script.js")}
    assert sources["browse.yaml"] == {"format": "assay-load-yaml", "path": "browse.yaml", "scenarios": ["US1-AS1"]}
    assert sources["hello.py"]["scenarios"] == ["US1-AS2"] and sources["script.js"]["scenarios"] == ["US2-AS1"]
    # after the run the YAML file moves away and the Python file now claims another scenario
    (tmp_path / "browse.yaml").rename(tmp_path / "moved.yaml")
    (tmp_path / "hello.py").write_text(LOAD_PY.replace('["US1-AS2"]', '["US2-AS1"]'))
    proc = assay("trace", "matrix", "spec.yaml", "--tests", "tests", "--result", "browse.yaml.json", "--result", "hello.py.json",
                 "--format", "json", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    rows = {r["scenario"]: (r["tests"], r["last_result"]) for r in json.loads(proc.stdout)["rows"]}
    assert rows["US1-AS1"] == (["browse.yaml"], "passed")
    assert rows["US1-AS2"] == (["hello.py"], "failed") and rows["US2-AS1"] == ([], "no test")
    # a result written before assay recorded the ids: what the file declares now
    old = json.loads((tmp_path / "hello.py.json").read_text())
    del old["source"]["scenarios"]
    (tmp_path / "old.json").write_text(json.dumps(old))
    proc = assay("trace", "matrix", "spec.yaml", "--tests", "tests", "--result", "old.json", "--format", "json", cwd=tmp_path)
    rows = {r["scenario"]: (r["tests"], r["last_result"]) for r in json.loads(proc.stdout)["rows"]}
    assert rows["US2-AS1"] == (["hello.py"], "failed") and rows["US1-AS2"] == ([], "no test"), proc.stderr


def test_a_file_the_matrix_cannot_read_as_a_load_result_is_exit_64(tmp_path: Path) -> None:
    (tmp_path / "spec.yaml").write_text(LOAD_SPEC)
    (tmp_path / "tests").mkdir()
    (tmp_path / "service.json").write_text(json.dumps({"schema": "assay.run/1", "name": "service api", "kind": "service",
                                                       "source": {"format": "assay", "path": None}}))
    (tmp_path / "gone.json").write_text(json.dumps({"schema": "assay.run/1", "name": "gone", "kind": "load", "status": "passed",
                                                    "source": {"format": "assay-load-yaml", "path": "gone.yaml"}}))
    (tmp_path / "badid.json").write_text(json.dumps({"schema": "assay.run/1", "name": "b", "kind": "load", "status": "passed",
                                                     "source": {"format": "assay-load-yaml", "path": "b.yaml", "scenarios": ["us1"]}}))
    (tmp_path / "notes.txt").write_text("not a result\n")
    cases = {
        ("--result", "missing.json"): "--result missing.json: no such file",
        ("--result", "notes.txt"): "notes.txt: not a result file assay knows",
        ("--result", "service.json"): "--result service.json: not an `assay load run --result` file (a service result",
        ("--result", "gone.json"): "--result gone.json: the load scenario file it ran, 'gone.yaml', is not found",
        ("--result", "badid.json"): "--result badid.json: source.scenarios: 'us1': expected an acceptance scenario id",
        ("--plan-report", "gone.json"): "it is an `assay load run` result: pass it with --result",
        ("--plan-report", "missing.json"): "--plan-report missing.json: no such file",
        ("--junit", "gone.json"): "--junit gone.json: not a JUnit XML file",
    }
    for args, message in cases.items():
        proc = assay("trace", "matrix", "spec.yaml", "--tests", "tests", *args, cwd=tmp_path)
        assert proc.returncode == 64, (args, proc.stdout, proc.stderr)
        assert message in proc.stderr and "Traceback" not in proc.stderr, (args, proc.stderr)
