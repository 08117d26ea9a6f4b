"""Large payloads: 64 KiB messages at 100/s; no corruption, no rejects.

Every body is exactly 65,536 bytes (courier's limit: one byte more is a 413), carries the
ledger's token and filler derived from it, and is checked byte for byte on arrival.
Thresholds: messages_corrupted == 0, no failed send (no 413, no 5xx), zero loss, errors < 0.1%.

    assay load run examples/courier/suite/large_payloads.py -e COURIER_URL=http://127.0.0.1:8080   # 10 min
    assay load run examples/courier/suite/large_payloads.py -e COURIER_URL=... -e PROFILE=ci
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

MESSAGE_BYTES = 64 * 1024
SIZE = size(
    full={"rate": 100, "rooms": 20, "duration_s": 600.0},
    ci={"rate": 10, "rooms": 3, "duration_s": 10.0},
)

TRAFFIC = RoomTraffic(
    "large", rooms=SIZE["rooms"], rate=SIZE["rate"], duration_s=SIZE["duration_s"], message_bytes=MESSAGE_BYTES, grace_s=15.0
)
options = TRAFFIC.options(
    {
        "messages_corrupted": ["count==0"],
        "messages_failed": ["count==0"],
        "messages_lost": ["count==0"],
        "http_req_failed": ["rate<0.001"],
        "checks": ["rate==1"],
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
