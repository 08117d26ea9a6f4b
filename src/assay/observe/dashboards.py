"""Grafana dashboards (JSON model) for the metrics assay itself emits.

Four boards: a live load test, SLO compliance, chaos experiments with fault windows as
annotations, and nightly trends. Every panel query names only metrics assay emits
(`EMITTED_METRICS`), so a board never shows "no data" because of a typo.
"""

from __future__ import annotations

import re
from typing import Any

from assay.observe.metrics import EMITTED, FAULT_GAUGE

# The SLO room's exposition (assay.slo.reports.prometheus), pushed by `assay slo check --pushgateway`.
SLO_METRICS = ("assay_slo_objective_status", "assay_slo_score", "assay_slo_status", "assay_threshold_breaches_total")
EMITTED_METRICS = frozenset([*EMITTED, FAULT_GAUGE, *SLO_METRICS])
SCHEMA_VERSION = 39
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
RUN_FILTER = 'run=~"$run"'


def _templating() -> dict[str, Any]:
    return {
        "list": [
            {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Prometheus"},
            {
                "name": "run",
                "type": "query",
                "datasource": DATASOURCE,
                "query": "label_values(e2e_suite_duration_seconds, run)",
                "includeAll": True,
                "multi": True,
                "refresh": 2,
            },
        ]
    }


def _panel(pid: int, title: str, exprs: list[tuple[str, str]], *, x: int, y: int, w: int = 12, h: int = 8, kind: str = "timeseries", unit: str = "short") -> dict[str, Any]:
    return {
        "id": pid,
        "type": kind,
        "title": title,
        "datasource": DATASOURCE,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [
            {"refId": chr(ord("A") + i), "expr": expr, "legendFormat": legend, "datasource": DATASOURCE}
            for i, (expr, legend) in enumerate(exprs)
        ],
    }


def _board(uid: str, title: str, panels: list[dict[str, Any]], *, annotations: list[dict[str, Any]] | None = None, time_from: str = "now-1h", tags: list[str] | None = None) -> dict[str, Any]:
    builtin = {
        "builtIn": 1,
        "datasource": {"type": "grafana", "uid": "-- Grafana --"},
        "enable": True,
        "hide": True,
        "iconColor": "rgba(0, 211, 255, 1)",
        "name": "Annotations & Alerts",
        "type": "dashboard",
    }
    return {
        "uid": uid,
        "title": title,
        "tags": ["assay", *(tags or [])],
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "editable": True,
        "refresh": "5s" if time_from == "now-1h" else "",
        "time": {"from": time_from, "to": "now"},
        "timezone": "utc",
        "templating": _templating(),
        "annotations": {"list": [builtin, *(annotations or [])]},
        "panels": panels,
    }


def _error_ratio(pid: int, title: str, *, x: int, y: int) -> dict[str, Any]:
    f = RUN_FILTER
    expr = f"rate(assay_load_requests_failed_total{{{f}}}[1m]) / rate(assay_load_requests_total{{{f}}}[1m])"
    return _panel(pid, title, [(expr, "{{run}}")], x=x, y=y, unit="percentunit")


def live_load() -> dict[str, Any]:
    f = RUN_FILTER
    return _board(
        "assay-live-load",
        "assay: live load test",
        [
            _panel(1, "Request rate", [(f"assay_load_requests_per_second{{{f}}}", "{{run}}")], x=0, y=0, unit="reqps"),
            _panel(2, "p95 latency", [(f"assay_load_http_req_duration_p95_ms{{{f}}}", "{{run}}")], x=12, y=0, unit="ms"),
            _error_ratio(3, "Failed requests", x=0, y=8),
            _panel(4, "Virtual users", [(f"assay_load_vus{{{f}}}", "{{run}}")], x=12, y=8),
            _panel(5, "Iteration errors", [(f"rate(assay_load_errors_total{{{f}}}[1m])", "{{run}}")], x=0, y=16),
            _panel(6, "Thresholds failing", [(f"assay_load_thresholds_failing{{{f}}}", "{{run}}")], x=12, y=16, kind="stat"),
        ],
        tags=["load"],
    )


def slo_compliance() -> dict[str, Any]:
    return _board(
        "assay-slo",
        "assay: SLO compliance",
        [
            _panel(1, "SLO score", [("assay_slo_score", "{{slo}} {{result}}")], x=0, y=0, unit="percent"),
            _panel(2, "Gate status (0 pass, 1 warning, 2 fail, 3 critical)", [("assay_slo_status", "{{slo}}")], x=12, y=0, kind="stat"),
            _panel(3, "Objectives", [("assay_slo_objective_status", "{{slo}} {{objective}}")], x=0, y=8, w=24, kind="table"),
            _panel(4, "Breaches", [("sum by (slo) (assay_threshold_breaches_total)", "{{slo}}")], x=0, y=16, w=24, kind="bargauge"),
        ],
        time_from="now-7d",
        tags=["slo"],
    )


def chaos() -> dict[str, Any]:
    window = {
        "name": "Fault windows",
        "datasource": DATASOURCE,
        "enable": True,
        "iconColor": "rgba(255, 96, 96, 1)",
        "expr": f"{FAULT_GAUGE}{{{RUN_FILTER}}} == 1",
        "step": "5s",
        "titleFormat": "{{fault}}",
        "tagKeys": "fault,run",
        "useValueForTime": False,
    }
    f = RUN_FILTER
    return _board(
        "assay-chaos",
        "assay: chaos experiments",
        [
            _panel(1, "Faults active", [(f"{FAULT_GAUGE}{{{f}}}", "{{fault}}")], x=0, y=0, w=24, h=5, kind="state-timeline"),
            _panel(2, "p95 latency during faults", [(f"assay_load_http_req_duration_p95_ms{{{f}}}", "{{run}}")], x=0, y=5, unit="ms"),
            _error_ratio(3, "Error ratio during faults", x=12, y=5),
            _panel(4, "Run status", [(f'assay_run_status{{kind="chaos",{f}}}', "{{run}}")], x=0, y=13, w=24, kind="stat"),
        ],
        annotations=[window],
        tags=["chaos"],
    )


def nightly_trends() -> dict[str, Any]:
    return _board(
        "assay-nightly",
        "assay: nightly trends",
        [
            _panel(1, "Suite duration", [("e2e_suite_duration_seconds", "{{run}} {{kind}}")], x=0, y=0, unit="s"),
            _panel(2, "SLO score", [("assay_slo_score", "{{slo}}")], x=12, y=0, unit="percent"),
            _panel(3, "k6 threshold breaches per day", [("sum by (run) (increase(k6_threshold_breaches_total[1d]))", "{{run}}")], x=0, y=8),
            _panel(4, "Contract test failures per day", [("sum(increase(contract_test_failures_total[1d]))", "failures")], x=12, y=8),
        ],
        time_from="now-30d",
        tags=["nightly"],
    )


DASHBOARDS = {"live-load": live_load, "slo": slo_compliance, "chaos": chaos, "nightly": nightly_trends}

_NAME = re.compile(r"\b((?:assay|k6|contract|e2e)_[A-Za-z0-9_]+)")


def metric_names(expr: str) -> set[str]:
    """The assay metric names a PromQL expression reads (label values in quotes are ignored)."""
    without_strings = re.sub(r'"[^"]*"', '""', expr)
    return set(_NAME.findall(without_strings))
