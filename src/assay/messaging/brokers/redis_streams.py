"""Redis Streams: XADD to publish, a consumer group (XREADGROUP, XACK), pending entries reclaimed.

A consumer that dies leaves its unacknowledged entries in the group's pending list; the
others take them over with XAUTOCLAIM once idle `reclaim_idle` seconds, which is how a
Redis Streams service recovers from a crashed worker (and what the ledger checks: nothing
lost, the redelivered ones counted as duplicates when the dead consumer had recorded them).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from assay.messaging.brokers.base import BrokerError, Consumer, Deliver, Transport

__all__ = ["RedisStreams"]


class _StreamConsumer(Consumer):
    def __init__(self, transport: RedisStreams, name: str, deliver: Deliver) -> None:
        super().__init__(name, deliver)
        self.t = transport
        self.conn: Any = aioredis.from_url(transport.url)

    async def _handle(self, entries: list[Any]) -> None:
        """Record each entry (with its processing time), then XACK the batch."""
        if not entries:
            return
        ids = []
        delay = self.t.options.ack_delay
        self.taken = len(entries)
        for entry_id, fields in entries:
            ids.append(entry_id)
            if fields is None:  # trimmed away while pending
                continue
            token = fields.get(b"ledger")
            if token is not None:
                self.deliver(token, self.name)
                self.received += 1
                self.holding += 1
                if delay:
                    await asyncio.sleep(delay)
        self.holding = self.taken = 0
        await self.conn.xack(self.t.stream, self.t.group, *ids)

    async def _reclaim(self) -> None:
        start = "0-0"
        idle_ms = int(self.t.options.reclaim_idle * 1000)
        while True:
            res = await self.conn.xautoclaim(self.t.stream, self.t.group, self.name, idle_ms, start, count=self.t.options.prefetch)
            start, entries = res[0], res[1]
            await self._handle(entries)
            if start in (b"0-0", "0-0") or not entries:
                return

    async def run(self) -> None:
        t = self.t
        last_claim = 0.0
        self.subscribed.set()  # the group exists since open(): entries wait for us
        try:
            while True:
                now = time.monotonic()
                if t.options.reclaim_idle > 0 and now - last_claim >= max(0.2, t.options.reclaim_idle / 2):
                    last_claim = now
                    await self._reclaim()
                res = await self.conn.xreadgroup(t.group, self.name, {t.stream: ">"}, count=t.options.prefetch, block=200)
                for _stream, entries in res or ():
                    await self._handle(entries)
        except RedisError as exc:
            raise BrokerError(f"Redis consumer {self.name}: {exc}") from None

    async def close(self) -> None:
        await self.conn.aclose()


class RedisStreams(Transport):
    scheme = "redis"

    def describe(self) -> str:
        return f"Redis stream {self.stream!r}, group {self.group!r}"

    @property
    def stream(self) -> str:
        return self.options.name

    @property
    def group(self) -> str:
        return self.options.group

    async def open(self) -> None:
        if self.fanout:
            raise BrokerError("Redis Streams consumers share one group here; --fanout is not supported")
        self.conn: Any = aioredis.from_url(self.url)
        try:
            await self.conn.xgroup_create(self.stream, self.group, id="$", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise BrokerError(f"Redis: cannot create group {self.group!r} on {self.stream!r}: {exc}") from None
        except (RedisError, OSError) as exc:
            raise BrokerError(f"Redis at {self.url}: {exc}") from None

    async def publish(self, key: str, token: str, body: bytes) -> None:
        try:
            await self.conn.xadd(self.stream, {"ledger": token, "key": key, "body": body})
        except (RedisError, OSError) as exc:
            raise BrokerError(f"Redis XADD to {self.stream!r}: {exc}") from None

    def consumer(self, index: int, deliver: Deliver) -> Consumer:
        return _StreamConsumer(self, f"c{index}-{time.monotonic_ns() % 1_000_000}", deliver)

    async def close(self) -> None:
        try:
            if self.options.remove:
                await self.conn.delete(self.stream)
        finally:
            await self.conn.aclose()
