"""courier's logins: tokens from POST /auth/login on every route, kept in Redis (or in-process without it)."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest
import redis
from courier_helpers import Courier, TcpGate
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

Start = Callable[..., Courier]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_every_route_wants_a_token_from_login(start_courier: Start) -> None:
    courier = start_courier()
    wrong = httpx.post(f"{courier.url}/auth/login", json={"user_id": "alice", "password": "guess"})
    assert wrong.status_code == 401
    assert wrong.json()["error_code"] == "INVALID_CREDENTIALS"
    assert httpx.post(f"{courier.url}/auth/login", json={"user_id": "alice"}).status_code == 422

    login = httpx.post(f"{courier.url}/auth/login", json={"user_id": "alice", "password": "courier"})
    assert login.status_code == 201
    body = login.json()
    assert body["token_type"] == "Bearer" and body["user_id"] == "alice" and body["expires_in"] == 3600
    token = body["token"]

    routes = [("GET", "/conversations"), ("POST", "/conversations"), ("GET", "/conversations/1"),
              ("POST", "/conversations/1/messages"), ("GET", "/conversations/1/messages"), ("GET", "/admin/dead-letters")]
    for method, path in routes:
        missing = httpx.request(method, f"{courier.url}{path}", json={})
        assert missing.status_code == 401, (method, path)
        assert missing.json()["error_code"] == "UNAUTHENTICATED"
        forged = httpx.request(method, f"{courier.url}{path}", json={}, headers=bearer("not-a-token"))
        assert forged.status_code == 401, (method, path)
        assert forged.json()["error_code"] == "INVALID_TOKEN"
    created = httpx.post(f"{courier.url}/conversations", json={"title": "mine"}, headers=bearer(token))
    assert created.status_code == 201
    assert created.json()["created_by"] == "alice"  # the token says who the caller is
    # Health and metrics stay open for probes and scrapers.
    assert httpx.get(f"{courier.url}/health/ready").status_code == 200
    assert httpx.get(f"{courier.url}/metrics").status_code == 200

    assert httpx.post(f"{courier.url}/auth/logout", headers=bearer(token)).status_code == 204
    after = httpx.get(f"{courier.url}/conversations", headers=bearer(token))
    assert after.status_code == 401 and after.json()["error_code"] == "INVALID_TOKEN"
    assert courier.metric("courier_auth_logins_total") == 1
    assert courier.metric("courier_auth_failures_total", 'reason="missing"') == len(routes)


def test_websockets_take_the_token_and_refuse_outsiders(start_courier: Start) -> None:
    courier = start_courier()
    alice = courier.session("alice")
    cid = alice.post("/conversations", json={"title": "t", "participants": ["bob"]}).json()["id"]
    for query in ("", "?token=forged"):
        with pytest.raises(InvalidStatus) as refused:
            connect(f"{courier.ws_url}/conversations/{cid}/ws{query}", open_timeout=5)
        assert refused.value.response.status_code == 403  # closed before accept: the handshake is refused
    with pytest.raises(InvalidStatus) as outsider:
        connect(f"{courier.ws_url}/conversations/{cid}/ws?token={courier.token('mallory')}", open_timeout=5)
    assert outsider.value.response.status_code == 403
    with connect(f"{courier.ws_url}/conversations/{cid}/ws?token={courier.token('bob')}", open_timeout=5) as ws:
        sent = alice.post(f"/conversations/{cid}/messages", json={"body": "hi bob"}).json()
        assert '"hi bob"' in str(ws.recv(timeout=10))
    assert sent["sender_id"] == "alice"
    assert courier.metric("courier_websocket_closed_total", 'code="4401"') == 2
    assert courier.metric("courier_websocket_closed_total", 'code="4403"') == 1


@pytest.mark.slow  # several processes
@pytest.mark.redis
def test_tokens_live_in_redis_and_serve_every_instance(
    start_courier: Start, redis_url: str, stream_name: str, tcp_gate: Callable[[int], TcpGate]
) -> None:
    prefix = f"{stream_name}:auth"
    gate = tcp_gate(int(redis_url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)[1]))
    common = {"stream": stream_name, "redis_prefix": prefix, "token_recheck_s": 0, "redis_timeout_s": 1}
    a = start_courier(redis_url=f"redis://127.0.0.1:{gate.port}/0", **common)
    b = start_courier(redis_url=redis_url, **common)
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    token = a.login("alice")
    assert client.get(f"{prefix}:token:{token}") == "alice"
    assert 3500 < client.ttl(f"{prefix}:token:{token}") <= 3600
    assert httpx.get(f"{b.url}/conversations", headers=bearer(token)).status_code == 200  # b never issued it

    # Redis unreachable from a: tokens it knows keep working, unknown ones and logins are a 503.
    other = b.login("bob")
    gate.close()
    assert httpx.get(f"{a.url}/conversations", headers=bearer(token), timeout=10).status_code == 200
    unknown = httpx.get(f"{a.url}/conversations", headers=bearer(other), timeout=10)
    assert unknown.status_code == 503 and unknown.json()["error_code"] == "AUTH_UNAVAILABLE"
    assert unknown.headers["Retry-After"] == "1"
    refused = httpx.post(f"{a.url}/auth/login", json={"user_id": "carol", "password": "courier"}, timeout=10)
    assert refused.status_code == 503
    gate.open()

    # Logging out on b ends the token everywhere (a re-checks Redis: token_recheck_s is 0).
    assert httpx.post(f"{b.url}/auth/logout", headers=bearer(token)).status_code == 204
    assert client.exists(f"{prefix}:token:{token}") == 0
    deadline = time.monotonic() + 10
    while httpx.get(f"{a.url}/conversations", headers=bearer(token), timeout=10).status_code != 401:
        assert time.monotonic() < deadline, "a still accepts a token logged out on b"
        time.sleep(0.2)
    client.close()


def test_the_password_is_a_setting(start_courier: Start) -> None:
    courier = start_courier(login_password="s3cret", token_ttl_s=60)
    assert httpx.post(f"{courier.url}/auth/login", json={"user_id": "a", "password": "courier"}).status_code == 401
    ok = httpx.post(f"{courier.url}/auth/login", json={"user_id": "a", "password": "s3cret"})
    assert ok.status_code == 201 and ok.json()["expires_in"] == 60


def test_service_tokens_for_robots_never_expire(start_courier: Start) -> None:
    courier = start_courier(service_tokens='{"probe-token": "probe"}')
    mine = httpx.post(f"{courier.url}/conversations", json={"title": "robot"}, headers=bearer("probe-token"))
    assert mine.status_code == 201 and mine.json()["created_by"] == "probe"
    assert httpx.post(f"{courier.url}/auth/logout", headers=bearer("probe-token")).status_code == 204
    assert httpx.get(f"{courier.url}/conversations", headers=bearer("probe-token")).status_code == 200  # configured, not issued
