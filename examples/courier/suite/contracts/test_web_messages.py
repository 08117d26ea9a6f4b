"""Consumer test of what courier's WebSocket delivers to the web app; it writes a message pact.

    pytest examples/courier/suite/contracts      # also writes examples/courier/suite/pacts/courier-web-courier-ws.json

The provider side (tests/examples/test_courier_message_contract.py) runs courier, sets up
the provider state, reads the frame from /conversations/42/ws and has Pact match it.
"""

from __future__ import annotations

import os
from pathlib import Path

from pact import Pact
from test_web_consumer import EXISTS, message_body
from web_client import Timeline

PACT_DIR = Path(os.environ.get("COURIER_PACT_DIR") or Path(__file__).resolve().parents[1] / "pacts")


def test_a_new_message_frame_goes_on_the_timeline() -> None:
    pact = Pact("courier-web", "courier-ws").with_specification("V4")
    (
        pact.upon_receiving("a message.created frame on the conversation's WebSocket", "Async")
        .given(EXISTS)
        .with_body({"type": "message.created", "message": message_body()}, content_type="application/json")
    )
    timeline = Timeline()
    pact.verify(timeline.on_frame, "Async")  # the consumer really handles the frame it asks for
    assert timeline.lines == ["[10:00] alice in #42: hello (#7)"]
    PACT_DIR.mkdir(parents=True, exist_ok=True)
    pact.write_file(PACT_DIR, overwrite=True)
