"""`assay observe alert-rules`: burn-rate rules checked and unit-tested by promtool."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from assay.slo.alerts import BURN_WINDOWS, alert_rules
from assay.slo.files import load_slo

REPO = Path(__file__).resolve().parents[2]
COURIER_SLO = REPO / "examples" / "courier" / "suite" / "slo.yaml"
PROMTOOL = shutil.which("promtool")

SLO = """
objectives:
  - name: errors
    sli: http_req_failed
    aggregation: rate
    pass: ["<0.01"]
    priority: P0
  - name: p95
    sli: http_req_duration
    aggregation: p(95)
    pass: ["<=300"]
    priority: P1
  - name: upstream-5xx
    ratio:
      numerator: {promql: 'sum(increase(http_requests_total{code=~"5.."}[5m]))'}
      denominator: {promql: 'sum(increase(http_requests_total[5m]))'}
    pass: ["<0.001"]
  - name: relative
    sli: http_req_failed
    aggregation: rate
    pass: ["<=+10%"]
"""

# 10 % of requests fail for two hours: 10x a 1 % budget, so the 6h/30m page (6x) fires, the 1h/5m one (14.4x) does not.
PROMTOOL_TEST = """
rule_files: [rules.yaml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'assay_load_requests_total{run="soak"}'
        values: '0+600x180'
      - series: 'assay_load_requests_failed_total{run="soak"}'
        values: '0+60x180'
    alert_rule_test:
      - eval_time: 120m
        alertname: SLOBurnRateErrorsPage6h
        exp_alerts:
          - exp_labels: {slo: t, objective: errors, priority: P0, severity: page}
            exp_annotations:
              summary: "errors: error budget burning 6.0x over 6h and 30m"
              description: "budget 0.01 (objective pass <0.01)"
      - eval_time: 120m
        alertname: SLOBurnRateErrorsPage1h
        exp_alerts: []
"""


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    slo_path = tmp_path / "slo.yaml"
    slo_path.write_text(SLO)
    out = tmp_path / "rules.yaml"
    done = subprocess.run(
        [sys.executable, "-m", "assay", "observe", "alert-rules", str(slo_path), "--name", "t", "-o", str(out)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "skipped relative: no absolute budget" in done.stderr
    return out


def test_rules_shape(rules_file: Path) -> None:
    doc = yaml.safe_load(rules_file.read_text())
    alerts = {r["alert"]: r for g in doc["groups"] for r in g["rules"] if "alert" in r}
    records = {r["record"]: r for g in doc["groups"] for r in g["rules"] if "record" in r}
    burn = [a for a in alerts if a.startswith("SLOBurnRateErrors")]
    assert len(burn) == len(BURN_WINDOWS)
    page = alerts["SLOBurnRateErrorsPage1h"]
    assert page["expr"] == "assay:slo_error_ratio:errors:rate1h > (14.4 * 0.01) and assay:slo_error_ratio:errors:rate5m > (14.4 * 0.01)"
    assert records["assay:slo_error_ratio:upstream_5xx:rate3d"]["expr"] == (
        '(sum(increase(http_requests_total{code=~"5.."}[3d]))) / (sum(increase(http_requests_total[3d])))'
    )
    assert alerts["SLOLatencyP95"]["expr"] == "assay_load_http_req_duration_p95_ms > 300.0"


@pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed (Debian package prometheus; .ci/run installs it)")
def test_promtool_checks_and_unit_tests_the_rules(rules_file: Path) -> None:
    assert PROMTOOL is not None
    check = subprocess.run([PROMTOOL, "check", "rules", str(rules_file)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    test_file = rules_file.parent / "test.yaml"
    test_file.write_text(PROMTOOL_TEST)
    unit = subprocess.run([PROMTOOL, "test", "rules", str(test_file)], capture_output=True, text=True, timeout=60)
    assert unit.returncode == 0, unit.stdout + unit.stderr


def test_courier_slo_gives_valid_rules() -> None:
    rules = alert_rules(load_slo(COURIER_SLO), "courier")
    names = [r.get("alert") for g in rules.groups for r in g["rules"]]
    assert "SLOBurnRateErrorsPage1h" in names
    assert any(s.startswith("checks:") for s in rules.skipped)
