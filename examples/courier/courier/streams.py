"""Where outbox events go: a Redis Stream with a consumer group, or an in-process queue.

Both keep at-least-once delivery: an event is acknowledged only after the handler
took it; a failed event is retried and, after `max_deliveries` failures, moved to a
dead-letter list. With Redis, entries a dead consumer had read are reclaimed with
XAUTOCLAIM once idle for `claim_idle_ms`, so a consumer kill loses nothing.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from courier import faults
from courier.metrics import Metrics
from courier.settings import Settings

log = logging.getLogger("courier.streams")

Handler = Callable[[dict[str, Any]], Awaitable[None]]
DEAD_LETTER_CAP = 10_000


class StreamDown(Exception):
    """The stream could not take or give events right now."""


class EventStream(Protocol):
    kind: str

    async def publish(self, events: list[tuple[int, dict[str, Any]]]) -> list[int]: ...
    async def consume(self, handle: Handler, stop: asyncio.Event) -> None: ...
    async def ping(self) -> None: ...
    async def depth(self) -> int: ...
    async def lag_seconds(self) -> float: ...
    async def dead_letters(self, limit: int) -> list[dict[str, Any]]: ...
    async def close(self) -> None: ...


def decode(fields: dict[str, str]) -> dict[str, Any]:
    """A stream entry back into an event; anything malformed is a poison message."""
    event = json.loads(fields["event"])
    if not isinstance(event, dict) or not isinstance(event.get("message"), dict):
        raise ValueError("event has no message")
    if not isinstance(event["message"].get("conversation_id"), int):
        raise ValueError("event message has no conversation_id")
    return event


class RedisStream:
    kind = "redis"

    def __init__(self, settings: Settings, metrics: Metrics) -> None:
        assert settings.redis_url is not None
        self.s = settings
        self.metrics = metrics
        self.timeout = settings.redis_timeout_s
        self.block_ms = 1000
        common: dict[str, Any] = {"decode_responses": True, "socket_connect_timeout": self.timeout}
        self.client = aioredis.from_url(settings.redis_url, socket_timeout=self.timeout, **common)
        # XREADGROUP blocks server-side for block_ms; its socket timeout must outlast that.
        self.reader = aioredis.from_url(
            settings.redis_url, socket_timeout=self.timeout + self.block_ms / 1000, **common
        )
        self.claim_every = max(0.05, min(settings.claim_idle_ms / 2000, 5.0))

    async def _call(self, op: str, coro: Awaitable[Any], timeout: float | None = None) -> Any:
        try:
            try:
                await faults.REDIS.acheck()
            except BaseException:
                if inspect.iscoroutine(coro):
                    coro.close()
                raise
            return await asyncio.wait_for(coro, timeout or self.timeout)
        except (RedisError, OSError, TimeoutError) as exc:
            self.metrics.redis_errors.labels(op).inc()
            raise StreamDown(f"{op}: {type(exc).__name__}") from exc

    async def publish(self, events: list[tuple[int, dict[str, Any]]]) -> list[int]:
        pipe = self.client.pipeline(transaction=False)
        for event_id, event in events:
            pipe.xadd(
                self.s.stream,
                {"event_id": str(event_id), "event": json.dumps(event)},
                maxlen=self.s.stream_maxlen,
                approximate=True,
            )
        await self._call("xadd", pipe.execute())
        return [event_id for event_id, _ in events]

    async def ensure_group(self) -> None:
        try:
            await self._call(
                "xgroup",
                self.client.xgroup_create(self.s.stream, self.s.consumer_group, id="0", mkstream=True),
            )
        except StreamDown as exc:
            cause = exc.__cause__
            if isinstance(cause, ResponseError) and "BUSYGROUP" in str(cause):
                return
            raise

    async def consume(self, handle: Handler, stop: asyncio.Event) -> None:
        backoff = 0.1
        group_ready = False
        last_claim = 0.0
        while not stop.is_set():
            try:
                if not group_ready:
                    await self.ensure_group()
                    group_ready = True
                if self.s.reclaim_pending and time.monotonic() - last_claim >= self.claim_every:
                    await self._reclaim(handle)
                    last_claim = time.monotonic()
                block = int(min(self.block_ms, self.claim_every * 1000))
                reply = await self._call(
                    "xreadgroup",
                    self.reader.xreadgroup(
                        self.s.consumer_group,
                        self.s.consumer_name,
                        {self.s.stream: ">"},
                        count=100,
                        block=block,
                    ),
                    timeout=self.timeout + block / 1000,
                )
                for _stream, entries in reply or []:
                    for entry_id, fields in entries:
                        await self._process(entry_id, fields, handle, deliveries=1)
                backoff = 0.1
            except Exception as exc:  # the consumer must outlive any one failed read
                cause = exc.__cause__
                if isinstance(cause, ResponseError) and "NOGROUP" in str(cause):
                    group_ready = False
                if isinstance(exc, StreamDown):
                    log.warning("stream consumer: %s; retrying in %.1fs", exc, backoff)
                else:
                    log.exception("stream consumer: unexpected error; retrying in %.1fs", backoff)
                await _sleep(stop, backoff)
                backoff = min(backoff * 2, 2.0)

    async def _reclaim(self, handle: Handler) -> None:
        start = "0-0"
        while True:
            reply = await self._call(
                "xautoclaim",
                self.client.xautoclaim(
                    self.s.stream,
                    self.s.consumer_group,
                    self.s.consumer_name,
                    min_idle_time=self.s.claim_idle_ms,
                    start_id=start,
                    count=100,
                ),
            )
            next_id, entries = reply[0], reply[1]
            live = [(i, f) for i, f in entries if f]
            if live:
                counts = await self._delivery_counts([i for i, _ in live])
                for entry_id, fields in live:
                    self.metrics.reclaimed.inc()
                    await self._process(entry_id, fields, handle, deliveries=counts.get(entry_id, 1))
            if next_id in ("0-0", start) or not entries:
                return
            start = next_id

    async def _delivery_counts(self, ids: list[str]) -> dict[str, int]:
        rows = await self._call(
            "xpending",
            self.client.xpending_range(
                self.s.stream,
                self.s.consumer_group,
                min=ids[0],
                max=ids[-1],
                count=len(ids) * 2,
                consumername=self.s.consumer_name,
            ),
        )
        return {r["message_id"]: int(r["times_delivered"]) for r in rows}

    async def _process(self, entry_id: str, fields: dict[str, str], handle: Handler, deliveries: int) -> None:
        if deliveries > self.s.max_deliveries:
            await self._dead_letter(entry_id, fields, deliveries, "delivered too often without success")
            return
        try:
            event = decode(fields)
            await handle(event)
        except Exception as exc:  # any failure of one event must not stop the consumer
            self.metrics.delivery_failures.inc()
            log.warning("delivery of %s failed (attempt %d): %r", entry_id, deliveries, exc)
            if deliveries >= self.s.max_deliveries:
                await self._dead_letter(entry_id, fields, deliveries, repr(exc))
            return  # stays pending; XAUTOCLAIM retries it once idle
        await self._call("xack", self.client.xack(self.s.stream, self.s.consumer_group, entry_id))
        self.metrics.delivered.inc()

    async def _dead_letter(self, entry_id: str, fields: dict[str, str], deliveries: int, error: str) -> None:
        record = {
            "id": entry_id,
            "fields": fields,
            "deliveries": deliveries,
            "error": error,
            "at": time.time(),
        }
        pipe = self.client.pipeline(transaction=True)
        pipe.rpush(self.s.dead_letters, json.dumps(record))
        pipe.ltrim(self.s.dead_letters, -DEAD_LETTER_CAP, -1)
        pipe.xack(self.s.stream, self.s.consumer_group, entry_id)
        await self._call("dead_letter", pipe.execute())
        self.metrics.dead_lettered.inc()
        log.error("dead-lettered %s after %d deliveries: %s", entry_id, deliveries, error)

    async def ping(self) -> None:
        await self._call("ping", self.client.ping())

    async def depth(self) -> int:
        """Entries not yet acknowledged: pending (read, unacked) plus lag (not yet read)."""
        try:
            groups = await self._call("xinfo", self.client.xinfo_groups(self.s.stream))
        except StreamDown as exc:
            if isinstance(exc.__cause__, ResponseError):  # no stream yet
                return 0
            raise
        for group in groups:
            if group.get("name") == self.s.consumer_group:
                return int(group.get("pending") or 0) + int(group.get("lag") or 0)
        return 0

    async def lag_seconds(self) -> float:
        """Age of the oldest entry not yet acknowledged: the first pending one, or the first never read."""
        try:
            groups = await self._call("xinfo", self.client.xinfo_groups(self.s.stream))
        except StreamDown as exc:
            if isinstance(exc.__cause__, ResponseError):
                return 0.0
            raise
        group = next((g for g in groups if g.get("name") == self.s.consumer_group), None)
        oldest: list[str] = []
        if group is None:  # no consumer has ever joined: the whole stream waits
            group = {"pending": 0, "last-delivered-id": "0-0"}
        if int(group.get("pending") or 0) > 0:
            summary = await self._call("xpending", self.client.xpending(self.s.stream, self.s.consumer_group))
            if summary.get("min"):
                oldest.append(str(summary["min"]))
        last = str(group.get("last-delivered-id") or "0-0")
        unread = await self._call("xrange", self.client.xrange(self.s.stream, min=f"({last}", count=1))
        if unread:
            oldest.append(str(unread[0][0]))
        if not oldest:
            return 0.0
        seconds, micros = await self._call("time", self.client.time())
        now_ms = seconds * 1000 + micros / 1000
        return max(0.0, max(now_ms - int(entry.split("-", 1)[0]) for entry in oldest) / 1000)

    async def dead_letters(self, limit: int) -> list[dict[str, Any]]:
        rows = await self._call("lrange", self.client.lrange(self.s.dead_letters, -limit, -1))
        return [json.loads(r) for r in rows]

    async def close(self) -> None:
        for client in (self.client, self.reader):
            try:
                await asyncio.wait_for(client.aclose(), self.timeout)
            except (RedisError, OSError, TimeoutError):
                pass


class LocalStream:
    """The in-process stand-in when no Redis is configured: bounded, retried, dead-lettered."""

    kind = "in-process"

    def __init__(self, settings: Settings, metrics: Metrics) -> None:
        self.s = settings
        self.metrics = metrics
        self.queue: asyncio.Queue[tuple[int, int, dict[str, Any]]] = asyncio.Queue(
            settings.inprocess_queue_size
        )
        self.queued_at: dict[int, float] = {}  # event id -> when it was first queued (for the lag)
        self.dead: deque[dict[str, Any]] = deque(maxlen=DEAD_LETTER_CAP)

    async def publish(self, events: list[tuple[int, dict[str, Any]]]) -> list[int]:
        taken = []
        for event_id, event in events:
            try:
                self.queue.put_nowait((1, event_id, event))
            except asyncio.QueueFull:
                break  # the rest stay in the outbox until there is room
            self.queued_at.setdefault(event_id, time.monotonic())
            taken.append(event_id)
        return taken

    async def consume(self, handle: Handler, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                attempt, event_id, event = await asyncio.wait_for(self.queue.get(), 0.5)
            except TimeoutError:
                continue
            try:
                if not isinstance(event.get("message"), dict):
                    raise ValueError("event has no message")
                await handle(event)
            except Exception as exc:  # one bad event must not stop the consumer
                self.metrics.delivery_failures.inc()
                if attempt >= self.s.max_deliveries:
                    self.dead.append(
                        {"id": str(event_id), "event": event, "deliveries": attempt, "error": repr(exc)}
                    )
                    self.metrics.dead_lettered.inc()
                else:
                    asyncio.get_running_loop().call_later(
                        0.1 * attempt, self._retry, attempt + 1, event_id, event
                    )
                    continue
                self.queued_at.pop(event_id, None)
                continue
            self.queued_at.pop(event_id, None)
            self.metrics.delivered.inc()

    def _retry(self, attempt: int, event_id: int, event: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait((attempt, event_id, event))
        except asyncio.QueueFull:
            self.dead.append(
                {"id": str(event_id), "event": event, "deliveries": attempt, "error": "queue full"}
            )
            self.queued_at.pop(event_id, None)
            self.metrics.dead_lettered.inc()

    async def ping(self) -> None:
        return None

    async def depth(self) -> int:
        return self.queue.qsize()

    async def lag_seconds(self) -> float:
        if not self.queued_at:
            return 0.0
        return max(0.0, time.monotonic() - min(self.queued_at.values()))

    async def dead_letters(self, limit: int) -> list[dict[str, Any]]:
        return list(self.dead)[-limit:]

    async def close(self) -> None:
        return None


def make_stream(settings: Settings, metrics: Metrics) -> EventStream:
    return RedisStream(settings, metrics) if settings.uses_redis else LocalStream(settings, metrics)


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        pass
