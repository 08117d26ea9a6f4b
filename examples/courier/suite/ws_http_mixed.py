"""WebSocket + HTTP mixed: 50 persistent sockets, 500 POST/s, 95% delivered within 500 ms.

The plan's thresholds: delivery p95 < 500 ms (the ledger's send-to-receipt latency),
zero subscriber disconnects, delivered == sent (messages_lost == 0 and no failed send),
errors < 0.1%. Sockets answer courier's heartbeat pings throughout.

    assay load run examples/courier/suite/ws_http_mixed.py -e COURIER_URL=http://127.0.0.1:8080   # 10 min
    assay load run examples/courier/suite/ws_http_mixed.py -e COURIER_URL=... -e PROFILE=ci
"""

from __future__ import annotations

import time

from courier_kit import (  # the metrics are imported by name: the loader finds module-level metrics
    consumer_lag,
    heartbeats_answered,
    messages_corrupted,
    read_room,
    room_scenarios,
    setup_rooms,
    size,
    subscriber_disconnects,
    watch_lag,
    write_room,
)

SIZE = size(
    full={"rate": 500, "sockets": 50, "duration_s": 600.0},
    ci={"rate": 25, "sockets": 5, "duration_s": 10.0},
)
LEAD_S = 3.0
GRACE_S = 10.0

options = {
    "scenarios": room_scenarios(rooms=SIZE["sockets"], rate=SIZE["rate"], duration_s=SIZE["duration_s"], lead_s=LEAD_S),
    "thresholds": {
        "message_delivery_latency": ["p(95)<500"],
        "messages_lost": ["count==0"],
        "messages_failed": ["count==0"],
        "subscriber_disconnects": ["count==0"],
        "http_req_failed": ["rate<0.001"],
    },
}
_metrics = (consumer_lag, heartbeats_answered, messages_corrupted, subscriber_disconnects)


def setup() -> dict:
    return setup_rooms("mixed", SIZE["sockets"])


async def reader(vu) -> None:
    await read_room(vu, GRACE_S)


async def writer(vu) -> None:
    await write_room(vu, 200)


async def monitor(vu) -> None:
    await watch_lag(vu, time.time() + LEAD_S + SIZE["duration_s"])
