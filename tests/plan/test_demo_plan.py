"""`make demo`'s plan on the real courier: services, contracts, load + SLO, chaos with recovery,
trends, a notification to the local sink, and a report that renders in headless Chromium.
Run twice, the report shows the trend of both nights."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from plan_helpers import PASSED_GREEN, assay, chromium, latest_run, top_pixels

PLAN = Path(__file__).resolve().parents[2] / "examples" / "courier" / "nightly.yaml"


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_demo_plan_runs_twice_and_shows_a_trend(tmp_path: Path, system_tool: Callable[..., str]) -> None:
    args = ("plan", "run", str(PLAN), "--artifacts", str(tmp_path / "out"), "--store", f"sqlite:///{tmp_path / 'trends.db'}")
    first = assay(*args, "--run-id", "night-1", cwd=tmp_path, timeout=400)
    assert first.returncode == 0, first.stdout + first.stderr[-4000:]
    run_dir = tmp_path / "out" / "courier-nightly" / "night-1"
    report = json.loads((run_dir / "report.json").read_text())
    steps = {f"{st['key']}.{s['name']}": s for st in report["stages"] for s in st["steps"]}
    assert {k: s["status"] for k, s in steps.items()} == {
        "contracts.publish-pacts": "passed", "contracts.verify-courier": "passed", "contracts.can-i-deploy-web": "passed",
        "load.crud-mix": "passed", "load.delivery": "passed", "load.slo-gate": "passed", "chaos.database-outage": "passed",
        "trends.record": "passed", "trends.compare": "passed"}
    assert steps["contracts.can-i-deploy-web"]["details"]["deployable"] is True
    assert steps["chaos.database-outage"]["details"]["recovery"]["recovered"] is True
    assert steps["load.crud-mix"]["details"]["http_reqs"]["count"] > 100
    [delivery_file] = steps["load.delivery"]["results"]
    delivery = json.loads((run_dir / delivery_file).read_text())["metrics"]
    assert delivery["messages_sent"]["sum"] > 0 and delivery["messages_lost"]["sum"] == 0  # the ledger's verdict
    assert {s["name"]: s["status"] for s in report["services"]} == {"courier": "stopped", "broker": "stopped", "webhook-sink": "stopped"}
    [notice] = [json.loads(line) for line in (run_dir / "notifications.jsonl").read_text().splitlines()]
    assert notice["body"]["schema"] == "assay.plan-notice/1" and notice["body"]["status"] == "passed"
    assert f"report: {run_dir / 'report.html'}" in first.stdout

    second = assay(*args, "--run-id", "night-2", cwd=tmp_path, timeout=400)
    assert second.returncode == 0, second.stdout + second.stderr[-4000:]
    run_dir = latest_run(tmp_path / "out")
    assert run_dir is not None and run_dir.name == "night-2"
    html = (run_dir / "report.html").read_text()
    assert "courier-nightly.load.crud-mix: http_req_duration p(95), last 2 runs" in html
    png = tmp_path / "demo.png"
    log = chromium(run_dir / "report.html", png, system_tool)
    assert "CONSOLE" not in log and "Uncaught" not in log, log
    assert top_pixels(png, PASSED_GREEN) > 20_000
