"""How WebSocket sessions that do not end normally are counted: k6's ws_* metrics, exactly.

k6 (js/modules/k6/ws and k6/websockets) records `ws_sessions` and `ws_connecting` when the
dial ends, whether it succeeded or not; `ws_session_duration` when the session ends (the
server's close or drop included, at the moment it happens); and nothing more once the VU
is interrupted (the end of the test or of its gracefulStop): the socket is closed with
1001 (going away) and the cut-off session has no duration (`PushIfNotDone` on the VU's
finished context).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from ws_gaps_server import WsServer, session_metrics, ws_server

from assay.harness.ports import free_port
from assay.load.vu import VU
from assay.load.ws import WsError, ws_connect

CliRun = Callable[..., tuple[int, str, str]]  # the run_cli fixture of tests/load/conftest.py


@pytest.fixture(scope="module")
def server() -> Iterator[WsServer]:
    with ws_server() as s:
        yield s


def test_a_refused_connect_is_a_session_with_its_connecting_time() -> None:
    url = f"ws://127.0.0.1:{free_port()}/nobody"

    async def run(vu: VU) -> None:
        with pytest.raises(WsError):
            await ws_connect(vu, url)

    metrics = session_metrics(run)
    assert metrics["ws_sessions"].sum == 1
    assert metrics["ws_connecting"].count == 1
    assert "ws_session_duration" not in metrics  # never open: k6/websockets records no duration
    assert "ws_sessions_closed" not in metrics


def test_a_refused_handshake_is_a_session_tagged_with_its_status(server: WsServer) -> None:
    async def run(vu: VU) -> None:
        with pytest.raises(WsError) as caught:
            async with ws_connect(vu, f"{server.url}/forbidden"):
                pass
        assert caught.value.status == 403

    metrics = session_metrics(run, "ws_sessions{status:403}", "ws_connecting{status:403}")
    assert metrics["ws_sessions{status:403}"].sum == 1
    assert metrics["ws_connecting{status:403}"].count == 1
    assert "ws_session_duration" not in metrics


def test_a_dropped_session_ends_when_the_connection_drops(server: WsServer) -> None:
    """The server aborts the connection 0.1 s in; the VU notices only 1 s later. The session
    lasted 0.1 s: k6's read loop ends it at once, whatever the script is doing."""

    async def run(vu: VU) -> None:
        async with ws_connect(vu, f"{server.url}/drop-soon"):
            await asyncio.sleep(1.0)

    metrics = session_metrics(run)
    assert metrics["ws_sessions"].sum == 1
    assert metrics["ws_session_duration"].count == 1
    assert metrics["ws_session_duration"].max < 800  # ~100 ms; the VU closed after 1000 ms
    assert metrics["ws_sessions_closed{code:1006}"].sum == 1


def test_a_session_the_vu_closes_records_its_duration_once(server: WsServer) -> None:
    async def run(vu: VU) -> None:
        ws = await ws_connect(vu, f"{server.url}/echo")
        await ws.send("hi")
        assert await ws.recv(5) == "hi"
        await ws.close()
        await ws.close()

    metrics = session_metrics(run)
    assert metrics["ws_session_duration"].count == 1
    assert metrics["ws_sessions_closed{code:1000}"].sum == 1


SCENARIO = """
from assay.load.ws import ws_connect

options = {"scenarios": {"hold": {"executor": "constant-vus", "vus": 2, "duration": "1s", "gracefulStop": "0s"}}}


async def default(vu):
    if vu.id == 1:
        async with ws_connect(vu, vu.env["WS"] + "/echo") as ws:  # cut off inside `async with`
            await ws.recv(timeout=None)
    else:
        if "ws" not in vu.state:  # kept across iterations, never closed by the script
            vu.state["ws"] = await ws_connect(vu, vu.env["WS"] + "/echo")
        await vu.sleep(0.05)
"""


def test_sessions_cut_off_by_the_end_of_the_test_close_going_away_without_a_duration(
    server: WsServer, tmp_path: Path, run_cli: CliRun
) -> None:
    script = tmp_path / "hold.py"
    script.write_text(SCENARIO)
    export = tmp_path / "summary.json"
    # an earlier test's session may still be closing (the server records a close after wait_closed)
    before = -1
    deadline = time.monotonic() + 5
    while before != len(server.closes) and time.monotonic() < deadline:
        before = len(server.closes)
        time.sleep(0.3)
    code, _, err = run_cli(
        "load", "run", str(script), "--workers", "1", "--quiet", "-e", f"WS={server.url}", "--summary-export", str(export)
    )
    assert code == 0, err
    m = json.loads(export.read_text())["metrics"]
    assert m["ws_sessions"]["count"] == 2
    assert "ws_connecting" in m
    assert "ws_session_duration" not in m  # both were interrupted
    deadline = time.monotonic() + 5
    while len(server.closes) < before + 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sorted(server.closes[before:]) == [("/echo", 1001), ("/echo", 1001)]
