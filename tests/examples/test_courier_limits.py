"""courier's limits: messages up to 64 KiB (413 above), request bodies, and a per-user rate limit (429)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import httpx
from courier_helpers import Courier
from websockets.sync.client import connect

Start = Callable[..., Courier]
LIMIT = 64 * 1024


def test_a_64_kib_message_goes_through_whole_and_one_byte_more_is_a_413(start_courier: Start) -> None:
    courier = start_courier()
    alice = courier.session("alice")
    cid = alice.post("/conversations", json={"title": "big"}).json()["id"]
    body = "".join(chr(ord("a") + i % 26) for i in range(LIMIT))
    with connect(f"{courier.ws_url}/conversations/{cid}/ws?token={courier.token('alice')}", open_timeout=5) as ws:
        sent = alice.post(f"/conversations/{cid}/messages", json={"body": body})
        assert sent.status_code == 201
        frame = json.loads(ws.recv(timeout=10))
    assert frame["message"]["body"] == body  # every byte arrived
    assert alice.get(f"/conversations/{cid}/messages").json()["items"][0]["body"] == body

    over = alice.post(f"/conversations/{cid}/messages", json={"body": body + "z"})
    assert over.status_code == 413
    assert over.json() == {
        "status": 413,
        "error_code": "MESSAGE_TOO_LARGE",
        "message": f"the message body is {LIMIT + 1} bytes; the limit is {LIMIT} bytes (UTF-8)",
        "limit_bytes": LIMIT,
        "size_bytes": LIMIT + 1,
    }
    # bytes, not characters: 16,385 four-byte characters are 65,540 bytes
    wide = alice.post(f"/conversations/{cid}/messages", json={"body": "\U0001f600" * (LIMIT // 4 + 1)})
    assert wide.status_code == 413 and wide.json()["size_bytes"] == LIMIT + 4
    assert courier.metric("courier_requests_too_large_total", 'what="message"') == 2


def test_a_request_body_over_the_limit_is_refused_before_it_is_read(start_courier: Start) -> None:
    courier = start_courier(max_request_bytes=200_000)
    alice = courier.session("alice")
    cid = alice.post("/conversations", json={"title": "big"}).json()["id"]
    huge = alice.post(f"/conversations/{cid}/messages", content=b'{"body": "' + b"x" * 300_000 + b'"}',
                      headers={"Content-Type": "application/json"})
    assert huge.status_code == 413
    assert huge.json()["error_code"] == "REQUEST_TOO_LARGE"
    assert huge.json()["limit_bytes"] == 200_000
    assert courier.metric("courier_requests_too_large_total", 'what="request"') == 1


def test_the_rate_limit_is_per_user_and_says_when_to_retry(start_courier: Start) -> None:
    courier = start_courier(rate_limit_per_s=2, rate_limit_burst=3)
    alice, bob = courier.client("alice"), courier.client("bob")
    statuses = [alice.get("/conversations").status_code for _ in range(5)]
    assert statuses[:3] == [200, 200, 200] and 429 in statuses[3:]
    limited = alice.get("/conversations")
    assert limited.status_code == 429
    assert limited.json()["error_code"] == "RATE_LIMITED"
    assert 0 < limited.json()["retry_after_s"] <= 0.5
    assert limited.headers["Retry-After"] == "1"
    assert bob.get("/conversations").status_code == 200  # another user has a bucket of their own
    time.sleep(1.1)
    assert alice.get("/conversations").status_code == 200  # the bucket refills at 2/s
    assert courier.metric("courier_rate_limited_total") >= 2
    alice.close()
    bob.close()


def test_no_rate_limit_by_default(start_courier: Start) -> None:
    courier = start_courier()
    with courier.client("alice") as alice:
        assert {alice.get("/conversations").status_code for _ in range(60)} == {200}
    assert courier.metric("courier_rate_limited_total") == 0
    assert httpx.get(f"{courier.url}/metrics").status_code == 200
