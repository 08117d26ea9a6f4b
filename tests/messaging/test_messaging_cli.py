"""`assay messaging run` as a user runs it: exit codes, the RunResult file, -o json, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from assay.results import RunResult


def assay(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "assay", "messaging", "run", *args], capture_output=True, text=True, timeout=timeout)


def stream() -> str:
    return f"assay-ledger-test-{uuid.uuid4().hex[:10]}"


@pytest.mark.slow
@pytest.mark.redis
def test_a_clean_run_passes_and_writes_its_result(tmp_path: Path) -> None:
    out = tmp_path / "run.json"
    proc = assay("--broker", "redis://127.0.0.1:6379/0", "--stream", stream(), "--count", "200", "--rate", "200",
                 "--consumers", "2", "--result", str(out), "--threshold", "message_delivery_latency:p(99)<5000",
                 "--html", str(tmp_path / "run.html"), "--junit", str(tmp_path / "run.xml"))
    assert proc.returncode == 0, proc.stderr
    assert "lost 0" in proc.stdout and "Traceback" not in proc.stderr
    result = RunResult.from_json(out.read_text())
    assert result.kind == "messaging"
    assert result.metrics["messages_delivered"].sum == 200
    assert {t.source for t in result.metrics["messages_lost"].thresholds} == {"count==0"}
    assert result.metrics["messages_lost"].thresholds[0].ok is True
    page = (tmp_path / "run.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "<h2>Delivery</h2>" in page and "<svg" in page and "<script" not in page
    suite = ET.parse(tmp_path / "run.xml").getroot()
    names = {c.get("name") for c in suite.iter("testcase")}
    assert {"no message lost", "no duplicate receipts", "receipts in order per key", "no misdelivery"} <= names
    assert "messages_lost: count==0" in names and suite.get("failures") == "0"
    # SLO gates read the ledger's metrics like any other
    slo = tmp_path / "slo.yaml"
    slo.write_text(
        "objectives:\n"
        "  - {sli: messages_lost, aggregation: count, pass: ['=0'], key: true}\n"
        "  - {sli: message_delivery_latency, aggregation: p(99), pass: ['<60000']}\n"
        "  - {sli: messages_delivered, aggregation: count, pass: ['>=200']}\n"
    )
    gate = subprocess.run([sys.executable, "-m", "assay", "slo", "check", str(out), "--slo", str(slo)], capture_output=True, text=True, timeout=120)
    assert gate.returncode == 0, gate.stdout + gate.stderr


@pytest.mark.slow
@pytest.mark.redis
def test_a_crossed_threshold_exits_99_and_json_goes_to_stdout() -> None:
    proc = assay("--broker", "redis://127.0.0.1:6379/0", "--stream", stream(), "--count", "50", "--rate", "100",
                 "--threshold", "messages_delivered:count>1000", "-o", "json", "-q")
    assert proc.returncode == 99, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["schema"] == "assay.run/1"
    assert doc["metrics"]["messages_sent"]["sum"] == 50
    assert "threshold crossed: messages_delivered" in proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--broker", "kafka://127.0.0.1:9092"], "unknown broker URL"),
        (["--broker", "redis://127.0.0.1:6379/0", "--rate", "0"], "rate must be > 0"),
        (["--broker", "redis://127.0.0.1:6379/0", "--rate", "nan"], "rate must be > 0"),
        (["--broker", "redis://127.0.0.1:6379/0", "--threshold", "messages_lots:count==0"], "did you mean 'messages_lost'"),
        (["--broker", "redis://127.0.0.1:6379/0", "--duration", "soon"], "--duration"),
        (["--broker", "mqtt://127.0.0.1:1883", "--qos", "3"], "QoS must be 0, 1 or 2"),
        (["--broker", "redis://127.0.0.1:1/0", "--duration", "1s"], "Redis at redis://127.0.0.1:1/0"),
        # a refused port is one clear line at once (nats-py alone retries for 2 minutes, logging tracebacks)
        (["--broker", "nats://127.0.0.1:1", "--duration", "1s"], "NATS JetStream at nats://127.0.0.1:1"),
        (["--broker", "mqtt://127.0.0.1:1", "--duration", "1s"], "MQTT broker at mqtt://127.0.0.1:1"),
        (["--broker", "amqp://guest:guest@127.0.0.1:1/", "--duration", "1s"], "RabbitMQ at amqp://"),
        (["--broker", "ws://127.0.0.1:1/x", "--duration", "1s"], "WebSocket at ws://127.0.0.1:1/x"),
        (["--broker", "redis://127.0.0.1:6379/0", "--result", "/etc/hostname/run.json"], "--result: no folder"),
    ],
)
def test_bad_input_is_a_clear_error_with_exit_64(args: list[str], said: str) -> None:
    proc = assay(*args, timeout=30)
    assert proc.returncode == 64, proc.stderr
    assert said in proc.stderr
    assert "Traceback" not in proc.stderr
