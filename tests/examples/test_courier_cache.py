"""courier's participant cache: hits and misses on /metrics, and invalidation across instances over Redis Pub/Sub."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from courier_helpers import Courier

Start = Callable[..., Courier]


def eventually_status(send: Callable[[], int], want: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while (got := send()) != want:
        assert time.monotonic() < deadline, f"still {got}, wanted {want}"
        time.sleep(0.1)


def test_sends_hit_the_cache_and_a_membership_change_drops_it(start_courier: Start) -> None:
    courier = start_courier()
    alice, bob = courier.session("alice"), courier.session("bob")
    cid = alice.post("/conversations", json={"title": "c", "participants": ["bob"]}).json()["id"]
    for i in range(5):
        assert bob.post(f"/conversations/{cid}/messages", json={"body": f"m{i}"}).status_code == 201
    assert courier.metric("courier_participant_cache_misses_total") == 1
    assert courier.metric("courier_participant_cache_hits_total") == 4
    assert courier.metric("courier_participant_cache_entries") == 1

    assert alice.delete(f"/conversations/{cid}/participants/bob").status_code == 204
    refused = bob.post(f"/conversations/{cid}/messages", json={"body": "gone"})
    assert refused.status_code == 403 and refused.json()["error_code"] == "FORBIDDEN"
    assert courier.metric("courier_participant_cache_invalidations_total", 'source="local"') == 1
    # deleting the conversation drops it too: the next send is a 404, not a cached yes
    assert alice.post(f"/conversations/{cid}/messages", json={"body": "x"}).status_code == 201
    assert alice.delete(f"/conversations/{cid}").status_code == 204
    assert alice.post(f"/conversations/{cid}/messages", json={"body": "y"}).status_code == 404


def test_the_cache_can_be_switched_off(start_courier: Start) -> None:
    courier = start_courier(participant_cache_size=0)
    alice = courier.session("alice")
    cid = alice.post("/conversations", json={"title": "c"}).json()["id"]
    for _ in range(3):
        assert alice.post(f"/conversations/{cid}/messages", json={"body": "m"}).status_code == 201
    assert courier.metric("courier_participant_cache_hits_total") == 0
    assert courier.metric("courier_participant_cache_entries") == 0


@pytest.mark.slow  # several processes
@pytest.mark.redis
@pytest.mark.postgres
def test_a_removal_on_one_instance_reaches_the_others_over_pubsub(
    start_courier: Start, redis_url: str, pg_url: str, stream_name: str
) -> None:
    shared = {"database_url": pg_url, "redis_url": redis_url, "stream": stream_name, "redis_prefix": stream_name}
    a = start_courier(**shared)
    b = start_courier(**shared, participant_cache_ttl_s=600)  # only an invalidation can drop b's entry
    cid = a.session("alice").post("/conversations", json={"title": "c", "participants": ["bob"]}).json()["id"]
    bob_on_b = b.session("bob")
    assert bob_on_b.post(f"/conversations/{cid}/messages", json={"body": "1"}).status_code == 201
    assert bob_on_b.post(f"/conversations/{cid}/messages", json={"body": "2"}).status_code == 201
    assert b.metric("courier_participant_cache_hits_total") == 1

    assert a.session("alice").delete(f"/conversations/{cid}/participants/bob").status_code == 204
    eventually_status(lambda: bob_on_b.post(f"/conversations/{cid}/messages", json={"body": "3"}).status_code, 403)
    assert b.metric("courier_participant_cache_invalidations_total", 'source="pubsub"') == 1
    # and back in: b learns that too
    assert a.session("alice").post(f"/conversations/{cid}/participants", json={"user_id": "bob"}).status_code == 201
    eventually_status(lambda: bob_on_b.post(f"/conversations/{cid}/messages", json={"body": "4"}).status_code, 201)
