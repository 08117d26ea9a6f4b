"""courier's HTTP API against a real uvicorn process, on SQLite and on the machine's PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from courier_helpers import Courier, create_database, drop_database, launch_courier

POSTGRES = os.environ.get("ASSAY_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def courier(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Courier]:
    tmp = tmp_path_factory.mktemp(f"courier-{request.param}")
    settings: dict[str, object] = {}
    pg = None
    if request.param == "postgres":
        pg = create_database(POSTGRES)
        settings["database_url"] = pg
    server = launch_courier(tmp, **settings)
    yield server
    server.proc.stop()
    if pg:
        drop_database(POSTGRES, pg)


def new_conversation(client: httpx.Client, *others: str, title: str = "launch plans") -> dict:
    resp = client.post("/conversations", json={"title": title, "participants": list(others)})
    assert resp.status_code == 201, resp.text
    return resp.json()


def test_conversation_crud_with_versions(courier: Courier) -> None:
    with courier.client("alice") as alice:
        conv = new_conversation(alice, "bob")
        assert conv["version"] == 1
        assert conv["participants"] == ["alice", "bob"]
        assert conv["created_by"] == "alice"

        got = alice.get(f"/conversations/{conv['id']}")
        assert got.status_code == 200
        assert got.headers["etag"] == '"1"'
        assert got.json()["title"] == "launch plans"

        listed = alice.get("/conversations", params={"limit": 200}).json()["items"]
        assert conv["id"] in [c["id"] for c in listed]

        renamed = alice.patch(f"/conversations/{conv['id']}", json={"title": "launch", "version": 1})
        assert renamed.status_code == 200
        assert renamed.json()["version"] == 2
        assert renamed.json()["title"] == "launch"

        via_header = alice.patch(
            f"/conversations/{conv['id']}", json={"title": "go"}, headers={"If-Match": '"2"'}
        )
        assert via_header.status_code == 200
        assert via_header.json()["version"] == 3

        assert alice.delete(f"/conversations/{conv['id']}", headers={"If-Match": '"3"'}).status_code == 204
        gone = alice.get(f"/conversations/{conv['id']}")
        assert gone.status_code == 404
        assert gone.json()["error_code"] == "NOT_FOUND"


def test_stale_version_is_a_409_conflict(courier: Courier) -> None:
    with courier.client("alice") as alice, courier.client("bob") as bob:
        conv = new_conversation(alice, "bob")
        url = f"/conversations/{conv['id']}"
        assert alice.patch(url, json={"title": "alice wins", "version": 1}).status_code == 200
        lost = bob.patch(url, json={"title": "bob loses", "version": 1})
        assert lost.status_code == 409
        assert lost.json() == {
            "status": 409,
            "message": "conversation is at version 2, not 1; reload it and retry",
            "error_code": "VERSION_CONFLICT",
            "current_version": 2,
        }
        assert alice.get(url).json()["title"] == "alice wins"
        stale_delete = bob.delete(url, params={"version": 1})
        assert stale_delete.status_code == 409
        assert bob.patch(url, json={"title": "no version"}).status_code == 428
        # Concurrent writers with the same version: exactly one wins.
        with ThreadPoolExecutor(8) as pool:
            statuses = list(
                pool.map(
                    lambda i: alice.patch(url, json={"title": f"t{i}", "version": 2}).status_code, range(8)
                )
            )
        assert sorted(statuses) == [200] + [409] * 7


def test_non_participants_get_403(courier: Courier) -> None:
    with courier.client("alice") as alice, courier.client("mallory") as mallory:
        conv = new_conversation(alice, "bob")
        base = f"/conversations/{conv['id']}"
        for method, path, body in [
            ("GET", base, None),
            ("PATCH", base, {"title": "mine", "version": 1}),
            ("DELETE", base, None),
            ("GET", f"{base}/participants", None),
            ("POST", f"{base}/participants", {"user_id": "mallory"}),
            ("GET", f"{base}/messages", None),
            ("POST", f"{base}/messages", {"body": "hi"}),
        ]:
            resp = mallory.request(method, path, json=body)
            assert resp.status_code == 403, (method, path, resp.text)
            assert resp.json()["error_code"] == "FORBIDDEN"
        assert conv["id"] not in [c["id"] for c in mallory.get("/conversations").json()["items"]]
        assert alice.get(base).json()["title"] == "launch plans"
        assert mallory.get(f"/conversations/{10**9}").status_code == 404

    with courier.client(None) as anonymous:
        resp = anonymous.get("/conversations")
        assert resp.status_code == 401
        assert resp.json()["error_code"] == "UNAUTHENTICATED"


def test_participants_can_be_added_and_removed(courier: Courier) -> None:
    with courier.client("alice") as alice, courier.client("carol") as carol, courier.client("bob") as bob:
        conv = new_conversation(alice, "bob")
        base = f"/conversations/{conv['id']}"
        assert carol.get(base).status_code == 403
        added = bob.post(f"{base}/participants", json={"user_id": "carol"})
        assert added.status_code == 201
        assert added.json()["role"] == "member"
        assert bob.post(f"{base}/participants", json={"user_id": "carol"}).status_code == 200
        assert carol.get(base).status_code == 200
        members = [p["user_id"] for p in alice.get(f"{base}/participants").json()["items"]]
        assert members == ["alice", "bob", "carol"]
        assert bob.delete(f"{base}/participants/carol").status_code == 403  # only the owner removes others
        assert alice.delete(f"{base}/participants/carol").status_code == 204
        assert carol.get(base).status_code == 403
        assert bob.delete(f"{base}/participants/bob").status_code == 204  # anyone may leave
        assert alice.delete(f"{base}/participants/alice").status_code == 409


def test_messages_with_idempotency_keys(courier: Courier) -> None:
    with courier.client("alice") as alice, courier.client("bob") as bob:
        conv = new_conversation(alice, "bob")
        url = f"/conversations/{conv['id']}/messages"
        key = str(uuid.uuid4())
        first = alice.post(url, json={"body": "hello"}, headers={"Idempotency-Key": key})
        assert first.status_code == 201
        again = alice.post(url, json={"body": "hello"}, headers={"Idempotency-Key": key})
        assert again.status_code == 200
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json() == first.json()
        reused = alice.post(url, json={"body": "something else"}, headers={"Idempotency-Key": key})
        assert reused.status_code == 422
        assert reused.json()["error_code"] == "IDEMPOTENCY_KEY_REUSED"
        # Keys belong to the caller: bob's identical key is a new message.
        assert bob.post(url, json={"body": "hello"}, headers={"Idempotency-Key": key}).status_code == 201
        # A retry storm with one key creates one message.
        storm_key = str(uuid.uuid4())
        with ThreadPoolExecutor(8) as pool:
            replies = list(
                pool.map(
                    lambda _: alice.post(url, json={"body": "once"}, headers={"Idempotency-Key": storm_key}),
                    range(8),
                )
            )
        assert sorted(r.status_code for r in replies) == [200] * 7 + [201]
        assert len({r.json()["id"] for r in replies}) == 1
        # Without a key every POST is a new message.
        alice.post(url, json={"body": "twice"})
        alice.post(url, json={"body": "twice"})

        items = bob.get(url).json()["items"]
        assert [m["body"] for m in items] == ["hello", "hello", "once", "twice", "twice"]
        assert [m["sender_id"] for m in items] == ["alice", "bob", "alice", "alice", "alice"]
        after = bob.get(url, params={"after": items[2]["id"]}).json()["items"]
        assert [m["id"] for m in after] == [items[3]["id"], items[4]["id"]]


def test_errors_are_json_with_codes(courier: Courier) -> None:
    with courier.client("alice") as alice:
        bad = alice.post("/conversations", json={"title": ""})
        assert bad.status_code == 422
        assert bad.json()["error_code"] == "VALIDATION_ERROR"
        assert bad.json()["errors"][0]["loc"] == ["body", "title"]
        missing = alice.get("/no/such/route")
        assert missing.status_code == 404
        assert missing.json()["error_code"] == "NOT_FOUND"
        assert alice.get("/conversations/abc").status_code == 422


def test_health_and_metrics(courier: Courier) -> None:
    assert httpx.get(f"{courier.url}/health/live").json() == {"status": "ok"}
    ready = httpx.get(f"{courier.url}/health/ready")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready"
    assert body["checks"]["database"]["status"] == "up"
    assert body["checks"]["database"]["circuit"] == "closed"
    assert body["checks"]["queue"] == {
        "status": "up",
        "kind": "in-process",
        "latency_ms": body["checks"]["queue"]["latency_ms"],
    }

    with courier.client("alice") as alice:
        new_conversation(alice)
        alice.get("/conversations/999999999")
    text = httpx.get(f"{courier.url}/metrics").text
    assert (
        'courier_http_request_duration_seconds_bucket{le="0.35",method="POST",route="/conversations",status="201"}'
        in text
    )
    assert 'courier_http_errors_total{error_code="NOT_FOUND",route="/conversations/{cid}"}' in text
    for name in (
        "courier_db_pool_size",
        "courier_db_pool_checked_out",
        "courier_db_circuit_state 0.0",
        'courier_queue_depth{queue="outbox"}',
        "courier_messages_delivered_total",
        "courier_messages_dead_lettered_total",
        "courier_request_queue_depth",
    ):
        assert name in text, name
