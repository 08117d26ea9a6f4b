"""Blocking work stays off the broker's event loop: the heartbeat answers while other requests wait.

The assertions are about order, not speed: the heartbeat must come back while the slow request is
still in flight (before the fix it waited behind it and timed out).
"""

from __future__ import annotations

import base64
import json
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from assay.contracts.broker.local import LocalBroker

SAMPLE = json.loads((Path(__file__).parent / "data" / "sample-pact-v4.json").read_text())


class StalledServer:
    """Accepts connections, reads nothing, answers nothing, until released (then closes them)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"
        self.connected = threading.Event()
        self.released = threading.Event()
        self.conns: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.1)
        while not self.released.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.conns.append(conn)
            self.connected.set()

    def release(self) -> None:
        self.released.set()
        self.thread.join(5)
        for c in self.conns:
            c.close()
        self.sock.close()


class Call(threading.Thread):
    """One HTTP request on its own thread, so the test can look at the broker meanwhile."""

    def __init__(self, method: str, url: str, **kwargs: Any) -> None:
        super().__init__(daemon=True)
        self.args = (method, url)
        self.kwargs = kwargs
        self.response: httpx.Response | None = None
        self.start()

    def run(self) -> None:
        self.response = httpx.request(*self.args, timeout=60, **self.kwargs)


@pytest.fixture()
def broker() -> Iterator[LocalBroker]:
    with LocalBroker() as b:  # the default retries and backoff: 5 retries from 1 s
        yield b


def test_contracts_heartbeat_answers_while_a_webhook_test_execution_waits(broker: LocalBroker) -> None:
    target = StalledServer()
    try:
        hook = httpx.post(
            f"{broker.url}/webhooks",
            json={
                "events": [{"name": "contract_published"}],
                "request": {"method": "POST", "url": target.url},
            },
        ).json()
        execute = Call("POST", hook["_links"]["pb:execute"]["href"])
        assert target.connected.wait(10), "the broker never called the webhook"
        beat = httpx.get(f"{broker.url}/diagnostic/status/heartbeat", timeout=5)
        assert beat.status_code == 200 and beat.json()["ok"] is True
        assert execute.is_alive(), "the heartbeat had to wait for the webhook call"
    finally:
        target.release()
    execute.join(30)
    assert execute.response is not None
    # a dead target is the webhook's failure, reported as such; one attempt, not five retries
    assert execute.response.status_code == 200, execute.response.text
    body = execute.response.json()
    assert body["success"] is False and body["error"] and "attempt 1" in body["logs"]
    logs = httpx.get(hook["_links"]["pb:logs"]["href"]).json()["executions"]
    assert [e["attempt"] for e in logs] == [1]


def test_contracts_heartbeat_and_reads_answer_while_a_publish_waits_for_the_database(
    broker: LocalBroker,
) -> None:
    db = broker.cfg.db.removeprefix("sqlite:///")
    holder = sqlite3.connect(db, timeout=1, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        doc = json.loads(json.dumps(SAMPLE))
        doc["consumer"]["name"], doc["provider"]["name"] = "Waiting", "Api"
        body = {
            "pacticipantName": "Waiting",
            "pacticipantVersionNumber": "1",
            "contracts": [
                {
                    "consumerName": "Waiting",
                    "providerName": "Api",
                    "content": base64.b64encode(json.dumps(doc).encode()).decode(),
                }
            ],
        }
        publish = Call("POST", f"{broker.url}/contracts/publish", json=body)
        time.sleep(0.5)  # let it reach the database (not a speed assertion: order is checked below)
        beat = httpx.get(f"{broker.url}/diagnostic/status/heartbeat", timeout=5)
        assert beat.status_code == 200
        listed = httpx.get(f"{broker.url}/environments", timeout=5)
        assert listed.status_code == 200
        assert publish.is_alive(), "the heartbeat had to wait for the blocked publish"
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    publish.join(30)
    assert publish.response is not None and publish.response.status_code == 200, publish.response
    assert httpx.get(f"{broker.url}/pacticipants/Waiting").status_code == 200
