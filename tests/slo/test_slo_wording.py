"""What people read in every report: the SLO's name, values in the objective's own units."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from slo_helpers import simple_result

from assay.config import parse_config
from assay.results import Metric, RunResult
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


RESOURCE_SLO = """
objectives:
  - {name: rss, sli: "proc_rss_bytes{proc:api}", aggregation: max, pass: ["<100000000"], warning: ["<200000000"]}
  - {name: rss-growth, sli: "proc_rss_bytes{proc:api}", aggregation: max, pass: ["<=+10%"]}
  - {name: cpu, sli: "proc_cpu_percent{proc:api}", aggregation: max, pass: ["<80"]}
  - {name: fds, sli: "proc_open_fds{proc:api}", pass: ["<1000"]}
"""


def _resources(rss: float, cpu: float, name: str) -> RunResult:
    """A sampled service's night as the plan writes it: proc_* gauges (kind service)."""
    result = simple_result({}, name=name)
    result.kind = "service"
    for metric, value in (("proc_rss_bytes{proc:api}", rss), ("proc_cpu_percent{proc:api}", cpu),
                          ("proc_open_fds{proc:api}", 42.0)):
        m = Metric.new("gauge", tags={"proc": "api"})
        m.add(value)
        result.metrics[metric] = m
    return result


def test_resource_values_print_in_mib_and_percent_and_stay_raw_in_json() -> None:
    spec = parse_config(RESOURCE_SLO, SloFile)
    history = ListHistory([_resources(100 * 1024**2, 20.0, "before")])
    outcome = check(spec, [_resources(123456789.0, 27.2, "tonight")], history=history)
    rss, growth, cpu, fds = outcome.evaluations[0].objectives
    assert (rss.unit, rss.show(rss.value), rss.target) == ("B", "117.7 MiB", "<100000000 (95.37 MiB)")
    assert rss.reason is None and rss.status == "WARNING"
    assert delta_text(rss) == "+17.74 MiB (+17.7%) vs 100 MiB"
    assert growth.target == "<=+10% (<= 110 MiB)"
    assert (cpu.unit, cpu.show(cpu.value), delta_text(cpu)) == ("%", "27.2%", "+7.2 pp (+36.0%) vs 20%")
    assert (fds.unit, fds.show(fds.value)) == (None, "42")
    text = console.render_text(outcome, width=200)
    row = next(line for line in text.splitlines() if "│ rss " in line)
    assert "117.7 MiB" in row and "123456789" not in row and "1.235e+08" not in row
    assert "117.7 MiB misses the pass target <100000000 (95.37 MiB) but meets the warning target" in text
    md = markdown.render(outcome)
    assert "| 117.7 MiB |" in md and "| 27.2% |" in md and "1.235e+08" not in md
    page = html.render(outcome)
    assert ">117.7 MiB<" in page and ">27.2%<" in page
    assert "value: 117.7 MiB" in junit.render(outcome)
    raw = json.loads(outcome.to_json())["evaluations"][0]["objectives"]
    assert [o["value"] for o in raw[:3]] == [123456789.0, 123456789.0, 27.2] and raw[0]["unit"] == "B"


def test_quantities_for_people() -> None:
    from assay.slo.criteria import format_quantity

    assert [format_quantity(v, "B") for v in (512.0, 2048.0, 123456789.0, 3 * 1024.0**3)] == [
        "512 B", "2 KiB", "117.7 MiB", "3 GiB"]
    assert [format_quantity(v, "s") for v in (0.25, 42.0, 5400.0, 9000.0)] == ["250 ms", "42 s", "90 min", "2.5 h"]
    assert [format_quantity(v, u) for v, u in ((27.2, "%"), (381.0, "ms"), (12.5, "/s"), (7.0, None))] == [
        "27.2%", "381 ms", "12.5/s", "7"]
