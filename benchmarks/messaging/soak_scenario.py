"""The soak that bench_soak.py runs: N rooms with one WebSocket reader each, writers POSTing at a rate.

The shape of the messaging plan's throughput soak (examples/courier/suite/soak.py): every
message is ledgered, goes to one room and is pushed to that room's reader, so 500 msg/s over
50 rooms is 500 receipts/s across 50 sockets. The target is the fan-out service of
tests/messaging/faulty_fanout.py in mode `none` (BASE). Sizes come from the environment:
RATE (msg/s), ROOMS (receivers), DURATION_S, MESSAGE_BYTES, GRACE_S.
"""

from __future__ import annotations

import os

from assay.load.ledgered import ledgered_request, subscribe_ws

RATE = float(os.environ.get("RATE", "500"))
ROOMS = int(os.environ.get("ROOMS", "50"))
DURATION_S = float(os.environ.get("DURATION_S", "1800"))
MESSAGE_BYTES = int(os.environ.get("MESSAGE_BYTES", "1024"))
GRACE_S = float(os.environ.get("GRACE_S", "10"))
LEAD_S = 3.0
FILLER = "x" * MESSAGE_BYTES

options = {
    "scenarios": {
        "readers": {
            "executor": "per-vu-iterations",
            "vus": ROOMS,
            "iterations": 1,
            "maxDuration": f"{LEAD_S + DURATION_S:.3f}s",
            "exec": "reader",
        },
        "writers": {
            "executor": "constant-arrival-rate",
            "rate": RATE,
            "timeUnit": "1s",
            "duration": f"{DURATION_S:.3f}s",
            "startTime": f"{LEAD_S:.3f}s",
            "preAllocatedVUs": 50,
            "maxVUs": 400,
            "exec": "writer",
        },
    },
    "thresholds": {"messages_lost": ["count==0"], "messages_duplicated": ["count==0"]},
}


def _base(vu) -> str:
    return vu.env.get("BASE") or os.environ["BASE"]


async def reader(vu) -> None:
    """Reader i holds room i's socket through the run and the grace period."""
    vu.ledger.grace = max(vu.ledger.grace, GRACE_S)
    room = (vu.id_in_scenario - 1) % ROOMS
    url = _base(vu).replace("http", "ws", 1) + f"/ws?user=r{room}"
    await subscribe_ws(vu, url, receiver=f"r{room}", keys=[f"room-{room}"])


async def writer(vu) -> None:
    """One 1 KiB message to a room, the rooms taken in turn."""
    room = (vu.id_in_scenario * 7 + vu.iteration) % ROOMS
    res, _ = await ledgered_request(
        vu,
        "POST",
        _base(vu) + "/send",
        f"room-{room}",
        json={"from": f"w{room}", "to": [f"r{room}"], "text": FILLER},
        tags={"name": "send"},
    )
    vu.check(res, {"send: status is 201": lambda r: r.status == 201})
