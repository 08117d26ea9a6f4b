"""Delivery: outbox -> stream -> consumer group -> WebSocket, with real Redis, kills and outages."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import redis
from courier_helpers import Courier, TcpGate
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

Start = Callable[..., Courier]


def subscribe(courier: Courier, cid: int, user: str = "bob", after: int | None = None) -> ClientConnection:
    url = f"{courier.ws_url}/conversations/{cid}/ws" + (f"?after={after}" if after is not None else "")
    return connect(url, additional_headers={"Authorization": f"Bearer {courier.token(user)}"}, open_timeout=5)


def receive(ws: ClientConnection, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    events = []
    while len(events) < count:
        events.append(json.loads(ws.recv(timeout=max(0.01, deadline - time.monotonic()))))
    return events


def nothing_arrives(ws: ClientConnection, within: float) -> bool:
    try:
        ws.recv(timeout=within)
    except TimeoutError:
        return True
    return False


def eventually(check: Callable[[], Any], timeout: float = 15.0, every: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last value {value!r})")
        time.sleep(every)


def conversation(courier: Courier) -> int:
    resp = courier.session("alice").post("/conversations", json={"title": "ops", "participants": ["bob"]})
    return int(resp.json()["id"])


def post(courier: Courier, cid: int, body: str) -> dict[str, Any]:
    resp = courier.session("alice").post(f"/conversations/{cid}/messages", json={"body": body})
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


def group_info(client: redis.Redis, stream: str) -> dict[str, Any]:
    return next(g for g in client.xinfo_groups(stream) if g["name"] == "courier")


def test_websocket_delivery_in_process(start_courier: Start) -> None:
    courier = start_courier()
    cid = conversation(courier)
    with subscribe(courier, cid) as ws:
        sent = [post(courier, cid, f"m{i}") for i in range(3)]
        events = receive(ws, 3)
    assert [e["type"] for e in events] == ["message.created"] * 3
    assert [e["message"] for e in events] == sent
    # A late subscriber resumes from a cursor and misses nothing.
    with subscribe(courier, cid, after=sent[0]["id"]) as ws:
        assert [e["message"]["body"] for e in receive(ws, 2)] == ["m1", "m2"]
    assert courier.metric("courier_messages_delivered_total") == 3

    with pytest.raises(InvalidStatus) as refused:
        subscribe(courier, cid, user="mallory")
    assert refused.value.response.status_code == 403


@pytest.mark.redis
def test_websocket_delivery_through_redis_stream(
    start_courier: Start, redis_url: str, stream_name: str
) -> None:
    courier = start_courier(redis_url=redis_url, stream=stream_name)
    cid = conversation(courier)
    with subscribe(courier, cid) as ws:
        sent = [post(courier, cid, f"r{i}") for i in range(5)]
        assert [e["message"] for e in receive(ws, 5)] == sent
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    entries = client.xrange(stream_name)
    assert [json.loads(f["event"])["message"]["id"] for _, f in entries] == [m["id"] for m in sent]
    eventually(lambda: group_info(client, stream_name)["pending"] == 0)
    ready = httpx.get(f"{courier.url}/health/ready").json()
    assert ready["checks"]["queue"]["kind"] == "redis"
    assert ready["checks"]["queue"]["status"] == "up"
    client.close()


@pytest.mark.redis
def test_entries_of_a_dead_consumer_are_reclaimed_and_delivered(
    start_courier: Start, redis_url: str, stream_name: str
) -> None:
    courier = start_courier(redis_url=redis_url, stream=stream_name, claim_idle_ms=300)
    cid = conversation(courier)
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    events = [
        {
            "type": "message.created",
            "message": {"id": 900_000 + i, "conversation_id": cid, "body": f"orphan {i}"},
        }
        for i in range(3)
    ]
    with subscribe(courier, cid) as ws:
        # Another consumer reads three entries and dies before acknowledging them. MULTI makes
        # the read atomic with the add, so courier's own blocked XREADGROUP cannot take them first.
        pipe = client.pipeline(transaction=True)
        for event in events:
            pipe.xadd(stream_name, {"event_id": "0", "event": json.dumps(event)})
        pipe.xreadgroup("courier", "crashed-worker", {stream_name: ">"}, count=10)
        read = pipe.execute()[-1]
        assert len(read[0][1]) == 3
        assert group_info(client, stream_name)["pending"] == 3

        delivered = receive(ws, 3)
    assert sorted(e["message"]["id"] for e in delivered) == [e["message"]["id"] for e in events]
    eventually(lambda: group_info(client, stream_name)["pending"] == 0)
    consumers = {c["name"]: c for c in client.xinfo_consumers(stream_name, "courier")}
    assert consumers["crashed-worker"]["pending"] == 0
    assert courier.metric("courier_stream_reclaimed_total") >= 3
    client.close()


@pytest.mark.redis
def test_consumer_kill_and_restart_loses_nothing(
    start_courier: Start, redis_url: str, stream_name: str
) -> None:
    settings = {"redis_url": redis_url, "stream": stream_name, "claim_idle_ms": 500}
    first = start_courier(consumer_name="courier-a", **settings)
    cid = conversation(first)
    committed: list[int] = []
    lock = threading.Lock()
    killed = threading.Event()
    alice = first.session("alice")

    def send(i: int) -> None:
        try:
            resp = alice.post(f"/conversations/{cid}/messages", json={"body": f"k{i}"}, timeout=5)
        except httpx.HTTPError:
            return  # the process died under this request: never acknowledged, so not owed
        if resp.status_code == 201:
            with lock:
                committed.append(resp.json()["id"])
                if len(committed) == 40 and first.proc.proc is not None:
                    os.killpg(first.proc.proc.pid, signal.SIGKILL)
                    killed.set()

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(send, range(120)))
    assert killed.is_set()
    assert first.proc.proc is not None and first.proc.proc.wait(5) == -signal.SIGKILL

    second = start_courier(consumer_name="courier-b", **settings)
    client = redis.Redis.from_url(redis_url, decode_responses=True)

    def settled() -> bool:
        info = group_info(client, stream_name)
        return (
            info["pending"] == 0
            and info["lag"] == 0
            and second.metric('courier_queue_depth{queue="outbox"}') == 0
        )

    eventually(settled, timeout=20)
    streamed = {json.loads(f["event"])["message"]["id"] for _, f in client.xrange(stream_name)}
    assert set(committed) <= streamed, sorted(set(committed) - streamed)
    with subscribe(second, cid, after=0) as ws:
        seen = {e["message"]["id"] for e in receive(ws, len(streamed))}
    assert set(committed) <= seen
    # Whatever courier-a had read but not acknowledged now belongs to nobody.
    consumers = {c["name"]: c for c in client.xinfo_consumers(stream_name, "courier")}
    assert consumers.get("courier-a", {"pending": 0})["pending"] == 0
    # And the new process keeps delivering live.
    with subscribe(second, cid) as ws:
        fresh = post(second, cid, "after restart")
        assert receive(ws, 1)[0]["message"] == fresh
    client.close()


@pytest.mark.redis
def test_poison_entries_go_to_the_dead_letter_list(
    start_courier: Start, redis_url: str, stream_name: str
) -> None:
    courier = start_courier(redis_url=redis_url, stream=stream_name, claim_idle_ms=150, max_deliveries=3)
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    client.xadd(stream_name, {"event_id": "1", "event": "{not json"})
    client.xadd(stream_name, {"something": "else"})
    dead_key = f"{stream_name}:dead"
    eventually(lambda: client.llen(dead_key) == 2)
    dead = [json.loads(r) for r in client.lrange(dead_key, 0, -1)]
    assert [d["deliveries"] for d in dead] == [3, 3]
    assert dead[1]["fields"] == {"something": "else"}
    assert group_info(client, stream_name)["pending"] == 0
    assert courier.metric("courier_messages_dead_lettered_total") == 2
    assert courier.metric("courier_delivery_failures_total") == 6
    listed = courier.session("alice").get("/admin/dead-letters").json()["items"]
    assert [d["id"] for d in listed] == [d["id"] for d in dead]
    # Good messages still flow past the poison.
    cid = conversation(courier)
    with subscribe(courier, cid) as ws:
        msg = post(courier, cid, "still fine")
        assert receive(ws, 1)[0]["message"] == msg
    client.close()


@pytest.mark.redis
def test_redis_outage_keeps_messages_in_the_outbox(
    start_courier: Start, tcp_gate: Callable[[int], TcpGate], redis_url: str, stream_name: str
) -> None:
    host_port = redis_url.split("//", 1)[1].split("/", 1)[0]
    gate = tcp_gate(int(host_port.rsplit(":", 1)[1]))
    courier = start_courier(
        redis_url=f"redis://127.0.0.1:{gate.port}/0", stream=stream_name, redis_timeout_s=1
    )
    cid = conversation(courier)
    with subscribe(courier, cid) as ws:
        before = post(courier, cid, "before")
        assert receive(ws, 1)[0]["message"] == before
        gate.close()
        during = [post(courier, cid, f"during {i}") for i in range(5)]
        assert nothing_arrives(ws, 1.5)
        eventually(lambda: courier.metric('courier_queue_depth{queue="outbox"}') == 5)
        ready = httpx.get(f"{courier.url}/health/ready")
        assert ready.status_code == 200
        assert ready.json()["status"] == "degraded"
        assert ready.json()["checks"]["queue"]["status"] == "down"

        gate.open()
        arrived = receive(ws, 5, timeout=20)
    assert [e["message"] for e in arrived] == during
    eventually(lambda: courier.metric('courier_queue_depth{queue="outbox"}') == 0)
    assert httpx.get(f"{courier.url}/health/ready").json()["status"] == "ready"


@pytest.mark.redis
def test_with_reclaim_off_a_dead_consumers_entries_stay_pending(
    start_courier: Start, redis_url: str, stream_name: str
) -> None:
    """The switch the consumer-kill scenario uses to prove that reclaim is what prevents loss."""
    courier = start_courier(redis_url=redis_url, stream=stream_name, claim_idle_ms=200, reclaim_pending=False)
    cid = conversation(courier)
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    event = {"type": "message.created", "message": {"id": 910_000, "conversation_id": cid, "body": "orphan"}}
    with subscribe(courier, cid) as ws:
        pipe = client.pipeline(transaction=True)
        pipe.xadd(stream_name, {"event_id": "0", "event": json.dumps(event)})
        pipe.xreadgroup("courier", "crashed-worker", {stream_name: ">"}, count=10)
        pipe.execute()
        assert nothing_arrives(ws, 2.0)  # ten times the idle time: reclaim would have delivered it
        live = post(courier, cid, "live")  # the consumer itself is alive and well
        assert receive(ws, 1)[0]["message"] == live
    consumers = {c["name"]: c for c in client.xinfo_consumers(stream_name, "courier")}
    assert consumers["crashed-worker"]["pending"] == 1
    assert courier.metric("courier_stream_reclaimed_total") == 0
    client.close()
