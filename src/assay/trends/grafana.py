"""Grafana dashboards for the store's series, and a Prometheus exposition of the newest values.

With the PostgreSQL data source, each panel queries the store's own tables: `trend_points.stats`
holds k6's aggregates of every recorded run as JSON, so Grafana reads the same numbers
assay judges (percentiles beyond the run's trend stats need assay itself: the histograms
are not readable in SQL). With a Prometheus data source, panels read `assay_trend_value`,
which `assay trend export prometheus` writes or serves live (assay.trends.exporter).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal

from assay.trends.analyze import SeriesOutcome

Datasource = Literal["postgresql", "prometheus"]
PG_TYPE = "grafana-postgresql-datasource"


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def panel_sql(scenario: str, metric: str, aggregation: str) -> str:
    """The panel's query over the store's tables (Grafana's $__timeFilter macro limits the time range)."""
    return (
        f"SELECT r.at AS \"time\", CAST(p.stats ->> {_sql_literal(aggregation)} AS double precision) AS {_sql_literal(aggregation).replace(chr(39), chr(34))}\n"
        "FROM trend_points p JOIN trend_runs r ON r.id = p.run_pk\n"
        f"WHERE p.metric = {_sql_literal(metric)} AND r.scenario = {_sql_literal(scenario)} AND $__timeFilter(r.at)\n"
        "ORDER BY 1"
    )


def _promql(scenario: str, metric: str, aggregation: str) -> str:
    def esc(v: str) -> str:
        return v.replace("\\", "\\\\").replace('"', '\\"')

    return f'assay_trend_value{{scenario="{esc(scenario)}",metric="{esc(metric)}",aggregation="{esc(aggregation)}"}}'


def dashboard(outcomes: Sequence[SeriesOutcome], *, datasource: Datasource = "postgresql", title: str = "assay trends") -> dict[str, Any]:
    panels: list[dict[str, Any]] = []
    ds: dict[str, str] = {"type": PG_TYPE if datasource == "postgresql" else "prometheus", "uid": "${datasource}"}
    for k, outcome in enumerate(outcomes):
        s = outcome.series
        if datasource == "postgresql":
            target = {"refId": "A", "datasource": ds, "format": "time_series", "rawQuery": True, "editorMode": "code",
                      "rawSql": panel_sql(s.scenario, s.metric, s.aggregation)}
        else:
            target = {"refId": "A", "datasource": ds, "expr": _promql(s.scenario, s.metric, s.aggregation), "legendFormat": s.aggregation}
        panels.append({
            "id": k + 1,
            "type": "timeseries",
            "title": s.title,
            "datasource": ds,
            "gridPos": {"h": 8, "w": 12, "x": 12 * (k % 2), "y": 8 * (k // 2)},
            "targets": [target],
            "fieldConfig": {"defaults": {"custom": {"drawStyle": "line", "showPoints": "always"},
                                         "unit": "ms" if s.metric.split("{")[0].endswith(("duration", "_ping", "connecting")) else "short"},
                            "overrides": []},
            "options": {"legend": {"displayMode": "list", "placement": "bottom"}, "tooltip": {"mode": "single"}},
            "description": f"{s.name}; worse when {s.direction}",
        })
    return {
        "title": title,
        "uid": None,
        "tags": ["assay", "trends"],
        "timezone": "utc",
        "schemaVersion": 39,
        "time": {"from": "now-90d", "to": "now"},
        "templating": {"list": [{
            "name": "datasource", "label": "Data source", "type": "datasource",
            "query": PG_TYPE if datasource == "postgresql" else "prometheus",
        }]},
        "panels": panels,
    }


def dashboard_json(outcomes: Sequence[SeriesOutcome], **kw: Any) -> str:
    return json.dumps(dashboard(outcomes, **kw), indent=2) + "\n"
