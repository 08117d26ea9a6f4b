"""Message throughput soak: 500 msg/s of 1 KiB for 30 minutes into 50 conversations, each read live.

The plan's thresholds: send p95 < 100 ms, errors < 0.1%, zero loss (the delivery ledger),
no corrupted body, consumer lag < 5 s (courier_consumer_lag_seconds, read once a second),
and courier's memory stable (run with `--sample courier=PID`: its leak verdict gates).

    assay load run examples/courier/suite/soak.py -e COURIER_URL=http://127.0.0.1:8080 --sample courier=$PID
    assay load run examples/courier/suite/soak.py -e COURIER_URL=... -e PROFILE=ci       # 25 msg/s, 10 s

Sizes: see courier_kit.size (PROFILE=ci, SCALE=0.05, DURATION=5m).
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

SIZE = size(
    full={"rate": 500, "rooms": 50, "duration_s": 1800.0, "message_bytes": 1024},
    ci={"rate": 25, "rooms": 5, "duration_s": 10.0, "message_bytes": 1024},
)

TRAFFIC = RoomTraffic(
    "soak", rooms=SIZE["rooms"], rate=SIZE["rate"], duration_s=SIZE["duration_s"], message_bytes=SIZE["message_bytes"], grace_s=10.0
)
options = TRAFFIC.options(
    {
        "http_req_duration{name:send}": ["p(95)<100"],
        "http_req_failed": ["rate<0.001"],
        "messages_lost": ["count==0"],
        "messages_corrupted": ["count==0"],
        "courier_consumer_lag_s": ["max<5"],
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
