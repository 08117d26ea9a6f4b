"""Message pacts: written by pact-python's consumer side, verified by `assay contract verify` against a
provider function and against an HTTP message endpoint (Pact's message protocol), with provider states."""

from __future__ import annotations

import base64
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from contracts_pactgen import run_cli
from pact import Pact, match

from assay.contracts import pactfile
from assay.contracts.verify import VerifyOptions, verify

os.environ.setdefault("PACT_DO_NOT_TRACK", "true")

EVENT = {"type": "order.shipped", "order": {"id": 7, "carrier": "DHL", "items": 2}}
BROKEN = {"type": "order.shipped", "order": {"id": "seven", "carrier": "DHL", "items": 2}}


def write_message_pact(out: Path, spec: str) -> Path:
    """A consumer test with pact-python: the consumer must handle the message it expects."""
    p = Pact("Mailer", "Orders").with_specification(spec)
    (
        p.upon_receiving("an order shipped event", "Async")
        .given("order 7 is shipped", id=7)
        .with_body(
            {
                "type": "order.shipped",
                "order": {"id": match.int(7), "carrier": match.like("DHL"), "items": match.int(2)},
            },
            content_type="application/json",
        )
        .with_metadata({"topic": "orders"})
    )
    seen: list[Any] = []
    p.verify(lambda body, meta: seen.append((json.loads(body), meta)), "Async")
    assert seen and seen[0][0]["order"]["id"] == 7 and seen[0][1]["topic"] == "orders"
    p.write_file(out, overwrite=True)
    return out / "Mailer-Orders.json"


class Orders:
    """The provider: publishes order events; provider states set up its data."""

    def __init__(self) -> None:
        self.shipped: dict[int, dict[str, Any]] = {}
        self.broken = False
        self.states: list[tuple[str, str]] = []

    def state(self, state: str, action: str, parameters: dict[str, Any] | None = None) -> None:
        self.states.append((state, action))
        if action == "setup":
            self.shipped[int((parameters or {}).get("id", 7))] = (
                BROKEN["order"] if self.broken else EVENT["order"]
            )
        else:
            self.shipped.clear()

    def produce(self, description: str) -> dict[str, Any]:
        assert description == "an order shipped event"
        order = self.shipped[7]  # only there when the provider state was set up
        return {"contents": {"type": "order.shipped", "order": order}, "metadata": {"topic": "orders"}}


@pytest.fixture(scope="module", params=["V3", "V4"])
def message_pact(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_message_pact(tmp_path_factory.mktemp(request.param), request.param)


@contextmanager
def message_endpoint(orders: Orders) -> Iterator[str]:
    """An HTTP message endpoint as Pact's message protocol has it, plus a provider-state endpoint."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            if self.path == "/_pact/state":
                orders.state(body["state"], body.get("action", "setup"), body.get("params"))
                self.send_response(200)
                self.end_headers()
                return
            message = orders.produce(body["description"])
            payload = json.dumps(message["contents"]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            meta = json.dumps(message["metadata"]).encode()
            self.send_header("Pact-Message-Metadata", base64.b64encode(meta).decode())
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()


def test_contracts_messages_pact_file_reads_as_message_interactions(message_pact: Path) -> None:
    doc = pactfile.load(message_pact)
    [inter] = pactfile.interactions(doc)
    assert inter.kind == "Asynchronous/Messages"
    assert inter.response.body == {"type": "order.shipped", "order": {"id": 7, "carrier": "DHL", "items": 2}}
    assert pactfile.rule_at(inter.response.rules, "body", "$.order.id") == "integer"
    assert inter.states == [("order 7 is shipped", {"id": 7})]


def test_contracts_messages_verified_against_a_provider_function(
    message_pact: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    orders = Orders()
    result = verify(_opts(message_pact, orders, monkeypatch))
    assert not result.failed, result.output
    assert [o.description for o in result.outcomes] == ["an order shipped event"]
    assert ("order 7 is shipped", "setup") in orders.states and (
        "order 7 is shipped",
        "teardown",
    ) in orders.states


def _opts(pact: Path, orders: Orders, monkeypatch: pytest.MonkeyPatch) -> VerifyOptions:
    """The provider function and state handlers as module:obj specs, as the CLI takes them."""
    import types

    mod = types.ModuleType("assay_test_orders_provider")
    mod.produce = orders.produce  # type: ignore[attr-defined]
    mod.state = orders.state  # type: ignore[attr-defined]
    monkeypatch.setitem(__import__("sys").modules, mod.__name__, mod)
    return VerifyOptions(
        provider="Orders",
        message_provider=f"{mod.__name__}:produce",
        state_handlers=f"{mod.__name__}:state",
        pact_files=[pact],
    )


def test_contracts_messages_broken_message_fails_readably(
    message_pact: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    orders = Orders()
    orders.broken = True
    result = verify(_opts(message_pact, orders, monkeypatch))
    assert result.failed
    [outcome] = result.outcomes
    [m] = outcome.mismatches
    assert m.path == "$.order.id" and m.rule == "integer"
    assert "integer" in m.message and m.actual == "seven"


def test_contracts_messages_cli_against_an_http_message_endpoint(
    message_pact: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    orders = Orders()
    with message_endpoint(orders) as url:
        args = [
            "contract",
            "verify",
            "--provider",
            "Orders",
            "--pact",
            str(message_pact),
            "--message-provider",
            f"{url}/_pact/message",
            "--state-handlers",
            f"{url}/_pact/state",
        ]
        code, out, err = run_cli(args, capsys)
        assert code == 0, out + err
        assert "✔ Mailer -> Orders: an order shipped event" in out
        assert ("order 7 is shipped", "setup") in orders.states
        orders.broken = True
        code, out, err = run_cli(args, capsys)
    assert code == 2, out + err
    assert "message expected:" in out and "request sent" not in out
    assert "✘ $.order.id: Expected 'seven' (String) to be an integer [rule: integer]" in out


def test_contracts_messages_need_a_provider_of_some_kind(
    message_pact: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(
        ["contract", "verify", "--provider", "Orders", "--pact", str(message_pact)], capsys
    )
    assert code == 64
    assert "--message-provider" in err


FIXTURE_TEST = """
import json
import pytest
from pact import match


@pytest.mark.pact(consumer="Mailer", provider="Orders", specification="{spec}")
def test_shipped(pact):
    (pact.upon_receiving("an order shipped event", "Async")
         .with_body({{"order": {{"id": match.int(7)}}}}, content_type="application/json"))
    seen = []
    pact.verify(lambda body, meta: seen.append(json.loads(body)), "Async")
    assert seen == [{{"order": {{"id": 7}}}}]


@pytest.mark.pact(consumer="Mailer", provider="Orders", specification="{spec}")
def test_forgot_to_verify(pact):
    pact.upon_receiving("an order cancelled event", "Async").with_body({{"order": {{"id": 8}}}})
"""


@pytest.mark.parametrize("spec", ["V3", "V4"])
def test_contracts_messages_pytest_fixture_writes_message_pacts(tmp_path: Path, spec: str) -> None:
    import subprocess
    import sys

    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "test_mailer.py").write_text(FIXTURE_TEST.format(spec=spec))
    env = {**os.environ, "ASSAY_PACT_DIR": str(tmp_path / "out"), "PACT_DO_NOT_TRACK": "true"}
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(suite)],
        cwd=suite,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 1, r.stdout + r.stderr  # the second test forgot pact.verify
    assert "never handed to the consumer: call pact.verify(handler, 'Async')" in r.stdout
    doc = pactfile.load(tmp_path / "out" / "Mailer-Orders.json")
    [inter] = pactfile.interactions(doc)
    assert (inter.description, inter.kind) == ("an order shipped event", "Asynchronous/Messages")
    assert ("messages" in doc) == (spec == "V3")


def test_contracts_messages_v4_synchronous_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A V4 synchronous message (request + reply): the producer's reply is matched."""
    import types

    p = Pact("Asker", "Answerer").with_specification("V4")
    inter = p.upon_receiving("a price question", "Sync").with_body(
        {"sku": "A1"}, content_type="application/json"
    )
    inter.will_respond_with().with_body({"price": match.int(5)}, content_type="application/json")
    p.verify(lambda body, meta: None, "Sync")
    p.write_file(tmp_path, overwrite=True)
    pact_file = tmp_path / "Asker-Answerer.json"
    [read] = pactfile.interactions(pactfile.load(pact_file))
    assert read.kind == "Synchronous/Messages" and read.request.body == {"sku": "A1"}
    assert read.response.body == {"price": 5}

    answer: dict[str, Any] = {"price": 7}
    mod = types.ModuleType("assay_test_sync_provider")
    mod.produce = lambda description: answer  # type: ignore[attr-defined]
    monkeypatch.setitem(__import__("sys").modules, mod.__name__, mod)
    opts = VerifyOptions(
        provider="Answerer", message_provider=f"{mod.__name__}:produce", pact_files=[pact_file]
    )
    assert not verify(opts).failed
    answer["price"] = "x"
    [outcome] = verify(opts).outcomes
    assert not outcome.ok and [(m.path, m.rule) for m in outcome.mismatches] == [("$.price", "integer")]


def test_contracts_messages_from_the_broker(message_pact: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Message pacts published to our broker are fetched and verified like HTTP ones (V3 `messages[]` too)."""
    from assay.contracts.broker.local import LocalBroker
    from assay.contracts.client import BrokerClient

    orders = Orders()
    opts = _opts(message_pact, orders, monkeypatch)
    with LocalBroker() as broker, BrokerClient(broker.url) as client:
        client.publish([message_pact], version="m1", branch="main")
        from dataclasses import replace

        result = verify(replace(opts, pact_files=[], broker_url=broker.url, selectors=[{"mainBranch": True}]))
    assert not result.failed, result.output
    assert [o.description for o in result.outcomes] == ["an order shipped event"]
