"""One direction of one proxied connection: source socket -> toxic chain -> destination.

With no toxics the link is a straight pipe (`fast`): each read is written to the
destination at once, with the source paused while the destination's buffer is full.
A straight pipe carrying a bulk stream switches to kernel forwarding (splice.py) until
a toxic is added.
With toxics, reads become chunks in a chain of stubs (see toxics/base.py) drained by a
sink task. Toxics are spliced into live links the way Toxiproxy does it: add appends a
stub, update interrupts and restarts one stub (its state kept), remove interrupts one
stub and hands its queued chunks to the next stage, so no byte is lost or reordered.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from assay.faults import splice
from assay.faults.toxics.base import CLOSE, DATA, EOF, RESET, Chunk, ChunkQueue, Stub, Toxic

if TYPE_CHECKING:
    from assay.faults.connection import Connection

CHUNK = 32 * 1024  # Toxiproxy's io.Copy buffer: toxics see chunks of at most this size
HIGH_WATER = 4 * 1024 * 1024  # bytes in the chain before the source is paused
LOW_WATER = 1024 * 1024


class _SinkQueue(ChunkQueue):
    """The chain's last queue. A data chunk put while the sink is idle (parked on an empty
    queue, destination not blocked) is written at once instead of waking the sink task:
    one task step less per chunk on every chain."""

    __slots__ = ("link",)

    def __init__(self, link: Link) -> None:
        super().__init__()
        self.link = link

    def put(self, chunk: Chunk) -> None:
        w = self.waiter
        link = self.link
        if chunk.kind == DATA and not self.items and w is not None and not w.done() and not link.dst_blocked:
            link._write_chunk(chunk)
        else:
            self.items.append(chunk)
            self.wake()


class Link:
    def __init__(self, conn: Connection, direction: str) -> None:
        self.conn = conn
        self.direction = direction  # "upstream" (client->server) or "downstream"
        self.src: asyncio.Transport | None = None
        self.dst: asyncio.Transport | None = None
        self.fast = True
        self.stubs: list[Stub] = []
        self.head: ChunkQueue | None = None  # where the source puts chunks in chain mode
        self.sink_q: ChunkQueue | None = None
        self.sink_task: asyncio.Task[None] | None = None
        self.backlog = 0
        self.dst_blocked = False  # the destination's write buffer is over its high-water mark
        self.src_paused = False
        self.eof = False  # this direction is finished (FIN forwarded)
        self.bytes_in = 0
        self.bytes_out = 0
        self._drain: asyncio.Future[None] | None = None
        self.pending: list[bytes | None] = []  # read before the destination existed
        self.tap: Callable[[bytes], None] | None = None  # sees every byte read (HTTP request tracking)
        self.splice: splice.Splicer | None = None  # kernel forwarding in progress
        self.can_splice = splice.AVAILABLE
        self._loop = asyncio.get_running_loop()

    # -- from the source protocol ---------------------------------------------------------
    def feed(self, data: bytes) -> None:
        if self.dst is None:  # the upstream is still being dialled
            self.pending.append(data)
            return
        if self.tap is not None:
            self.tap(data)
        self.bytes_in += len(data)
        self._enter(data)

    def inject(self, data: bytes) -> None:
        """Bytes that enter this direction as if the source had sent them (a fault's reply):
        every toxic of the chain acts on them, in order with what the source sends next."""
        dst = self.dst
        if self.eof or self.conn.closed or dst is None or dst.is_closing():
            return
        if self.splice is not None:
            self.unsplice()
        self._enter(data)

    def _enter(self, data: bytes) -> None:
        n = len(data)
        if self.fast:
            self.bytes_out += n
            self.dst.write(data)  # type: ignore[union-attr]
            return
        ts = time.monotonic()
        head = self.head
        assert head is not None
        if n <= CHUNK:
            head.items.append(Chunk(data, ts))
        else:
            mv = memoryview(data)
            for i in range(0, n, CHUNK):
                head.items.append(Chunk(bytes(mv[i : i + CHUNK]), ts))
        head.wake()
        self.backlog += n
        if self.backlog > HIGH_WATER:
            self._update_reading()

    def feed_eof(self) -> None:
        if self.dst is None:
            self.pending.append(None)
            return
        if self.fast:
            self._finish_eof()
        else:
            assert self.head is not None
            self.head.put(Chunk(b"", time.monotonic(), EOF))

    def flush_pending(self) -> None:
        pending, self.pending = self.pending, []
        for item in pending:
            if item is None:
                self.feed_eof()
            else:
                self.feed(item)

    # -- from the destination protocol ------------------------------------------------------
    def pause_writing(self) -> None:
        self.dst_blocked = True
        self._update_reading()

    def resume_writing(self) -> None:
        self.dst_blocked = False
        d = self._drain
        if d is not None and not d.done():
            d.set_result(None)
        self._update_reading()

    def _update_reading(self) -> None:
        src = self.src
        if src is None or src.is_closing() or self.splice is not None:
            return
        want_pause = (self.dst_blocked and self.fast) or self.backlog > HIGH_WATER
        if want_pause and not self.src_paused:
            self.src_paused = True
            src.pause_reading()
        elif not want_pause and self.src_paused and (self.fast or self.backlog < LOW_WATER):
            self.src_paused = False
            src.resume_reading()

    def release(self, nbytes: int) -> None:
        """Bytes left the chain without reaching the sink (dropped by a toxic)."""
        self.backlog -= nbytes
        if self.src_paused and self.backlog < LOW_WATER:
            self._update_reading()

    # -- kernel forwarding (splice.py) ----------------------------------------------------------
    def start_splice(self) -> None:
        """Called by the straight pipe after a big read whose write went out whole."""
        src, dst = self.src, self.dst
        if (
            not self.fast or self.tap is not None or self.eof or self.conn.closed
            or src is None or dst is None or src.is_closing() or dst.is_closing()
        ):
            return
        try:
            sp = splice.Splicer(self, src, dst)
        except OSError:  # out of descriptors: stay on the userspace path
            self.can_splice = False
            return
        src.pause_reading()
        self.src_paused = True
        self.splice = sp
        sp.start()

    def unsplice(self) -> None:
        """Back to the transports (a toxic is being added): the pipe's bytes go first."""
        sp = self.splice
        if sp is None:
            return
        sp.stop()
        self.src_paused = False
        src = self.src
        if src is not None and not src.is_closing():
            src.resume_reading()
        self._update_reading()

    def spliced_eof(self) -> None:
        """The spliced source half-closed and the pipe is empty (its transport stays paused)."""
        self._finish_eof()

    def _finish_eof(self) -> None:
        self.eof = True
        dst = self.dst
        if dst is not None and not dst.is_closing() and dst.can_write_eof():
            dst.write_eof()
        self.conn.direction_done()

    # -- chain changes (called by the proxy under its lock) -----------------------------
    def _draw(self, stub: Stub, toxicity: float) -> None:
        stub.toxicity = toxicity
        stub.active = toxicity >= 1.0 or random.random() < toxicity
        if stub.active and stub.toxic.counts_links:
            self.conn.proxy.stats.activated(stub.name)

    def add(self, name: str, toxic: Toxic, toxicity: float) -> None:
        """Append a stub at the end of the chain; live data keeps its order."""
        if self.eof or self.conn.closed:
            return
        if self.splice is not None:
            self.unsplice()
        if self.fast:
            self.fast = False
            self.sink_q = _SinkQueue(self)
            self.head = self.sink_q
            self.sink_task = self._loop.create_task(self._sink())
            self._update_reading()
        assert self.sink_q is not None
        queue = ChunkQueue()
        if self.stubs:
            prev = self.stubs[-1]
            prev.output = queue
        else:
            # the source feeds the new stub; anything already queued for the sink stays ahead
            self.head = queue
        stub = Stub(self, name, toxic, queue, self.sink_q)
        self._draw(stub, toxicity)
        self.stubs.append(stub)
        toxic.attach(stub)
        stub.start()

    async def add_live(self, name: str, toxic: Toxic, toxicity: float) -> None:
        """Add through the API: as in Toxiproxy, the previous last toxic is interrupted
        to re-point its output, and so its toxicity is drawn again."""
        prev = self.stubs[-1] if self.stubs else None
        self.add(name, toxic, toxicity)
        if prev is not None:
            await self._redraw(prev)

    async def _redraw(self, stub: Stub) -> None:
        await self._stop(stub)
        if stub in self.stubs and not stub.finished and not self.conn.closed:
            self._draw(stub, stub.toxicity)
            stub.start()

    async def update(self, name: str, toxic: Toxic, toxicity: float) -> None:
        stub = self._find(name)
        if stub is None:
            return
        await self._stop(stub)
        stub.toxic = toxic
        self._draw(stub, toxicity)
        if not stub.finished:
            stub.start()

    async def remove(self, name: str) -> None:
        stub = self._find(name)
        if stub is None:
            return
        await self._stop(stub)
        i = self.stubs.index(stub)
        self.stubs.pop(i)
        # Queued input of the removed stub goes after what it already sent on.
        stub.output.items.extend(stub.input.items)
        stub.input.items.clear()
        if i > 0:
            self.stubs[i - 1].output = stub.output
        else:
            self.head = stub.output
        stub.output.wake()
        if stub.active and not stub.finished:
            stub.toxic.cleanup(stub)
        if i > 0:
            await self._redraw(self.stubs[i - 1])  # Toxiproxy restarts the predecessor

    def _find(self, name: str) -> Stub | None:
        for stub in self.stubs:
            if stub.name == name:
                return stub
        return None

    async def _stop(self, stub: Stub) -> None:
        task = stub.task
        stub.interrupt()
        if task is not None and not task.done():
            await asyncio.wait([task])

    # -- the sink: last stage of chain mode -------------------------------------------------
    async def _sink(self) -> None:
        q = self.sink_q
        assert q is not None
        loop = self._loop
        while True:
            if not q.items:
                if not self.stubs and self.head is q:
                    # The chain is empty again: back to the straight pipe.
                    self.fast = True
                    self.sink_q = None
                    self.head = None
                    self.sink_task = None
                    self._update_reading()
                    return
                fut = loop.create_future()
                q.waiter = fut
                try:
                    await fut
                finally:
                    q.waiter = None
                continue
            chunk = q.items.popleft()
            if chunk.kind == DATA:
                self._write_chunk(chunk)
                if self.dst_blocked:
                    self._drain = loop.create_future()
                    try:
                        await self._drain
                    finally:
                        self._drain = None
            elif chunk.kind == EOF:
                self.sink_task = None
                self._finish_eof()
                return
            elif chunk.kind == CLOSE:
                self.sink_task = None
                self.conn.close()
                return
            elif chunk.kind == RESET:
                self.sink_task = None
                self.conn.reset()
                return

    def _write_chunk(self, chunk: Chunk) -> None:
        n = len(chunk.data)
        self.backlog -= n
        self.bytes_out += n
        dst = self.dst
        if dst is None or dst.is_closing():
            return
        if n:
            dst.write(chunk.data)
        if self.src_paused and self.backlog < LOW_WATER:
            self._update_reading()

    def cancel(self) -> None:
        """Stop every task of this link (the connection is closing)."""
        if self.splice is not None:
            self.splice.stop()  # what is in the pipe is flushed by the transport's close
        for stub in self.stubs:
            stub.interrupt()
            if stub.task is not None and not stub.task.done():
                stub.task.cancel()
        if self.sink_task is not None and not self.sink_task.done():
            self.sink_task.cancel()
        d = self._drain
        if d is not None and not d.done():
            d.cancel()
