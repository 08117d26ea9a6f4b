"""WebSocket and long-poll subscribers per conversation; the consumer pushes into it."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

from courier.metrics import Metrics

# A subscriber that falls this far behind is cut off and told to resume with ?after=.
SUBSCRIBER_BUFFER = 1000
BEHIND: dict[str, Any] = {"type": "behind"}


class Hub:
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self._subs: dict[int, set[asyncio.Queue[dict[str, Any]]]] = defaultdict(set)

    def subscribe(self, cid: int, *, counted: bool = True) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(SUBSCRIBER_BUFFER)
        self._subs[cid].add(queue)
        if counted:
            self.metrics.subscribers.inc()
        return queue

    def unsubscribe(self, cid: int, queue: asyncio.Queue[dict[str, Any]], *, counted: bool = True) -> None:
        subs = self._subs.get(cid)
        if subs is not None and queue in subs:
            subs.discard(queue)
            if not subs:
                del self._subs[cid]
            if counted:
                self.metrics.subscribers.dec()

    def publish(self, cid: int, event: dict[str, Any]) -> int:
        """Hand the event to every subscriber of the conversation; returns how many got it."""
        handed = 0
        for queue in list(self._subs.get(cid, ())):
            try:
                queue.put_nowait(event)
                handed += 1
            except asyncio.QueueFull:
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait(BEHIND)
        return handed

    def count(self) -> int:
        return sum(len(s) for s in self._subs.values())
