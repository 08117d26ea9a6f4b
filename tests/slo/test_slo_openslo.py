"""OpenSLO v1 import: threshold and ratio metrics, indicatorRef, DataSources, errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from assay.config import ConfigError
from assay.results import RunResult
from assay.slo.evaluate import evaluate
from assay.slo.files import load_slo

OPENSLO = """
apiVersion: openslo/v1
kind: SLI
metadata:
  name: read-latency
spec:
  thresholdMetric:
    metricSource:
      type: assay
      spec:
        metric: http_req_duration{name:read}
---
apiVersion: openslo/v1
kind: SLO
metadata:
  name: read-latency-slo
  displayName: Read latency
  labels:
    priority: P0
spec:
  service: courier
  indicatorRef: read-latency
  timeWindow:
    - duration: 1d
      isRolling: true
  budgetingMethod: Occurrences
  objectives:
    - displayName: fast reads
      op: lte
      value: 350
      target: 0.95
    - displayName: no very slow reads
      op: lt
      value: 1000
      targetPercent: 99.9
---
apiVersion: openslo/v1
kind: SLO
metadata:
  name: availability
spec:
  service: courier
  indicator:
    metadata:
      name: good-requests
    spec:
      ratioMetric:
        counter: true
        good:
          metricSource:
            spec: {metric: http_req_failed, aggregation: fails}
        total:
          metricSource:
            spec: {metric: http_reqs, aggregation: count}
  timeWindow:
    - duration: 28d
      isRolling: true
  budgetingMethod: Occurrences
  objectives:
    - target: 0.99
      compositeWeight: 3
---
apiVersion: openslo/v1
kind: SLO
metadata:
  name: error-budget
  labels:
    key: "true"
spec:
  service: courier
  indicator:
    metadata:
      name: errors
    spec:
      ratioMetric:
        rawType: failure
        raw:
          metricSource:
            spec: {metric: http_req_failed, aggregation: rate}
  timeWindow:
    - duration: 7d
      isRolling: true
  budgetingMethod: Occurrences
  objectives:
    - targetPercent: 99.5
---
apiVersion: openslo/v1
kind: Service
metadata:
  name: courier
spec:
  description: ignored by the gate
"""


def test_openslo_documents_become_objectives(write_slo: Callable[..., Path]) -> None:
    spec = load_slo(write_slo(OPENSLO, "openslo.yaml"))
    by_id = {o.id: o for o in spec.objectives}
    assert list(by_id) == [
        "read-latency-slo/fast reads",
        "read-latency-slo/no very slow reads",
        "availability",
        "error-budget",
    ]
    fast = by_id["read-latency-slo/fast reads"]
    assert (fast.sli, fast.aggregation, fast.pass_[0].criteria if fast.pass_ else None) == (
        "http_req_duration{name:read}",
        "p(95)",  # 95% of reads at or under 350 ms is p(95) <= 350
        ["<=350"],
    )
    assert fast.priority == "P0"
    slow = by_id["read-latency-slo/no very slow reads"]
    assert slow.aggregation == "p(99.9)" and slow.pass_ and slow.pass_[0].criteria == ["<1000"]
    availability = by_id["availability"]
    assert availability.ratio is not None and availability.weight == 3
    assert availability.ratio.numerator.sli == "http_req_failed" and availability.ratio.numerator.aggregation == "fails"
    assert availability.pass_ and availability.pass_[0].criteria == [">=0.99"]
    budget = by_id["error-budget"]
    assert budget.key and budget.pass_ and budget.pass_[0].criteria == ["<=0.005"]


def test_openslo_objectives_evaluate_on_a_k6_run(write_slo: Callable[..., Path], k6_run: Callable[..., RunResult]) -> None:
    spec = load_slo(write_slo(OPENSLO, "openslo.yaml"))
    result = k6_run(
        seconds=10,
        rps=20,
        latency=lambda t, name: 200.0 if name == "read" else 900.0,
        status=lambda t, name, i: 500 if i % 100 == 3 else 200,
    )
    report = evaluate(spec, result)
    by_id = {o.id: o for o in report.objectives}
    assert by_id["read-latency-slo/fast reads"].status == "PASS"
    assert by_id["availability"].value == pytest.approx(0.99)
    assert by_id["availability"].status == "PASS"
    assert by_id["error-budget"].value == pytest.approx(0.01)
    assert by_id["error-budget"].status == "FAIL" and by_id["error-budget"].critical
    assert report.status == "CRITICAL"


def test_openslo_prometheus_datasource(write_slo: Callable[..., Path]) -> None:
    text = """
apiVersion: openslo/v1
kind: DataSource
metadata: {name: prom}
spec:
  type: Prometheus
  connectionDetails: {url: "http://127.0.0.1:9090"}
---
apiVersion: openslo/v1
kind: SLO
metadata: {name: errors}
spec:
  service: courier
  indicator:
    metadata: {name: errors}
    spec:
      ratioMetric:
        counter: true
        bad:
          metricSource:
            metricSourceRef: prom
            spec: {query: 'sum(increase(http_errors_total[$DURATION_SECONDS]))'}
        total:
          metricSource:
            metricSourceRef: prom
            spec: {query: 'sum(increase(http_requests_total[$DURATION_SECONDS]))'}
  budgetingMethod: Occurrences
  timeWindow: [{duration: 1d, isRolling: true}]
  objectives: [{target: 0.999}]
"""
    spec = load_slo(write_slo(text, "prom.yaml"))
    assert spec.prometheus is not None and spec.prometheus.url == "http://127.0.0.1:9090"
    ratio = spec.objectives[0].ratio
    assert ratio is not None and ratio.numerator.promql == "sum(increase(http_errors_total[$DURATION_SECONDS]))"
    assert spec.objectives[0].pass_ and spec.objectives[0].pass_[0].criteria == ["<=0.001"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: x}\nspec: {indicatorRef: nope, objectives: [{op: lte, value: 1}]}", "no SLI named 'nope'"),
        ("apiVersion: openslo/v1\nkind: Widget\nmetadata: {name: x}\n", "unknown OpenSLO kind 'Widget'"),
        ("apiVersion: openslo/v1\nkind: SLI\nmetadata: {name: x}\nspec: {}\n", "no OpenSLO SLO object"),
        (
            "apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: x}\nspec:\n  indicator: {spec: {thresholdMetric: {metricSource: {spec: {table: t}}}}}\n"
            "  objectives: [{op: lte, value: 1}]\n",
            "expected 'metric' (a RunResult metric",
        ),
        (
            "apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: x}\nspec:\n  indicator: {spec: {thresholdMetric: {metricSource: {spec: {metric: m}}}}}\n"
            "  objectives: [{op: about, value: 1}]\n",
            "needs 'op' (lte, lt, gte, gt)",
        ),
    ],
)
def test_openslo_mistakes_are_config_errors(write_slo: Callable[..., Path], body: str, message: str) -> None:
    with pytest.raises(ConfigError, match="openslo.yaml") as info:
        load_slo(write_slo(body, "openslo.yaml"))
    assert message in str(info.value)
