"""The outbox relay: rows committed with their messages go to the stream, then are marked published.

If the stream is down the rows simply stay in the outbox and go out after recovery;
a crash between publish and mark means a duplicate, never a loss (consumers dedupe by id).
"""

from __future__ import annotations

import asyncio
import logging

from courier import store
from courier.db import Database
from courier.errors import DbUnavailable
from courier.metrics import Metrics
from courier.settings import Settings
from courier.streams import EventStream, StreamDown

log = logging.getLogger("courier.relay")


class Relay:
    def __init__(self, settings: Settings, db: Database, stream: EventStream, metrics: Metrics) -> None:
        self.s = settings
        self.db = db
        self.stream = stream
        self.metrics = metrics
        self.wake = asyncio.Event()

    def nudge(self) -> None:
        self.wake.set()

    async def round(self) -> int:
        """Publish one batch; returns how many rows went out."""
        depth = await self.db.run(store.count_unpublished)
        self.metrics.queue_depth.labels("outbox").set(depth)
        if not depth:
            return 0
        batch = await self.db.run(lambda c: store.unpublished(c, self.s.relay_batch))
        sent: list[int] = []
        if batch:
            sent = await self.stream.publish(batch)
            if sent:
                await self.db.run(lambda c: store.mark_published(c, sent), write=True)
                self.metrics.published.inc(len(sent))
                self.metrics.queue_depth.labels("outbox").set(max(0, depth - len(sent)))
        return len(sent) if len(sent) == len(batch) else 0

    async def run(self, stop: asyncio.Event) -> None:
        backoff = 0.1
        while not stop.is_set():
            try:
                self.wake.clear()
                full = await self.round() >= self.s.relay_batch
                backoff = 0.1
                if full:
                    continue
                try:
                    await asyncio.wait_for(self.wake.wait(), self.s.relay_interval_s)
                except TimeoutError:
                    pass
            except Exception as exc:  # the relay must outlive any one failed round
                if isinstance(exc, (DbUnavailable, StreamDown)):
                    log.warning("outbox relay: %s; retrying in %.1fs", exc, backoff)
                else:
                    log.exception("outbox relay: unexpected error; retrying in %.1fs", backoff)
                try:
                    await asyncio.wait_for(stop.wait(), backoff)
                except TimeoutError:
                    pass
                backoff = min(backoff * 2, 2.0)
