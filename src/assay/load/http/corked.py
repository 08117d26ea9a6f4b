"""Requests written in one burst once the event loop has run its current batch of callbacks.

A request sent from a response callback (a k6 JS VU's next `http.get`, assay.load.js.vu_loop)
would otherwise be written at once, between the reads of the other responses in the same batch:
the server then wakes for each request alone, and the client's next poll finds one response at
a time. Queued and written after the batch (as a Python scenario's requests are, from the Task
steps that run after the I/O callbacks), the server finds many requests per wake-up and the
client many responses per poll: 20-25 % less CPU per request for a 50-VU JS scenario
(benchmarks/load/README.md, k6 JavaScript scenario). The request's `sending` time runs until
its write, so the wait in the queue is measured, not hidden.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from typing import Any

from assay.load.http.connection import Connection

_perf = time.perf_counter


class CorkedWrites:
    """The requests waiting for the end of the event loop's current batch of callbacks."""

    __slots__ = ("loop", "queue", "__weakref__")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: list[tuple[Connection, bytes, Any]] = []

    def send(self, conn: Connection, data: bytes, owner: Any) -> None:
        """Write `data` on `conn` after this batch; then `owner.t_sent` is the time of the write
        (if `owner.conn` is still `conn`: a request that failed meanwhile was finished elsewhere)."""
        queue = self.queue
        queue.append((conn, data, owner))
        if len(queue) == 1:
            self.loop.call_soon(self.flush)

    def flush(self) -> None:
        queue = self.queue
        self.queue = []
        perf = _perf
        for conn, data, owner in queue:
            if conn.closed:
                continue  # its waiter has failed already (connection_lost)
            conn.send(data)
            if owner.conn is conn:
                owner.t_sent = perf()


_BY_LOOP: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, CorkedWrites] = weakref.WeakKeyDictionary()


def corked_writes(loop: asyncio.AbstractEventLoop) -> CorkedWrites:
    """The event loop's queue of corked writes (one per loop)."""
    corked = _BY_LOOP.get(loop)
    if corked is None:
        corked = _BY_LOOP[loop] = CorkedWrites(loop)
    return corked
