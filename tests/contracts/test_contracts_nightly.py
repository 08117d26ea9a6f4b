"""The nightly check (`verify --all-deployed`) names the consumer version that broke; notification webhooks
from templates post a Slack-compatible message and a generic JSON body."""

from __future__ import annotations

import json
import os
import sys
import threading
import types
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from contracts_pactgen import UserStore, handlers, run_cli, user_provider, write_pacts

from assay.contracts.broker.local import LocalBroker
from assay.contracts.client import BrokerClient
from assay.contracts.verify import VerifyOptions, verify
from assay.contracts.webhook_templates import webhook

os.environ.setdefault("PACT_DO_NOT_TRACK", "true")


class _Receiver(BaseHTTPRequestHandler):
    bodies: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802
        type(self).bodies.append(json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0))))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    _Receiver.bodies = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _versions(tmp_path: Path) -> dict[str, Path]:
    """Three consumer versions: 1 and 2 conform (different content), 3 expects a status the provider never sends."""
    base = json.loads(write_pacts(tmp_path / "gen", "V4").read_text())
    out = {}
    for number in ("1", "2", "3"):
        doc = json.loads(json.dumps(base))
        doc["metadata"]["build"] = number
        if number == "3":
            doc["interactions"][0]["response"]["status"] = 201
        f = tmp_path / number / "UserWeb-UserAPI.json"
        f.parent.mkdir()
        f.write_text(json.dumps(doc))
        out[number] = f
    return out


def test_contracts_nightly_all_deployed_names_the_broken_consumer_version(
    tmp_path: Path, receiver: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    files = _versions(tmp_path)
    store = UserStore()
    mod = types.ModuleType("assay_test_nightly_states")
    mod.states = handlers(store)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, mod.__name__, mod)
    with LocalBroker() as broker, BrokerClient(broker.url) as client, user_provider(store) as url:
        for kind in ("slack", "json"):
            hook = webhook(kind, "provider_verification_failed", f"{receiver}/{kind}", provider="UserAPI")
            client.request("POST", f"{broker.url}/webhooks", json_body=hook)
        client.publish([files["1"]], version="1", branch="main")
        client.publish([files["2"]], version="2", branch="release")
        client.publish([files["3"]], version="3", branch="hotfix")
        client.record_deployment("UserWeb", "1", "test")
        client.record_deployment("UserWeb", "2", "production")
        client.record_release("UserWeb", "3", "production")

        result = verify(
            VerifyOptions(
                provider="UserAPI",
                provider_base_url=url,
                broker_url=broker.url,
                all_deployed=True,
                state_handlers=f"{mod.__name__}:states",
            )
        )
        assert result.failed
        [broken] = result.run.extra["contracts"]["broken"]
        assert "(3)" in broken and "production" in broken and "(1)" not in broken
        by_source: dict[str, set[bool]] = {}
        for o in result.outcomes:
            by_source.setdefault(o.source, set()).add(o.ok)
        assert len(by_source) == 3  # one pass per consumer version
        assert sorted(False in oks for oks in by_source.values()) == [False, False, True]

        # the CLI prints the broken version; exit 2
        args = ["contract", "verify", "--provider", "UserAPI", "--provider-base-url", url]
        args += ["--broker", broker.url, "--all-deployed", "--state-handlers", f"{mod.__name__}:states"]
        code, out, err = run_cli(args, capsys)
        assert code == 2, out + err
        assert "BROKEN: Pact between UserWeb (3)" in out

        # a failed verification published to the broker fires the templated notifications
        pact = client.request("GET", f"{broker.url}/pacts/provider/UserAPI/consumer/UserWeb/version/3")
        client.request(
            "POST",
            pact["_links"]["pb:publish-verification-results"]["href"],
            json_body={"success": False, "providerApplicationVersion": "9.9"},
        )
        broker.dispatcher.wait(20)
    slack = next(b for b in _Receiver.bodies if "text" in b)
    assert slack["text"].startswith(
        ":rotating_light: Breaking change: UserAPI version 9.9 fails the pact of consumer UserWeb version 3"
    )
    assert slack["blocks"][0]["text"]["type"] == "mrkdwn"
    generic = next(b for b in _Receiver.bodies if "event" in b)
    assert generic["event"] == "provider_verification_failed"
    assert generic["consumer"] == {"name": "UserWeb", "version": "3"} and generic["status"] == "failure"


def test_contracts_nightly_template_cli_and_bad_input(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ["broker", "webhook-from-template", "--event", "contract_content_changed", "--dry-run"]
    code, out, err = run_cli([*args, "--template", "slack", "--url", "https://hooks.example/x"], capsys)
    assert code == 0, out + err
    body = json.loads(out)
    assert body["events"] == [{"name": "contract_content_changed"}]
    assert "Contract changed: ${pactbroker.consumerName}" in body["request"]["body"]["text"]
    code, out, err = run_cli([*args, "--template", "teams", "--url", "https://x"], capsys)
    assert code == 64 and "slack, json" in err
    monkeypatch.delenv("PACT_BROKER_BASE_URL", raising=False)
    verify_args = ["contract", "verify", "--provider", "P", "--provider-base-url", "http://127.0.0.1:1"]
    code, out, err = run_cli([*verify_args, "--all-deployed"], capsys)
    assert code == 64 and "--all-deployed needs --broker" in err
