"""WebSocket + HTTP mixed: 50 persistent sockets, 500 POST/s, 95% delivered within 500 ms.

The plan's thresholds: delivery p95 < 500 ms (the ledger's send-to-receipt latency),
zero subscriber disconnects, delivered == sent (messages_lost == 0 and no failed send),
errors < 0.1%. Sockets answer courier's heartbeat pings throughout.

    assay load run examples/courier/suite/ws_http_mixed.py -e COURIER_URL=http://127.0.0.1:8080   # 10 min
    assay load run examples/courier/suite/ws_http_mixed.py -e COURIER_URL=... -e PROFILE=ci
"""

from __future__ import annotations

from courier_kit import (  # the metrics are imported by name: the loader finds module-level metrics
    RoomTraffic,
    consumer_lag,
    heartbeats_answered,
    messages_corrupted,
    size,
    subscriber_disconnects,
)

# the acceptance scenario this file covers (examples/courier/spec.md; assay trace matrix)
scenario = ["US4-AS1"]

SIZE = size(
    full={"rate": 500, "sockets": 50, "duration_s": 600.0},
    ci={"rate": 25, "sockets": 5, "duration_s": 10.0},
)

TRAFFIC = RoomTraffic(
    "mixed", rooms=SIZE["sockets"], rate=SIZE["rate"], duration_s=SIZE["duration_s"], message_bytes=200, grace_s=10.0
)
options = TRAFFIC.options(
    {
        "message_delivery_latency": ["p(95)<500"],
        "messages_lost": ["count==0"],
        "messages_failed": ["count==0"],
        "subscriber_disconnects": ["count==0"],
        "http_req_failed": ["rate<0.001"],
    }
)
_metrics = (consumer_lag, heartbeats_answered, messages_corrupted, subscriber_disconnects)
setup = TRAFFIC.setup


async def reader(vu) -> None:
    await TRAFFIC.read(vu)


async def writer(vu) -> None:
    await TRAFFIC.write(vu)


async def monitor(vu) -> None:
    await TRAFFIC.watch(vu)
