"""Consumer tests of the courier web app against Pact's mock server; they write the pact file.

    pytest examples/courier/suite/contracts        # writes examples/courier/suite/pacts/courier-web-courier.json

COURIER_PACT_DIR chooses another output folder. Provider states name data the provider
must hold; courier's verification (tests/examples/test_courier_suite.py) sets them up.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from pact import Pact, match
from web_client import CourierError, CourierWebClient

PACT_DIR = Path(os.environ.get("COURIER_PACT_DIR") or Path(__file__).resolve().parents[1] / "pacts")
STAMP = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$"
EXISTS = "conversation 42 exists with alice and bob"
LOGGED_IN = "a user is logged in"


def token_of(user: str) -> str:
    """The token each interaction's user holds; the provider state LOGGED_IN makes it valid."""
    return f"web-token-{user}"


def timestamp() -> object:
    return match.regex("2026-11-21T10:00:00.000000Z", regex=STAMP)


def conversation_body(cid: int = 42, title: str = "launch plans", version: int = 1) -> dict[str, object]:
    return {
        "id": match.int(cid),
        "title": match.str(title),
        "version": match.int(version),
        "created_by": match.str("alice"),
        "participants": match.each_like("alice", min=1),
        "created_at": timestamp(),
        "updated_at": timestamp(),
    }


def message_body() -> dict[str, object]:
    return {
        "id": match.int(7),
        "conversation_id": match.int(42),
        "sender_id": match.str("alice"),
        "body": match.str("hello"),
        "created_at": timestamp(),
    }


def error_body(code: str) -> dict[str, object]:
    return {"status": match.int(400), "message": match.str("why it failed"), "error_code": code}


@pytest.fixture(scope="module")
def fresh_pact_file() -> None:
    """Start each run from an empty file; every test then merges its interaction into it."""
    PACT_DIR.mkdir(parents=True, exist_ok=True)
    (PACT_DIR / "courier-web-courier.json").unlink(missing_ok=True)


@pytest.fixture
def pact(fresh_pact_file: None) -> Iterator[Pact]:
    # A Pact is locked once its mock server has run, so each test builds its own.
    pact = Pact("courier-web", "courier").with_specification("V4")
    yield pact
    pact.write_file(PACT_DIR, overwrite=False)


def test_start_a_conversation(pact: Pact) -> None:
    (
        pact.upon_receiving("a request to start a conversation")
        .with_request("POST", "/conversations")
        .given(LOGGED_IN, user="alice", token=token_of("alice"))
        .with_header("Authorization", f"Bearer {token_of('alice')}")
        .with_body({"title": "launch plans", "participants": ["bob"]}, content_type="application/json")
        .will_respond_with(201)
        .with_body(conversation_body(), content_type="application/json")
    )
    with pact.serve(addr="127.0.0.1") as srv:
        client = CourierWebClient(str(srv.url), token_of("alice"))
        conv = client.start_conversation("launch plans", ["bob"])
        client.close()
    assert conv["version"] == 1
    assert conv["participants"] == ["alice"]


def test_open_a_conversation(pact: Pact) -> None:
    (
        pact.upon_receiving("a request for conversation 42 by a participant")
        .given(EXISTS)
        .with_request("GET", "/conversations/42")
        .given(LOGGED_IN, user="alice", token=token_of("alice"))
        .with_header("Authorization", f"Bearer {token_of('alice')}")
        .will_respond_with(200)
        .with_body(conversation_body(), content_type="application/json")
    )
    with pact.serve(addr="127.0.0.1") as srv:
        client = CourierWebClient(str(srv.url), token_of("alice"))
        conv = client.conversation(42)
        client.close()
    assert conv["id"] == 42


def test_outsiders_are_refused(pact: Pact) -> None:
    (
        pact.upon_receiving("a request for conversation 42 by someone outside it")
        .given(EXISTS)
        .with_request("GET", "/conversations/42")
        .given(LOGGED_IN, user="mallory", token=token_of("mallory"))
        .with_header("Authorization", f"Bearer {token_of('mallory')}")
        .will_respond_with(403)
        .with_body(error_body("FORBIDDEN"), content_type="application/json")
    )
    with pact.serve(addr="127.0.0.1") as srv:
        client = CourierWebClient(str(srv.url), token_of("mallory"))
        with pytest.raises(CourierError) as refused:
            client.conversation(42)
        client.close()
    assert refused.value.status == 403
    assert refused.value.error_code == "FORBIDDEN"


def test_a_stale_rename_conflicts(pact: Pact) -> None:
    (
        pact.upon_receiving("a rename of conversation 42 from an old version")
        .given("conversation 42 is at version 2")
        .with_request("PATCH", "/conversations/42")
        .given(LOGGED_IN, user="alice", token=token_of("alice"))
        .with_header("Authorization", f"Bearer {token_of('alice')}")
        .with_body({"title": "new name", "version": 1}, content_type="application/json")
        .will_respond_with(409)
        .with_body(
            {**error_body("VERSION_CONFLICT"), "current_version": match.int(2)},
            content_type="application/json",
        )
    )
    with pact.serve(addr="127.0.0.1") as srv:
        client = CourierWebClient(str(srv.url), token_of("alice"))
        with pytest.raises(CourierError) as conflict:
            client.rename(42, "new name", 1)
        client.close()
    assert conflict.value.status == 409
    assert conflict.value.body["current_version"] == 2


def test_send_a_message(pact: Pact) -> None:
    (
        pact.upon_receiving("a new message with an idempotency key")
        .given(EXISTS)
        .with_request("POST", "/conversations/42/messages")
        .given(LOGGED_IN, user="alice", token=token_of("alice"))
        .with_header("Authorization", f"Bearer {token_of('alice')}")
        .with_header("Idempotency-Key", match.uuid("0d7a6c1e-8a38-4bd1-9d2c-3c1c1b7e1a10"))
        .with_body({"body": "hello"}, content_type="application/json")
        .will_respond_with(201)
        .with_body(message_body(), content_type="application/json")
    )
    with pact.serve(addr="127.0.0.1") as srv:
        client = CourierWebClient(str(srv.url), token_of("alice"))
        msg = client.send(42, "hello", "0d7a6c1e-8a38-4bd1-9d2c-3c1c1b7e1a10")
        client.close()
    assert msg["body"] == "hello"


def test_read_the_messages(pact: Pact) -> None:
    (
        pact.upon_receiving("a request for the messages of conversation 42")
        .given(EXISTS)
        .with_request("GET", "/conversations/42/messages")
        .given(LOGGED_IN, user="bob", token=token_of("bob"))
        .with_header("Authorization", f"Bearer {token_of('bob')}")
        .will_respond_with(200)
        .with_body({"items": match.each_like(message_body(), min=1)}, content_type="application/json")
    )
    with pact.serve(addr="127.0.0.1") as srv:
        client = CourierWebClient(str(srv.url), token_of("bob"))
        items = client.messages(42)
        client.close()
    assert items[0]["sender_id"] == "alice"
