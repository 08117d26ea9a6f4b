"""The night's reports: self-contained HTML checked in headless Chromium (renders, no console
errors, the verdict is drawn at the top), JUnit XML (a suite per stage, a case per step and
gate), Markdown, and schema-versioned JSON."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest
import xmlschema
from plan_helpers import FAILED_RED, PASSED_GREEN, PlanRun, chromium, top_pixels

Run = Callable[..., PlanRun]
HERE = Path(__file__).resolve().parent

SLO = """\
objectives:
  - name: errors
    sli: http_req_failed
    aggregation: rate
    pass: ["<0.01"]
    priority: P0
"""


@pytest.mark.slow
def test_the_night_report_renders_offline_with_the_verdict_on_top(
    run_plan: Run, tmp_path: Path, system_tool: Callable[..., str]
) -> None:
    (tmp_path / "slo.yaml").write_text(SLO)
    run = run_plan(f"""\
name: report
description: a night with a load step, an SLO gate and a failing step
services:
  api:
    command: [python, {HERE / 'slow_service.py'}, --port, "${{services.api.port}}"]
    port: auto
stages:
  load:
    steps:
      - {{name: smoke, kind: load, target: "${{services.api.url}}/", rate: 20, duration: 3s, vus: 2,
          thresholds: ["http_req_duration:p(95)<5000"]}}
      - {{name: gate, kind: slo, slo: slo.yaml}}
  checks:
    continue-on-error: true
    steps:
      - {{name: broken, kind: run, command: "echo broken; exit 1"}}
  final:
    needs: [load]
    steps:
      - {{name: fails, kind: run, command: "exit 4"}}
""")
    assert run.code == 2, run.err
    assert run.run_dir is not None
    html = (run.run_dir / "report.html").read_text()
    assert "<script" not in html and "<link" not in html
    assert not re.search(r"""(src|href|url)\s*[=(]\s*["']?https?:""", html)
    assert html.index('id="verdict"') < html.index("<h2>Stages and steps</h2>")
    assert "The night failed (FAILED)" in html and "final.fails failed at gate &#x27;command exit code&#x27;" in html
    assert "<h2 id=\"step-load-smoke\">Load: load.smoke" in html and "Over time" in html
    assert "<h2>SLO scores</h2>" in html and "errors" in html
    assert 'href="stages/load/smoke/result.json"' in html and 'href="services/api.log"' in html
    png = tmp_path / "report.png"
    log = chromium(run.run_dir / "report.html", png, system_tool)
    assert "CONSOLE" not in log and "Uncaught" not in log, log
    assert top_pixels(png, FAILED_RED) > 20_000  # the red verdict banner fills the top of the page

    xmlschema.XMLSchema(str(HERE / "junit.xsd")).validate(str(run.run_dir / "junit.xml"))
    junit = ET.parse(run.run_dir / "junit.xml").getroot()
    suites = {s.get("name"): s for s in junit.iter("testsuite")}
    assert list(suites) == ["load", "checks", "final"]
    load_cases = [(c.get("classname"), c.get("name")) for c in suites["load"].iter("testcase")]
    assert ("load", "smoke") in load_cases and ("load", "gate") in load_cases
    assert ("load.smoke", "threshold http_req_duration: p(95)<5000") in load_cases
    assert ("load.gate", "SLO errors: errors") in load_cases
    assert suites["final"].get("failures") == "2"  # the step and its exit-code gate
    assert junit.get("failures") == str(sum(int(s.get("failures") or 0) for s in suites.values()))

    md = (run.run_dir / "report.md").read_text()
    assert md.startswith("# ❌ report: FAILED")
    assert "| final | fails | run | ❌ failed |" in md and "## SLO scores" in md

    import json

    data = json.loads((run.run_dir / "report.json").read_text())
    assert data["schema"] == "assay.plan/1" and data["status"] == "failed" and data["exit_code"] == 2
    smoke = run.step("load.smoke")
    assert smoke["details"]["http_reqs"]["count"] > 0 and smoke["results"] == ["stages/load/smoke/result.json"]


@pytest.mark.slow
def test_a_green_night_is_green(run_plan: Run, tmp_path: Path, system_tool: Callable[..., str]) -> None:
    run = run_plan("""\
name: green
stages:
  s:
    steps: [{name: ok, kind: run, command: "true"}]
""")
    assert run.code == 0
    assert run.run_dir is not None
    png = tmp_path / "green.png"
    log = chromium(run.run_dir / "report.html", png, system_tool)
    assert "CONSOLE" not in log
    assert top_pixels(png, PASSED_GREEN) > 20_000 and top_pixels(png, FAILED_RED) == 0
