"""What people read in every report: the SLO's name, values in the objective's own units."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from slo_helpers import simple_result

from assay.slo.check import check
from assay.slo.files import load_slo
from assay.slo.reports import console, html, markdown


def test_a_file_without_a_name_is_named_after_the_file(write_slo: Callable[..., Path]) -> None:
    path = write_slo("objectives: [{sli: http_req_failed, pass: ['<0.01']}]\n", "checkout-gate.yaml")
    outcome = check(load_slo(path), [simple_result({"errors": 0.0})])
    assert outcome.slo == "checkout-gate" and outcome.evaluations[0].slo == "checkout-gate"
    assert "SLO checkout-gate" in console.render_text(outcome)
    assert "SLO checkout-gate" in markdown.render(outcome)
    assert "SLO slo" not in console.render_text(outcome) + markdown.render(outcome) + html.render(outcome)
    named = write_slo("name: payments\nobjectives: [{sli: http_req_failed, pass: ['<0.01']}]\n", "other.yaml")
    assert check(load_slo(named), [simple_result({"errors": 0.0})]).slo == "payments"
