"""Migration under load: courier's second Alembic migration (a column and an index) runs at 200 req/s.

Courier starts at revision 0001 (`migrate_target: "0001"`); a third of the way in, the
`migrator` runs COURIER_MIGRATE_CMD (e.g. `python -m courier migrate --db postgresql://...`),
which adds messages.edited_at and builds ix_messages_sender_created (CONCURRENTLY on
PostgreSQL) while the traffic (half message sends, half message reads) goes on.

Every request is tagged `phase`: `before` the migration, `migration` (from its start for
MIGRATION_WINDOW_S), `after`. The plan's thresholds: failed requests < 1% during the
migration, p95 during it < 2x the p95 before it (`migration_p95_ratio`, judged by this
worker's samples at the end), downtime 0 (`downtime_seconds`: seconds of the load without
one successful request), the migration itself succeeded (a check), zero message loss.

    assay load run examples/courier/suite/migration_under_load.py -e COURIER_URL=http://127.0.0.1:8080 \\
        -e COURIER_MIGRATE_CMD="python -m courier migrate --db postgresql://postgres@127.0.0.1/courier"
"""

from __future__ import annotations

import asyncio
import os
import shlex
import time

import numpy as np
from courier_kit import (  # the metrics are imported by name: the loader finds module-level metrics
    BASE,
    auth,
    heartbeats_answered,
    messages_corrupted,
    read_room,
    seconds,
    send,
    setup_rooms,
    size,
    subscriber_disconnects,
)

from assay.load.custom_metrics import Counter, Trend

SIZE = size(
    full={"rate": 200, "rooms": 20, "duration_s": 300.0, "migration_window_s": 60.0},
    ci={"rate": 40, "rooms": 3, "duration_s": 12.0, "migration_window_s": 4.0},
)
LEAD_S = 3.0
MIGRATE_AT_S = SIZE["duration_s"] / 3
GRACE_S = 10.0

migration_duration = Trend("migration_duration", contains="time")
migration_p95_ratio = Trend("migration_p95_ratio")
downtime_seconds = Counter("downtime_seconds")

options = {
    "scenarios": {
        "readers": {
            "executor": "per-vu-iterations",
            "vus": SIZE["rooms"],
            "iterations": 1,
            "maxDuration": seconds(LEAD_S),
            "exec": "reader",
        },
        "traffic": {
            "executor": "constant-arrival-rate",
            "rate": SIZE["rate"],
            "timeUnit": "1s",
            "duration": seconds(SIZE["duration_s"]),
            "startTime": seconds(LEAD_S),
            "preAllocatedVUs": max(2, int(SIZE["rate"] // 20)),
            "maxVUs": max(10, int(SIZE["rate"])),
            "exec": "traffic",
        },
        "migrator": {
            "executor": "per-vu-iterations",
            "vus": 1,
            "iterations": 1,
            "startTime": seconds(LEAD_S + MIGRATE_AT_S),
            "maxDuration": seconds(SIZE["duration_s"]),
            "exec": "migrator",
        },
        "judge": {
            "executor": "per-vu-iterations",
            "vus": 1,
            "iterations": 1,
            "startTime": seconds(LEAD_S + SIZE["duration_s"] + 1),
            "maxDuration": "10s",
            "exec": "judge",
        },
    },
    "thresholds": {
        "http_req_failed{phase:migration}": ["rate<0.01"],
        "migration_p95_ratio": ["max<2"],
        "downtime_seconds": ["count==0"],
        "messages_lost": ["count==0"],
        "checks{check:migration succeeded}": ["rate==1"],
    },
}
_metrics = (heartbeats_answered, messages_corrupted, subscriber_disconnects)

# This worker's own view of the traffic, for the judge: durations per phase, successes per second.
_durations: dict[str, list[float]] = {"before": [], "migration": [], "after": []}
_ok_seconds: set[int] = set()
_started: list[float] = []


def setup() -> dict:
    if not os.environ.get("COURIER_MIGRATE_CMD"):
        raise RuntimeError("set COURIER_MIGRATE_CMD to the command that migrates courier's database")
    return setup_rooms("migrate", SIZE["rooms"])


def phase(elapsed: float) -> str:
    if elapsed < MIGRATE_AT_S:
        return "before"
    return "migration" if elapsed < MIGRATE_AT_S + SIZE["migration_window_s"] else "after"


async def reader(vu) -> None:
    await read_room(vu, GRACE_S)


async def traffic(vu) -> None:
    if not _started:
        _started.append(time.time() - 0.0)
    elapsed = time.time() - _started[0]
    now_phase = phase(elapsed)
    rooms = vu.data["rooms"]
    room = rooms[(vu.id_in_scenario * 7 + vu.iteration) % len(rooms)]
    token = room["writer_token"]
    if vu.iteration % 2 == 0:
        res = await send(vu, room["cid"], token, f"room-{room['cid']}", 256, tags={"phase": now_phase})
    else:
        res = await vu.http.get(
            f"{BASE}/conversations/{room['cid']}/messages?limit=20",
            headers=auth(token),
            tags={"name": "read", "kind": "read", "phase": now_phase},
        )
    if res.status in (200, 201):
        _durations[now_phase].append(res.timings.duration)
        _ok_seconds.add(int(elapsed))


async def migrator(vu) -> None:
    start = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        *shlex.split(os.environ["COURIER_MIGRATE_CMD"]),
        env={k: v for k, v in os.environ.items() if not k.startswith("COURIER_")},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await proc.communicate()
    migration_duration.add((time.perf_counter() - start) * 1000)
    ok = vu.check(proc.returncode, {"migration succeeded": lambda rc: rc == 0})
    if not ok:
        print(f"migration failed (exit {proc.returncode}): {output.decode(errors='replace')[-2000:]}")


async def judge(vu) -> None:
    """p95 during the migration against p95 before it; seconds of the load without a success."""
    before, during = _durations["before"], _durations["migration"]
    if before and during:
        migration_p95_ratio.add(float(np.percentile(during, 95) / max(np.percentile(before, 95), 1e-3)))
    if _started:
        covered = range(0, int(SIZE["duration_s"]))
        downtime_seconds.add(sum(1 for second in covered if second not in _ok_seconds))
