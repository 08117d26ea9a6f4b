"""`assay observe dashboards`: valid Grafana JSON models whose every query names a metric assay emits."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

import assay.slo.reports.prometheus as slo_prometheus
from assay.observe.dashboards import DASHBOARDS, EMITTED_METRICS, SLO_METRICS, metric_names
from assay.observe.metrics import RunMetrics


def _exprs(board: dict[str, Any]) -> list[str]:
    out = [t["expr"] for p in board["panels"] for t in p["targets"]]
    out += [a["expr"] for a in board["annotations"]["list"] if "expr" in a]
    return out


def test_every_query_names_an_emitted_metric() -> None:
    for name, build in DASHBOARDS.items():
        board = build()
        for expr in _exprs(board):
            names = metric_names(expr)
            assert names, f"{name}: {expr!r} names no assay metric"
            assert names <= EMITTED_METRICS, f"{name}: {expr!r} names {names - EMITTED_METRICS}"


def test_emitted_metrics_are_really_emitted() -> None:
    live = RunMetrics("r", labels={"host": "h"})
    live.fault("latency", True)
    from assay.results import RunResult

    live.finish(RunResult(kind="load"))
    families = {f.name for f in text_string_to_metric_families(generate_latest(live.registry).decode())}
    counters = {f + "_total" for f in families}
    ours = EMITTED_METRICS - set(SLO_METRICS)
    assert ours <= families | counters
    source = inspect.getsource(slo_prometheus)
    for metric in SLO_METRICS:
        assert f'"{metric.removesuffix("_total")}"' in source


def test_dashboard_json_models(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "assay", "observe", "dashboards", "-o", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    files = sorted(tmp_path.glob("*.json"))
    assert [f.name for f in files] == ["assay-chaos.json", "assay-live-load.json", "assay-nightly.json", "assay-slo.json"]
    uids = set()
    for f in files:
        board = json.loads(f.read_text())
        assert board["schemaVersion"] >= 36 and board["title"].startswith("assay")
        uids.add(board["uid"])
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids))
        for p in board["panels"]:
            grid = p["gridPos"]
            assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 24 and grid["h"] > 0
            assert p["datasource"]["type"] == "prometheus" and p["targets"]
            assert [t["refId"] for t in p["targets"]] == [chr(ord("A") + i) for i in range(len(p["targets"]))]
        names = {v["name"] for v in board["templating"]["list"]}
        assert {"datasource", "run"} <= names
    assert len(uids) == 4
    chaos = json.loads((tmp_path / "assay-chaos.json").read_text())
    windows = [a for a in chaos["annotations"]["list"] if a.get("name") == "Fault windows"]
    assert windows and "assay_fault_active" in windows[0]["expr"]


def test_a_file_as_output_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "x"
    path.write_text("")
    done = subprocess.run([sys.executable, "-m", "assay", "observe", "dashboards", "-o", str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 64 and "is a file" in done.stderr
