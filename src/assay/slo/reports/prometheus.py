"""SLO verdicts as Prometheus metrics: text exposition, or a push to a Pushgateway.

assay_slo_objective_status  gauge: 0 pass, 1 warning, 2 fail, 3 critical, -1 info
assay_slo_score             gauge: the weighted total score in percent
assay_threshold_breaches_total counter: failed objectives and crossed k6 thresholds of the run
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from assay.observe.metrics import push_registry
from assay.slo.report import SloCheck

STATUS_VALUES = {"PASS": 0, "WARNING": 1, "FAIL": 2, "CRITICAL": 3, "INFO": -1}
JOB = "assay_slo"


def registry_for(check: SloCheck) -> CollectorRegistry:
    registry = CollectorRegistry()
    status = Gauge(
        "assay_slo_objective_status",
        "SLO objective status: 0 pass, 1 warning, 2 fail, 3 critical, -1 info",
        ["slo", "result", "objective", "priority", "key"],
        registry=registry,
    )
    score = Gauge("assay_slo_score", "Weighted SLO score in percent (Keptn scoring)", ["slo", "result"], registry=registry)
    gate = Gauge("assay_slo_status", "SLO gate status: 0 pass, 1 warning, 2 fail, 3 critical", ["slo", "result"], registry=registry)
    breaches = Counter(
        "assay_threshold_breaches",
        "Failed SLO objectives and crossed load-test thresholds",
        ["slo", "result", "source", "name"],
        registry=registry,
    )
    results = check.results
    for index, report in enumerate(check.evaluations):
        label = report.result.source or report.result.name
        score.labels(report.slo, label).set(report.score)
        gate.labels(report.slo, label).set(STATUS_VALUES[report.status])
        for o in report.objectives:
            status.labels(report.slo, label, o.id, o.priority, str(o.key).lower()).set(STATUS_VALUES[o.code])
            if o.status == "FAIL":
                breaches.labels(report.slo, label, "objective", o.id).inc()
        if index < len(results):
            for metric, threshold in results[index].failed_thresholds():
                breaches.labels(report.slo, label, "threshold", f"{metric}: {threshold.source}").inc()
    return registry


def exposition(check: SloCheck) -> str:
    """The Prometheus text format (for a node_exporter textfile collector or a scrape)."""
    return generate_latest(registry_for(check)).decode("utf-8")


def push(check: SloCheck, gateway: str, *, job: str = JOB, timeout: float = 10.0) -> None:
    """Replace this SLO's group on a Pushgateway (grouping key: job and slo); the one push helper is observe's."""
    push_registry(gateway, registry_for(check), {"slo": check.slo}, job=job, timeout=timeout)
