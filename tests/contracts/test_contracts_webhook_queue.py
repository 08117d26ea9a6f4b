"""The webhook dispatcher's queue is bounded: when full, the oldest waiting delivery is dropped,
counted and written to the hook's run log (a slow hook target must not grow the broker's memory)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from assay.contracts.broker.local import LocalBroker
from assay.contracts.broker.webhooks import MAX_QUEUED

H = {"Content-Type": "application/json"}


class _SlowHook(BaseHTTPRequestHandler):
    """Records each call's body; the first call blocks until `release` is set."""

    calls: list[dict[str, Any]] = []
    arrived = threading.Event()
    release = threading.Event()

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        cls = type(self)
        cls.calls.append(body)
        if len(cls.calls) == 1:
            cls.arrived.set()
            cls.release.wait(20)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def hook_url() -> Iterator[str]:
    _SlowHook.calls.clear()
    _SlowHook.arrived.clear()
    _SlowHook.release.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SlowHook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        _SlowHook.release.set()
        server.shutdown()
        server.server_close()


def _publish(c: httpx.Client, version: str) -> None:
    doc = {
        "consumer": {"name": "QueueWeb"},
        "provider": {"name": "QueueApi"},
        "interactions": [{"description": f"get {version}", "request": {"method": "GET", "path": "/"}, "response": {"status": 200}}],
        "metadata": {"pactSpecification": {"version": "3.0.0"}},
    }
    r = c.put(f"/pacts/provider/QueueApi/consumer/QueueWeb/version/{version}", json=doc)
    assert r.status_code in (200, 201), r.text


def test_contracts_webhook_queue_full_drops_the_oldest_and_logs_it(hook_url: str) -> None:
    assert MAX_QUEUED >= 100  # the documented default leaves room for bursts
    with LocalBroker(webhook_retries=0, webhook_backoff=0.01) as broker, httpx.Client(base_url=broker.url, headers=H, timeout=10) as c:
        dispatcher = broker.dispatcher
        dispatcher.max_queued = 2  # before the first delivery: the worker threads start with it
        dispatcher.workers = 1
        r = c.post(
            "/webhooks",
            json={
                "provider": {"name": "QueueApi"},
                "events": [{"name": "contract_published"}],
                "request": {"method": "POST", "url": hook_url, "body": {"version": "${pactbroker.consumerVersionNumber}"}},
            },
        )
        assert r.status_code == 201, r.text
        logs_url = r.json()["_links"]["pb:logs"]["href"]

        _publish(c, "1")
        assert _SlowHook.arrived.wait(20)  # the one worker is now held by the slow target
        for v in ("2", "3", "4"):
            _publish(c, v)
        deadline = time.monotonic() + 10
        while dispatcher.dropped < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert dispatcher.dropped == 1 and dispatcher.queued() == 2
        _SlowHook.release.set()
        dispatcher.wait(20)

        assert [call["version"] for call in _SlowHook.calls] == ["1", "3", "4"]  # 2 was the oldest waiting
        executions = c.get(logs_url).json()["executions"]
        dropped = [e for e in executions if e["attempt"] == 0]
        assert len(dropped) == 1 and dropped[0]["success"] is False
        assert "queue was full" in json.dumps(dropped[0]) and '\\"2\\"' in json.dumps(dropped[0])
        assert sum(1 for e in executions if e["attempt"] == 1 and e["success"]) == 3


def test_contracts_webhook_dispatcher_close_cancels_waiting_deliveries(hook_url: str) -> None:
    with LocalBroker(webhook_retries=0) as broker, httpx.Client(base_url=broker.url, headers=H, timeout=10) as c:
        dispatcher = broker.dispatcher
        dispatcher.workers = 1
        r = c.post(
            "/webhooks",
            json={"events": [{"name": "contract_published"}], "request": {"method": "POST", "url": hook_url, "body": {"v": "${pactbroker.consumerVersionNumber}"}}},
        )
        assert r.status_code == 201, r.text
        _publish(c, "1")
        assert _SlowHook.arrived.wait(20)
        _publish(c, "2")
        assert dispatcher.queued() == 1
        _SlowHook.release.set()
        dispatcher.close()  # waits for the running delivery, drops the waiting one
        assert dispatcher.queued() == 0 and len(_SlowHook.calls) == 1
        dispatcher.submit([])  # after close: nothing starts, nothing raises
