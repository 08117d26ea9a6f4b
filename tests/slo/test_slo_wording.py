"""What people read in every report: the SLO's name, values in the objective's own units."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from slo_helpers import simple_result

from assay.config import parse_config
from assay.results import RunResult
from assay.slo.check import check
from assay.slo.evaluate import evaluate
from assay.slo.files import load_slo
from assay.slo.history import ListHistory
from assay.slo.reports import console, html, junit, markdown
from assay.slo.reports.common import delta_text
from assay.slo.spec import SloFile


def test_a_file_without_a_name_is_named_after_the_file(write_slo: Callable[..., Path]) -> None:
    path = write_slo("objectives: [{sli: http_req_failed, pass: ['<0.01']}]\n", "checkout-gate.yaml")
    outcome = check(load_slo(path), [simple_result({"errors": 0.0})])
    assert outcome.slo == "checkout-gate" and outcome.evaluations[0].slo == "checkout-gate"
    assert "SLO checkout-gate" in console.render_text(outcome)
    assert "SLO checkout-gate" in markdown.render(outcome)
    assert "SLO slo" not in console.render_text(outcome) + markdown.render(outcome) + html.render(outcome)
    named = write_slo("name: payments\nobjectives: [{sli: http_req_failed, pass: ['<0.01']}]\n", "other.yaml")
    assert check(load_slo(named), [simple_result({"errors": 0.0})]).slo == "payments"


PERCENT_SLO = """
objectives:
  - {name: errors, display_name: "errors < 1%", sli: http_req_failed, pass: ["<0.01"], warning: ["<0.2"]}
  - {name: "checks >= 99.9%", sli: checks, pass: [">=0.999"]}
  - {name: errors-as-fraction, sli: http_req_failed, pass: ["<0.01"]}
"""


def test_rates_print_in_percent_when_the_objective_is_written_in_percent(k6_run: Callable[..., RunResult], write_slo: Callable[..., Path]) -> None:
    # 400 requests, 41 of them 503: an error rate of 10.25%, checks at 89.75%
    result = k6_run(seconds=40, rps=10, status=lambda t, name, i: 503 if i < 41 else 200)
    outcome = check(load_slo(write_slo(PERCENT_SLO)), [result])
    errors, checks, fraction = outcome.evaluations[0].objectives
    assert errors.value == 0.1025 and errors.percent  # machines still get the fraction
    assert (errors.show(errors.value), errors.target) == ("10.25%", "<0.01 (1%)")
    assert (checks.show(checks.value), checks.reason) == ("89.75%", "89.75% does not meet >=0.999 (99.9%)")
    assert (fraction.show(fraction.value), fraction.target, fraction.percent) == ("0.1025", "<0.01", False)
    text = console.render_text(outcome, width=200)
    row = next(line for line in text.splitlines() if "errors < 1%" in line)
    assert "10.25%" in row and "0.1025" not in row
    assert "89.75% does not meet >=0.999 (99.9%)" in text
    md = markdown.render(outcome)
    assert "| 10.25% |" in md and "| 89.75% |" in md and "| 0.1025 |" in md
    page = html.render(outcome)
    assert ">10.25%<" in page and ">89.75%<" in page
    assert "value: 89.75%" in junit.render(outcome)
    assert json.loads(outcome.to_json())["evaluations"][0]["objectives"][0]["value"] == 0.1025


def test_a_percent_objective_against_a_baseline_moves_in_percentage_points() -> None:
    spec = parse_config(
        "objectives: [{display_name: 'errors within +50% of usual', sli: http_req_failed, pass: ['<=+50%']}]", SloFile
    )
    report = evaluate(spec, simple_result({"errors": 0.03}), history=ListHistory([simple_result({"errors": 0.02}, name="before")]))
    o = report.objectives[0]
    assert (o.status, o.target) == ("PASS", "<=+50% (<= 3%)")
    assert delta_text(o) == "+1 pp (+50.0%) vs 2%"
