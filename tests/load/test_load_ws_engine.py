"""WebSocket and delivery metrics through the whole engine: `assay load run` on a Python scenario."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_load_yaml_ws_app import Served, serve

SCENARIO = '''
from assay.load.delivery import DeliveryTracker, delivery_failed, delivery_latency, post_and_measure
from assay.load.ws import msg_latency, ws_connect

options = {
    "scenarios": {
        "chat": {"executor": "per-vu-iterations", "vus": 2, "iterations": 3, "exec": "chat"},
        "push": {"executor": "shared-iterations", "vus": 1, "iterations": 2, "exec": "push"},
    },
    "thresholds": {
        "ws_msg_latency": ["min>=9", "LIMIT"],
        "ws_sessions": ["count==8"],
        "delivery_latency": ["min>=19"],
        "delivery_failed": ["rate==0"],
    },
}


async def chat(vu):
    async with ws_connect(vu, vu.env["WS"] + "/ws/echo", name="echo") as ws:
        reply, ms = await ws.request("delay:10:x")
        vu.check(reply, {"echoed": lambda r: r == "x"})
        await ws.ping()


async def push(vu):
    async with ws_connect(vu, vu.env["WS"] + "/ws/subscribe") as ws, DeliveryTracker(vu, ws) as tracker:
        for _ in range(3):
            await post_and_measure(vu, tracker, vu.env["HTTP"] + "/publish?delay_ms=20", {"t": 1})
'''


@pytest.fixture(scope="module")
def app() -> Iterator[Served]:
    with serve() as served:
        yield served


def run_cli(app: Served, tmp_path: Path, limit: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    script = tmp_path / "ws_scenario.py"
    script.write_text(SCENARIO.replace("LIMIT", limit))
    export = tmp_path / "summary.json"
    proc = subprocess.run(
        [
            sys.executable, "-m", "assay", "load", "run", str(script), "--workers", "1", "--quiet",
            "-e", f"WS={app.ws_url}", "-e", f"HTTP={app.url}", "--summary-export", str(export),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return proc, json.loads(export.read_text()) if export.exists() else {}


def test_ws_and_delivery_metrics_reach_the_k6_summary(app: Served, tmp_path: Path) -> None:
    proc, summary = run_cli(app, tmp_path, "p(95)<10000")
    assert proc.returncode == 0, proc.stderr
    m = summary["metrics"]
    assert m["ws_sessions"]["count"] == 8
    assert m["ws_msgs_sent"]["count"] == 6
    assert m["ws_msgs_received"]["count"] == 12  # 6 echoes + 6 deliveries
    assert m["ws_msg_latency"]["min"] >= 9  # the server held each reply 10 ms (asyncio timers may fire ~1 ms early)
    assert m["delivery_latency"]["min"] >= 19  # and each fan-out 20 ms
    assert m["delivery_failed"]["value"] == 0 and m["delivery_failed"]["fails"] == 6
    for name in ("ws_connecting", "ws_session_duration", "ws_ping"):
        assert set(m[name]) >= {"avg", "min", "med", "max", "p(90)", "p(95)"}
    assert m["ws_msg_latency"]["thresholds"] == {"min>=9": False, "p(95)<10000": False}
    assert summary["root_group"]["checks"]["echoed"]["passes"] == 6


def test_a_crossed_ws_threshold_exits_99(app: Served, tmp_path: Path) -> None:
    proc, summary = run_cli(app, tmp_path, "max<1")
    assert proc.returncode == 99, proc.stderr
    assert summary["metrics"]["ws_msg_latency"]["thresholds"]["max<1"] is True  # k6's inverted flag: failed
