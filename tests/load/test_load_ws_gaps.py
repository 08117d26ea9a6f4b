"""WebSocket close codes, unexpected disconnects, heartbeats and payload digests against a real server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from ws_gaps_server import WsServer, session_metrics, ws_server

from assay.load.payload import check_payload, parse_payload_size, payload, payload_intact
from assay.load.sink import MetricsSink
from assay.load.vu import VU
from assay.load.ws import SinkRecorder, WsError, ws_connect


@pytest.fixture(scope="module")
def server() -> Iterator[WsServer]:
    with ws_server() as s:
        yield s


def test_normal_close_is_counted_by_code_and_not_as_a_disconnect(server: WsServer) -> None:
    async def run(vu: VU) -> None:
        async with ws_connect(vu, f"{server.url}/echo") as ws:
            await ws.send("hi")
            assert await ws.recv(5) == "hi"

    metrics = session_metrics(run)
    assert metrics["ws_sessions_closed{code:1000}"].sum == 1
    assert "ws_unexpected_disconnects" not in metrics


@pytest.mark.parametrize(("path", "code"), [("/close1011", "1011"), ("/drop", "1006")])
def test_server_side_closes_are_unexpected_disconnects_with_their_code(server: WsServer, path: str, code: str) -> None:
    async def run(vu: VU) -> None:
        async with ws_connect(vu, f"{server.url}{path}") as ws:
            await ws.send("hi")
            with pytest.raises(WsError):
                await ws.recv(5)

    metrics = session_metrics(run)
    assert metrics[f"ws_sessions_closed{{code:{code}}}"].sum == 1
    assert metrics["ws_unexpected_disconnects"].sum == 1


def test_a_normal_close_by_the_server_is_not_unexpected(server: WsServer) -> None:
    async def run(vu: VU) -> None:
        async with ws_connect(vu, f"{server.url}/bye") as ws:
            await ws.send("hi")
            with pytest.raises(WsError):
                await ws.recv(5)

    metrics = session_metrics(run)
    assert metrics["ws_sessions_closed{code:1000}"].sum == 1
    assert "ws_unexpected_disconnects" not in metrics


def test_heartbeat_pings_and_counts_missing_pongs(server: WsServer) -> None:
    async def healthy(vu: VU) -> None:
        async with ws_connect(vu, f"{server.url}/echo") as ws:
            ws.heartbeat(every=0.2)
            await asyncio.sleep(1.2)

    metrics = session_metrics(healthy)
    assert metrics["ws_ping"].count >= 3
    assert metrics.get("ws_heartbeat_timeouts") is None or metrics["ws_heartbeat_timeouts"].sum == 0

    async def mute(vu: VU) -> None:
        ws = await ws_connect(vu, server.mute_url, timeout=5)
        ws.heartbeat(every=0.2, timeout=0.2)
        await asyncio.sleep(1.6)  # about 4 rounds of 0.2 s wait + 0.2 s without a pong
        ws.closed = True  # the mute server would not answer a close either: drop it
        ws.conn.transport.abort()

    metrics = session_metrics(mute)
    assert metrics["ws_heartbeat_timeouts"].sum >= 2
    assert "ws_ping" not in metrics


def test_payloads_have_exact_sizes_and_detect_any_change() -> None:
    for size, n in ((1024, 1024), ("1KiB", 1024), ("64KiB", 65536), ("2KB", 2000)):
        p = payload(size)
        assert len(p) == n and len(p.encode()) == n and payload_intact(p)
        assert payload_intact(p.encode())
    p = payload("1KiB")
    assert payload(1024) != p  # random each call
    for broken in (p[:-1], p[:500] + ("x" if p[500] != "x" else "y") + p[501:], p + "z", "", "~a1:" + "0" * 40):
        assert not payload_intact(broken)
    with pytest.raises(ValueError, match="between"):
        parse_payload_size(8)
    with pytest.raises(ValueError, match="1KiB"):
        parse_payload_size("big")


def test_corrupted_messages_are_counted_per_message(server: WsServer) -> None:
    async def run(vu: VU) -> None:
        async with ws_connect(vu, f"{server.url}/corrupt") as ws:
            for _ in range(6):
                await ws.send(payload("64KiB"))
                check_payload(vu, await ws.recv(5))

    metrics = session_metrics(run)
    assert metrics["payloads_verified"].sum == 6
    assert metrics["payloads_corrupt"].sum == 3


def test_payload_check_declares_its_metrics_on_a_standalone_sink() -> None:
    sink = MetricsSink()
    recorder = SinkRecorder(sink)
    assert check_payload(recorder, payload(100))
    assert not check_payload(recorder, "plain text")
    sink.tick(time.time())
    metrics = sink.to_metrics()
    assert (metrics["payloads_verified"].sum, metrics["payloads_corrupt"].sum) == (2, 1)


YAML = """
options:
  vus: 2
  iterations: 4
  thresholds:
    payloads_corrupt: ["count==0"]
    ws_unexpected_disconnects: ["count==0"]
requests:
  - ws: {url}/{path}
    heartbeat: 100ms
    session:
      - json: {{"text": "{{{{ payload.of('1KiB') }}}}"}}
        expect: {{payload: "$.text"}}
      - json: {{"text": "{{{{ payload.of(2048) }}}}"}}
        expect: {{payload: "$.text"}}
      - sleep: 300ms
"""


def test_yaml_ws_steps_with_payload_checks_and_heartbeat(server: WsServer, tmp_path: Path) -> None:
    from assay.load.api import LoadRequest, prepare
    from assay.load.coordinator import run_load

    for path, corrupt in (("echo", 0), ("corrupt", 4)):
        scenario = tmp_path / f"{path}.yaml"
        scenario.write_text(YAML.format(url=server.url, path=path))
        loaded, plan = prepare(LoadRequest(target=str(scenario)))
        result = run_load(loaded, plan, workers=1)
        assert result.metrics["payloads_verified"].sum == 8
        assert result.metrics["payloads_corrupt"].sum == corrupt
        assert result.metrics["ws_ping"].count >= 4  # the heartbeat ran during the sleeps
        assert result.metrics["ws_sessions_closed{code:1000}"].sum == 4
        failed = {m for m, _ in result.failed_thresholds()}
        assert failed == (set() if corrupt == 0 else {"payloads_corrupt"})


def test_yaml_heartbeat_timeout_needs_a_heartbeat(tmp_path: Path) -> None:
    from assay.load.loaders import load_scenario
    from assay.load.scenario import ScenarioError

    scenario = tmp_path / "bad.yaml"
    scenario.write_text("requests:\n  - ws: ws://127.0.0.1:1/x\n    heartbeat_timeout: 1s\n    session:\n      - sleep: 1s\n")
    with pytest.raises(ScenarioError, match="heartbeat_timeout: needs `heartbeat`"):
        load_scenario(str(scenario))


def test_yaml_http_check_verifies_payloads(tmp_path: Path, target_url: str) -> None:
    from assay.load.api import LoadRequest, prepare
    from assay.load.coordinator import run_load

    scenario = tmp_path / "http.yaml"
    scenario.write_text(
        "options: {vus: 1, iterations: 3}\n"
        "requests:\n"
        "  - name: echo\n"
        "    method: POST\n"
        f"    url: {target_url}/echo\n"
        "    body: \"{{ payload.of('64KiB') }}\"\n"
        "    check: {status: 200, payload: $.body}\n"
        "  - name: not a payload\n"
        f"    url: {target_url}/echo\n"
        "    check: {payload: $.method}\n"
    )
    loaded, plan = prepare(LoadRequest(target=str(scenario)))
    result = run_load(loaded, plan, workers=1)
    assert result.metrics["payloads_verified"].sum == 6
    assert result.metrics["payloads_corrupt"].sum == 3  # "GET" carries no digest
    checks = {c.name: (c.passes, c.fails) for c in result.checks}
    assert checks["echo: payload intact at $.body"] == (3, 0)
    assert checks["not a payload: payload intact at $.method"] == (0, 3)
