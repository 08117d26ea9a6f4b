"""courier under failure: database outages, hung dependencies, overload and shutdown."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from courier_helpers import Courier, TcpGate

Start = Callable[..., Courier]
DB_DOWN_KEYS = {"status", "message", "error_code"}


def gated_url(pg_url: str, gate: TcpGate) -> str:
    rest = pg_url.split("@", 1)[1]
    return f"postgresql://postgres@127.0.0.1:{gate.port}/{rest.split('/', 1)[1]}"


def eventually(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def assert_db_unavailable(resp: httpx.Response, secrets: list[str]) -> None:
    assert resp.status_code == 503, resp.text
    body = resp.json()
    assert set(body) == DB_DOWN_KEYS
    assert body["status"] == 503
    assert body["error_code"] == "DB_UNAVAILABLE"
    assert resp.headers["retry-after"] == "1"
    for secret in secrets:
        assert secret not in resp.text


@pytest.mark.postgres
def test_db_outage_gives_503_json_then_recovers(
    start_courier: Start, tcp_gate: Callable[[int], TcpGate], pg_url: str
) -> None:
    gate = tcp_gate(5432)
    url = gated_url(pg_url, gate)
    courier = start_courier(
        database_url=url, breaker_failure_threshold=3, breaker_reset_s=0.5, db_timeout_s=1
    )
    alice = courier.session("alice")
    cid = alice.post("/conversations", json={"title": "before the outage"}).json()["id"]
    secrets = [url, str(gate.port), "postgres", "psycopg", "Traceback"]

    gate.close()  # the network to the database is gone: refused, and open connections reset
    for _ in range(6):
        assert_db_unavailable(alice.get(f"/conversations/{cid}"), secrets)
    assert_db_unavailable(alice.post(f"/conversations/{cid}/messages", json={"body": "lost?"}), secrets)
    assert_db_unavailable(alice.post("/conversations", json={"title": "x"}), secrets)
    ready = httpx.get(f"{courier.url}/health/ready")
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"]["status"] == "down"
    assert httpx.get(f"{courier.url}/health/live").status_code == 200
    assert courier.metric("courier_db_circuit_state") in (1, 2)  # open, or half-open while probing
    assert courier.metric("courier_db_circuit_transitions_total", 'to="open"') >= 1
    assert courier.metric("courier_db_circuit_rejections_total") >= 1

    gate.blackhole()  # worse: the database accepts connections and never answers
    assert_db_unavailable(alice.get(f"/conversations/{cid}"), secrets)
    time.sleep(0.6)  # let the breaker half-open so a call really tries the hung database
    assert_db_unavailable(alice.get(f"/conversations/{cid}"), secrets)
    # Whichever call got the half-open probe (this request, the relay, a probe) hit the timeout.
    assert eventually(lambda: courier.metric("courier_db_errors_total", 'kind="timeout"') >= 1)

    gate.close()
    gate.open()
    recovered = eventually(lambda: alice.get(f"/conversations/{cid}").status_code == 200)
    assert recovered, "courier did not recover after the database came back"
    assert alice.get(f"/conversations/{cid}").json()["title"] == "before the outage"
    assert alice.post(f"/conversations/{cid}/messages", json={"body": "after"}).status_code == 201
    assert httpx.get(f"{courier.url}/health/ready").json()["checks"]["database"]["circuit"] == "closed"
    assert courier.metric("courier_db_circuit_state") == 0


@pytest.mark.postgres
def test_starts_while_the_database_is_down_and_migrates_when_it_comes_up(
    start_courier: Start, tcp_gate: Callable[[int], TcpGate], pg_url: str
) -> None:
    gate = tcp_gate(5432)
    gate.close()  # nothing listens on this port yet
    courier = start_courier(wait="/health/live", database_url=gated_url(pg_url, gate), breaker_reset_s=0.2)
    alice = courier.session("alice")
    assert_db_unavailable(alice.get("/conversations"), [str(gate.port)])
    assert httpx.get(f"{courier.url}/health/ready").status_code == 503
    gate.open()
    assert eventually(lambda: httpx.get(f"{courier.url}/health/ready").status_code == 200, timeout=20)
    assert alice.post("/conversations", json={"title": "late start"}).status_code == 201


def test_bounded_request_queue_sheds_load(start_courier: Start) -> None:
    courier = start_courier(max_concurrency=1, max_queue=1, queue_timeout_s=0.5)
    alice = courier.session("alice")
    cid = alice.post("/conversations", json={"title": "busy"}).json()["id"]
    results: dict[str, httpx.Response] = {}

    def call(name: str, params: dict[str, Any]) -> None:
        with courier.client("alice") as client:
            results[name] = client.get(f"/conversations/{cid}/messages", params=params)

    holder = threading.Thread(target=call, args=("holder", {"wait": 4}))
    holder.start()
    assert eventually(lambda: courier.metric("courier_http_in_flight") == 1, timeout=5)
    queued = threading.Thread(target=call, args=("queued", {}))
    queued.start()
    assert eventually(lambda: courier.metric("courier_request_queue_depth") == 1, timeout=5)
    shed = alice.get(f"/conversations/{cid}")
    assert shed.status_code == 503
    assert shed.json()["error_code"] == "OVERLOADED"
    assert httpx.get(f"{courier.url}/health/live").status_code == 200  # probes never queue
    queued.join(10)
    holder.join(10)
    assert results["queued"].status_code == 503  # waited past queue_timeout_s behind the long poll
    assert results["holder"].status_code == 200
    assert courier.metric("courier_requests_rejected_total", 'reason="queue_full"') == 1
    assert courier.metric("courier_requests_rejected_total", 'reason="queue_timeout"') == 1
    assert alice.get(f"/conversations/{cid}").status_code == 200


def test_sigterm_drains_in_flight_requests(start_courier: Start) -> None:
    courier = start_courier()
    alice = courier.session("alice")
    cid = alice.post("/conversations", json={"title": "closing time"}).json()["id"]
    result: dict[str, httpx.Response] = {}

    def long_poll() -> None:
        with courier.client("alice") as client:
            result["poll"] = client.get(f"/conversations/{cid}/messages", params={"wait": 3})

    poller = threading.Thread(target=long_poll)
    poller.start()
    assert eventually(lambda: courier.metric("courier_http_in_flight") == 1, timeout=5)
    proc = courier.proc.proc
    assert proc is not None
    os.killpg(proc.pid, signal.SIGTERM)
    poller.join(10)
    assert result["poll"].status_code == 200
    assert result["poll"].json() == {"items": []}
    assert proc.wait(10) == 0
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{courier.url}/health/live")


@pytest.mark.postgres
def test_slow_database_through_the_fault_proxy_times_out_then_recovers(
    start_courier: Start, assay_proxy: Callable[..., Any], pg_url: str
) -> None:
    """assay's own fault proxy (Toxiproxy API) adds latency to PostgreSQL: every call times out, then recovers."""
    proxy = assay_proxy("127.0.0.1:5432")
    url = f"postgresql://postgres@127.0.0.1:{proxy.port}/{pg_url.rsplit('/', 1)[1]}"
    courier = start_courier(
        database_url=url, db_timeout_s=0.5, breaker_failure_threshold=2, breaker_reset_s=0.5
    )
    alice = courier.session("alice")
    cid = alice.post("/conversations", json={"title": "steady"}).json()["id"]
    with proxy.latency(1500):
        for _ in range(3):
            assert_db_unavailable(alice.get(f"/conversations/{cid}"), [url, str(proxy.port)])
        assert eventually(lambda: courier.metric("courier_db_errors_total", 'kind="timeout"') >= 2)
        assert courier.metric("courier_db_circuit_transitions_total", 'to="open"') >= 1
    assert eventually(lambda: alice.get(f"/conversations/{cid}").status_code == 200)
    assert alice.get(f"/conversations/{cid}").json()["title"] == "steady"
