"""A cache of who takes part in each conversation, kept coherent across instances over Redis Pub/Sub.

Sending a message, reading messages and subscribing all ask "is this user a participant?";
at 500 sends per second that is the hottest query. Entries live at most
`participant_cache_ttl_s`; a change of membership (add, remove, delete) drops the entry
here at once and, through the bus, on every other instance. A per-conversation generation
counter keeps a slow read that raced an invalidation from storing a stale list.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from courier.bus import Bus, RedisDown
from courier.errors import forbidden
from courier.metrics import Metrics
from courier.settings import Settings

CHANNEL = "participants"
Loader = Callable[[int], Awaitable[frozenset[str]]]


class ParticipantCache:
    def __init__(self, settings: Settings, metrics: Metrics, bus: Bus) -> None:
        self.size = settings.participant_cache_size
        self.ttl = settings.participant_cache_ttl_s
        self.metrics = metrics
        self.bus = bus
        self.entries: OrderedDict[int, tuple[frozenset[str], float]] = OrderedDict()
        self.generation: dict[int, int] = {}
        bus.on(CHANNEL, self._on_message)
        bus.on_reconnect.append(self.clear)

    async def require(self, cid: int, user: str, load: Loader) -> None:
        """Raise 403 unless `user` takes part in `cid`; `load` reads the members (and raises 404)."""
        members = await self.members(cid, load)
        if user not in members:
            raise forbidden()

    async def members(self, cid: int, load: Loader) -> frozenset[str]:
        if self.size <= 0:
            return await load(cid)
        now = time.monotonic()
        entry = self.entries.get(cid)
        if entry is not None and entry[1] > now:
            self.metrics.cache_hits.inc()
            self.entries.move_to_end(cid)
            return entry[0]
        self.metrics.cache_misses.inc()
        generation = self.generation.get(cid, 0)
        members = await load(cid)
        if self.generation.get(cid, 0) == generation:
            self.entries[cid] = (members, time.monotonic() + self.ttl)
            self.entries.move_to_end(cid)
            while len(self.entries) > self.size:
                old, _ = self.entries.popitem(last=False)
                self.generation.pop(old, None)
            self.metrics.cache_entries.set(len(self.entries))
        return members

    def drop(self, cid: int, source: str) -> None:
        self.generation[cid] = self.generation.get(cid, 0) + 1
        if self.entries.pop(cid, None) is not None:
            self.metrics.cache_invalidations.labels(source).inc()
            self.metrics.cache_entries.set(len(self.entries))

    async def invalidate(self, cid: int) -> None:
        """Membership of `cid` changed: forget it here now, and tell the other instances."""
        self.drop(cid, "local")
        try:
            await self.bus.publish(CHANNEL, {"cid": cid})
        except RedisDown:
            pass  # the others fall back on the TTL, and on a full clear when their listener reconnects

    async def _on_message(self, payload: dict[str, Any]) -> None:
        cid = payload.get("cid")
        if isinstance(cid, int):
            self.drop(cid, "pubsub")

    def clear(self) -> None:
        for cid in list(self.entries):
            self.drop(cid, "reconnect")
