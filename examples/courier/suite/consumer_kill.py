"""Consumer killed mid-burst and restarted: 10,000 messages at 500/s, zero loss through pending-entry reclaim.

Two courier processes share the database and the Redis Stream: the API (subscribers,
outbox relay; `consume: false`) and a worker (the stream consumer; `relay: false`), both
with `fanout: redis` so what the worker consumes reaches the API's sockets over Pub/Sub.
Mid-burst the `killer` stops the worker at a moment it holds entries it read and neither
fanned out nor acknowledged (SIGSTOP; its pending entries against the ids seen on the
fan-out channel; SIGKILL, or SIGCONT and retry),
then restarts it under a new consumer name. Those entries belong to a dead consumer: only
XAUTOCLAIM (courier's pending-entry reclaim) gets them delivered. Run the worker with
`reclaim_pending: false` and this scenario finds the loss (messages_lost > 0).

Thresholds: messages_lost == 0 and no failed send (delivered == sent, eventually: the
ledger's grace outlasts the reclaim), the worker recovered (consumer_recovered) within
30 s (consumer_recovery_time: kill to the restarted worker caught up, consumer lag back
under 1 s with nothing pending on the dead consumer).

Environment (besides COURIER_URL, the API):
  COURIER_WORKER_URL      the worker's base URL (its /health/ready and /metrics)
  COURIER_WORKER_PIDFILE  a file holding the worker's pid (the killer rewrites it on restart)
  COURIER_WORKER_CMD      the command that starts a worker, e.g. `python -m courier --config worker.yaml`
  COURIER_REDIS_URL, COURIER_STREAM, COURIER_GROUP, COURIER_REDIS_PREFIX   the worker's stream and channels
  COURIER_WORKER_LOG      where the restarted worker logs (default: beside the pid file)

    assay load run examples/courier/suite/consumer_kill.py -e COURIER_URL=... -e COURIER_WORKER_URL=... \\
        -e COURIER_WORKER_PIDFILE=worker.pid -e COURIER_WORKER_CMD="python -m courier --config worker.yaml" \\
        -e COURIER_REDIS_URL=redis://127.0.0.1:6379/0
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import signal
import subprocess
import time
from pathlib import Path

from courier_kit import (  # the metrics are imported by name: the loader finds module-level metrics
    consumer_lag,
    heartbeats_answered,
    messages_corrupted,
    read_metric,
    read_room,
    room_scenarios,
    seconds,
    setup_rooms,
    size,
    subscriber_disconnects,
    write_room,
)

from assay.load.custom_metrics import Counter, Rate, Trend

SIZE = size(
    full={"rate": 500, "rooms": 20, "duration_s": 20.0, "kill_at_s": 8.0, "recovery_limit_s": 60.0, "grace_s": 45.0},
    ci={"rate": 50, "rooms": 4, "duration_s": 8.0, "kill_at_s": 3.0, "recovery_limit_s": 20.0, "grace_s": 20.0},
)
LEAD_S = 3.0
GRACE_S = SIZE["grace_s"]  # longer than the worker's reclaim idle time plus a restart

consumer_recovery_time = Trend("consumer_recovery_time", contains="time")
consumer_recovered = Rate("consumer_recovered")
"""1 when the restarted worker caught up within recovery_limit_s, 0 when it never did."""
entries_orphaned = Counter("consumer_entries_orphaned")
"""Entries the killed worker had read and neither fanned out nor acknowledged: only reclaim delivers them."""

scenarios = room_scenarios(rooms=SIZE["rooms"], rate=SIZE["rate"], duration_s=SIZE["duration_s"], lead_s=LEAD_S)
del scenarios["monitor"]
scenarios["killer"] = {
    "executor": "per-vu-iterations",
    "vus": 1,
    "iterations": 1,
    "startTime": seconds(LEAD_S + SIZE["kill_at_s"]),
    "maxDuration": seconds(SIZE["recovery_limit_s"] + 30),
    "exec": "killer",
}
options = {
    "scenarios": scenarios,
    "thresholds": {
        "messages_lost": ["count==0"],
        "messages_failed": ["count==0"],
        "consumer_recovery_time": ["max<30000"],
        "consumer_recovered": ["rate==1"],
        "consumer_entries_orphaned": ["count>0"],  # the kill really left entries to reclaim
    },
}
_metrics = (consumer_lag, heartbeats_answered, messages_corrupted, subscriber_disconnects)


def setup() -> dict:
    return setup_rooms("kill", SIZE["rooms"])


async def reader(vu) -> None:
    await read_room(vu, GRACE_S)


async def writer(vu) -> None:
    await write_room(vu, 512)


async def _orphans(client, stream: str, group: str, consumer_pid: int, published: set[int]) -> int:
    """Entries the (stopped) consumer of process `consumer_pid` read and neither fanned out nor acknowledged."""
    consumers = await client.xinfo_consumers(stream, group)
    names = [str(c["name"]) for c in consumers if str(c["name"]).endswith(f"-{consumer_pid}") and int(c["pending"]) > 0]
    orphans = 0
    for name in names:
        for row in await client.xpending_range(stream, group, min="-", max="+", count=1000, consumername=name):
            for _, fields in await client.xrange(stream, min=row["message_id"], max=row["message_id"]):
                if json.loads(fields["event"])["message"]["id"] not in published:
                    orphans += 1
    return orphans


async def _pending_of(client, stream: str, group: str, consumer_pid: int) -> int:
    """Entries the consumer of process `consumer_pid` holds unacknowledged (courier names it host-<pid>)."""
    consumers = await client.xinfo_consumers(stream, group)
    return sum(int(c["pending"]) for c in consumers if str(c["name"]).endswith(f"-{consumer_pid}"))


async def _watch_published(client, channel: str, published: set[int]) -> None:
    """Every message id the worker fans out (an entry it published before dying is delivered, not orphaned)."""
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(channel)
    try:
        while True:
            message = await pubsub.get_message(timeout=1.0)
            if message and message.get("type") == "message":
                published.add(json.loads(message["data"])["message"]["id"])
    finally:
        await pubsub.aclose()


async def killer(vu) -> None:
    import redis.asyncio as aioredis

    env = vu.env
    pidfile = Path(env["COURIER_WORKER_PIDFILE"])
    pid = int(pidfile.read_text().strip())
    client = aioredis.from_url(env.get("COURIER_REDIS_URL", "redis://127.0.0.1:6379/0"), decode_responses=True)
    stream, group = env.get("COURIER_STREAM", "courier:messages"), env.get("COURIER_GROUP", "courier")
    channel = f"{env.get('COURIER_REDIS_PREFIX', 'courier')}:events"
    published: set[int] = set()
    watcher = asyncio.create_task(_watch_published(client, channel, published))
    orphaned = 0
    try:
        await asyncio.sleep(0.5)  # the watcher is subscribed
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            os.kill(pid, signal.SIGSTOP)
            await asyncio.sleep(0.05)  # what the worker published before it stopped has reached the watcher
            orphaned = await _orphans(client, stream, group, pid, published)
            if orphaned:
                break
            os.kill(pid, signal.SIGCONT)
            await asyncio.sleep(0.01)
        os.kill(pid, signal.SIGKILL)  # holding orphans (or, never caught so, anyway)
        killed_at = time.monotonic()
        entries_orphaned.add(orphaned)
        _reap(pid)
        await vu.sleep(1.0)  # down for a moment, as a crashed pod is
        log = Path(env.get("COURIER_WORKER_LOG") or pidfile.with_suffix(".log"))
        clean_env = {k: v for k, v in os.environ.items() if not k.startswith("COURIER_")}
        with log.open("ab") as out:
            proc = subprocess.Popen(
                shlex.split(env["COURIER_WORKER_CMD"]),
                env=clean_env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        pidfile.write_text(f"{proc.pid}\n")
        recovered, at = await _caught_up(vu, env["COURIER_WORKER_URL"].rstrip("/"), client, stream, group, pid, killed_at)
        consumer_recovered.add(recovered)
        consumer_recovery_time.add((at - killed_at) * 1000)
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
        await client.aclose()


def _reap(pid: int) -> None:
    """Collect the killed worker if this process started it (a restarted one is our child)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


async def _caught_up(vu, worker: str, client, stream: str, group: str, dead_pid: int, since: float) -> tuple[bool, float]:
    """Whether (and when) the restarted worker caught up: the dead consumer holds nothing, the lag is under 1 s."""
    limit = since + SIZE["recovery_limit_s"]
    while time.monotonic() < limit:
        res = await vu.http.get(f"{worker}/metrics", tags={"name": "metrics", "kind": "monitor"})
        if res.status == 200:
            lag = read_metric(res.body.decode("utf-8", "replace"), "courier_consumer_lag_seconds")
            if lag is not None and lag < 1.0 and await _pending_of(client, stream, group, dead_pid) == 0:
                return True, time.monotonic()
        await vu.sleep(0.5)
    return False, time.monotonic()
