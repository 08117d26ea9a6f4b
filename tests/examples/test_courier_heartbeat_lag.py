"""courier's WebSocket heartbeats (server pings, client pongs) and its lag metrics in seconds."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import httpx
import pytest
import redis
from courier_helpers import Courier
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

Start = Callable[..., Courier]


def open_ws(courier: Courier, cid: int, user: str = "alice") -> ClientConnection:
    return connect(f"{courier.ws_url}/conversations/{cid}/ws?token={courier.token(user)}", open_timeout=5)


def eventually(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


def test_a_client_that_pongs_stays_and_one_that_does_not_is_closed_4408(start_courier: Start) -> None:
    courier = start_courier(ws_heartbeat_s=0.3, ws_heartbeat_timeout_s=1.0)
    cid = courier.session("alice").post("/conversations", json={"title": "hb"}).json()["id"]
    with open_ws(courier, cid) as good, open_ws(courier, cid) as silent:
        pings = 0
        deadline = time.monotonic() + 2.5
        while time.monotonic() < deadline:
            frame = json.loads(good.recv(timeout=2))
            assert frame["type"] == "ping" and isinstance(frame["ts"], float)
            good.send(json.dumps({"type": "pong", "seq": frame["seq"]}))
            pings += 1
        assert pings >= 5
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                silent.recv(timeout=5)  # pings arrive; never answered
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4408
        # the ponging client is still served
        sent = courier.session("alice").post(f"/conversations/{cid}/messages", json={"body": "still here"}).json()
        while (frame := json.loads(good.recv(timeout=5)))["type"] == "ping":
            good.send(json.dumps({"type": "pong", "seq": frame["seq"]}))
        assert frame["message"] == sent
    assert courier.metric("courier_websocket_heartbeat_rtt_seconds_count") >= 5
    assert courier.metric("courier_websocket_heartbeat_misses_total") == 1
    assert courier.metric("courier_websocket_closed_total", 'code="4408"') == 1


def test_without_a_timeout_missed_pongs_are_counted_not_punished(start_courier: Start) -> None:
    courier = start_courier(ws_heartbeat_s=0.2)
    cid = courier.session("alice").post("/conversations", json={"title": "hb"}).json()["id"]
    with open_ws(courier, cid) as silent:
        frames = [json.loads(silent.recv(timeout=2)) for _ in range(4)]
    assert [f["type"] for f in frames] == ["ping"] * 4
    assert [f["seq"] for f in frames] == [1, 2, 3, 4]
    assert courier.metric("courier_websocket_heartbeat_misses_total") >= 3
    assert courier.metric("courier_websocket_closed_total", 'code="4408"') == 0


def test_dispatch_lag_is_observed_per_delivered_message(start_courier: Start) -> None:
    courier = start_courier()
    alice = courier.session("alice")
    cid = alice.post("/conversations", json={"title": "lag"}).json()["id"]
    with open_ws(courier, cid) as ws:
        for i in range(3):
            alice.post(f"/conversations/{cid}/messages", json={"body": f"m{i}"})
        for _ in range(3):
            ws.recv(timeout=10)
    assert courier.metric("courier_dispatch_lag_seconds_count") == 3
    total = courier.metric("courier_dispatch_lag_seconds_sum")
    assert 0 <= total < 30  # seconds, not milliseconds
    eventually(lambda: courier.metric("courier_consumer_lag_seconds") == 0)
    assert courier.metric("courier_outbox_lag_seconds") == 0


@pytest.mark.slow  # several processes
@pytest.mark.redis
def test_consumer_lag_grows_while_nobody_consumes_and_falls_when_a_consumer_comes(
    start_courier: Start, redis_url: str, stream_name: str
) -> None:
    shared = {"redis_url": redis_url, "stream": stream_name, "redis_prefix": stream_name}
    api = start_courier(consume=False, **shared)
    alice = api.session("alice")
    cid = alice.post("/conversations", json={"title": "lag"}).json()["id"]
    for i in range(5):
        assert alice.post(f"/conversations/{cid}/messages", json={"body": f"m{i}"}).status_code == 201
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    eventually(lambda: client.xlen(stream_name) == 5)
    time.sleep(2.5)
    eventually(lambda: api.metric("courier_consumer_lag_seconds") >= 2.0)  # the oldest unread entry ages
    assert httpx.get(f"{api.url}/health/ready").json()["status"] == "ready"

    start_courier(relay=False, database_url=f"sqlite:///{api.proc.log_path.parent / 'courier.db'}", **shared)
    eventually(lambda: api.metric("courier_consumer_lag_seconds") == 0)
    client.close()
