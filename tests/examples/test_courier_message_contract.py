"""courier's WebSocket against the web app's message pact: the provider side of the message contract.

The consumer test (examples/courier/suite/contracts/test_web_messages.py) writes the pact; here a
real courier runs, the provider state seeds conversation 42, and the message producer reads the
frame courier delivers on /conversations/42/ws for Pact to match (`assay contract verify`'s engine).
"""

from __future__ import annotations

import json
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from courier_helpers import Courier
from test_courier_suite import SUITE, run, seed_conversation_42
from websockets.sync.client import connect

from assay.contracts.verify import VerifyOptions, verify


@pytest.mark.timeout(120)
def test_courier_websocket_frames_honour_the_web_apps_message_pact(
    start_courier: Callable[..., Courier], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pacts = tmp_path / "pacts"
    consumer = run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            str(SUITE / "contracts" / "test_web_messages.py"),
        ],
        env={"COURIER_PACT_DIR": str(pacts), "PACT_DO_NOT_TRACK": "true"},
    )
    assert consumer.returncode == 0, consumer.stdout + consumer.stderr
    pact_file = pacts / "courier-web-courier-ws.json"
    [interaction] = json.loads(pact_file.read_text())["interactions"]
    assert interaction["type"] == "Asynchronous/Messages"

    courier = start_courier()
    states: list[str] = []

    def state(state: str, action: str) -> None:
        states.append(f"{action} {state}")
        if action == "setup":
            seed_conversation_42(tmp_path / "courier.db", version=1)

    def frame(description: str) -> Any:
        """The first frame courier pushes to a subscriber replaying conversation 42 from the start."""
        token = courier.token("alice")
        with connect(f"{courier.ws_url}/conversations/42/ws?token={token}&after=0", open_timeout=10) as ws:
            return json.loads(ws.recv(timeout=10))

    provider = types.ModuleType("courier_ws_provider")
    provider.frame = frame  # type: ignore[attr-defined]
    provider.state = state  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, provider.__name__, provider)
    result = verify(
        VerifyOptions(
            provider="courier-ws",
            message_provider="courier_ws_provider:frame",
            state_handlers="courier_ws_provider:state",
            pact_files=[pact_file],
        )
    )
    assert not result.failed, result.output
    assert [o.description for o in result.outcomes] == [interaction["description"]]
    assert states[0] == "setup conversation 42 exists with alice and bob"
