"""The toxic interface: a coroutine that moves chunks from its stub's input to its output.

This mirrors Toxiproxy's design (toxics/toxic.go): every connection has one link per
direction, each link is a chain of stubs, and each stub runs one toxic's `pipe`.
A stub can be interrupted at any await point (to splice the chain when the API adds,
updates or removes a toxic); a toxic that holds a chunk when interrupted must send it
on rather than drop it.
"""

from __future__ import annotations

import abc
import asyncio
import dataclasses
import time
from collections import deque
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

if TYPE_CHECKING:
    from assay.faults.link import Link

DATA = 0
EOF = 1  # the source half-closed: forward a FIN in this direction
CLOSE = 2  # a toxic closed the connection (both sides, FIN)
RESET = 3  # a toxic reset the connection (both sides, RST)


class Chunk:
    """One socket read (at most 32 KiB), stamped with the time.monotonic() it was read."""

    __slots__ = ("data", "ts", "kind")

    def __init__(self, data: bytes, ts: float, kind: int = DATA) -> None:
        self.data = data
        self.ts = ts
        self.kind = kind


class Interrupted(Exception):
    """Raised inside a toxic's pipe when the chain is being changed."""


class ChunkQueue:
    """An unbounded FIFO between two stages; the link bounds the total in flight."""

    __slots__ = ("items", "waiter")

    def __init__(self) -> None:
        self.items: deque[Chunk] = deque()
        self.waiter: asyncio.Future[None] | None = None

    def put(self, chunk: Chunk) -> None:
        self.items.append(chunk)
        self.wake()

    def wake(self) -> None:
        w = self.waiter
        if w is not None and not w.done():
            w.set_result(None)


class AttributeError_(ValueError):
    """An attribute value the toxic cannot run with (answered with 400)."""


@dataclasses.dataclass(frozen=True)
class Toxic(abc.ABC):
    """Base class: subclasses are frozen dataclasses whose fields are the JSON attributes."""

    type_name: ClassVar[str] = ""
    #: whether activations count links (connection-level toxics) or are counted by the toxic itself
    counts_links: ClassVar[bool] = True

    @abc.abstractmethod
    async def pipe(self, stub: Stub) -> None:
        """Move chunks from stub.input to stub.output, applying the fault."""

    def validate(self) -> None:
        """Raise AttributeError_ for values that would hang or make no sense."""
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
                raise AttributeError_(f"invalid attribute {f.name}: must be >= 0, got {value}")

    def new_state(self) -> Any:
        return None

    def attach(self, stub: Stub) -> None:
        """Called synchronously when the stub joins a live link, before any byte flows (optional hook)."""
        return None

    def cleanup(self, stub: Stub) -> None:
        """Called when the toxic is removed from a live link where it was active (optional hook)."""
        return None

    def attributes(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}



ToxicClass = TypeVar("ToxicClass", bound=type["Toxic"])

# type name -> toxic class; each toxic's own file adds itself with @register (see toxics/__init__.py)
REGISTRY: dict[str, type[Toxic]] = {}


def register(cls: ToxicClass) -> ToxicClass:
    """Class decorator: make a toxic available by its `type_name` (Toxiproxy's Register in each toxic's init)."""
    if not cls.type_name or cls.type_name in REGISTRY:
        raise ValueError(f"toxic {cls.__name__}: type_name {cls.type_name!r} is empty or already registered")
    REGISTRY[cls.type_name] = cls
    return cls


class Stub:
    """One toxic's place in one link: its input and output queues and its interrupt flag."""

    __slots__ = (
        "link", "toxic", "name", "input", "output", "active", "toxicity", "state",
        "interrupted", "finished", "task", "_waiter", "_loop",
    )

    def __init__(self, link: Link, name: str, toxic: Toxic, input: ChunkQueue, output: ChunkQueue) -> None:
        self.link = link
        self.name = name
        self.toxic = toxic
        self.input = input
        self.output = output
        self.active = True
        self.toxicity = 1.0
        self.state: Any = toxic.new_state()
        self.interrupted = False
        self.finished = False  # forwarded a terminal chunk: never restarted
        self.task: asyncio.Task[None] | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._loop = asyncio.get_running_loop()

    # -- used by toxics -------------------------------------------------------------
    async def read(self) -> Chunk:
        chunk = await self.read_within(None)
        assert chunk is not None
        return chunk

    async def read_within(self, seconds: float | None) -> Chunk | None:
        """The next chunk, or None if `seconds` pass first (None waits forever)."""
        q = self.input
        deadline = None if seconds is None else self._loop.time() + seconds
        while True:
            if self.interrupted:
                raise Interrupted
            if q.items:
                return q.items.popleft()
            if deadline is not None and self._loop.time() >= deadline:
                return None
            fut = self._loop.create_future()
            handle = None if deadline is None else self._loop.call_at(deadline, _resolve, fut)
            q.waiter = fut
            self._waiter = fut
            try:
                await fut
            finally:
                if handle is not None:
                    handle.cancel()
                q.waiter = None
                self._waiter = None

    def unread(self, chunk: Chunk) -> None:
        """Put a chunk back at the head of the input (kept for the restarted toxic)."""
        self.input.items.appendleft(chunk)

    async def sleep(self, seconds: float) -> None:
        if self.interrupted:
            raise Interrupted
        if seconds <= 0:
            return
        # uvloop's timers and loop.time() have millisecond resolution and may fire up to a
        # millisecond early: sleep again for what is left, so a delay is never shortened.
        deadline = time.monotonic() + seconds
        while True:
            fut = self._loop.create_future()
            handle = self._loop.call_later(seconds, _resolve, fut)
            self._waiter = fut
            try:
                await fut
            finally:
                handle.cancel()
                self._waiter = None
            if self.interrupted:
                raise Interrupted
            seconds = deadline - time.monotonic()
            if seconds <= 0:
                return

    def send(self, chunk: Chunk) -> None:
        if chunk.kind != DATA:
            self.finished = True
        self.output.put(chunk)

    def discard(self, nbytes: int) -> None:
        """Account for bytes a toxic dropped, so they no longer hold back the source."""
        if nbytes:
            self.link.release(nbytes)

    def close(self) -> None:
        """Close the whole connection once everything sent before has been written."""
        self.send(Chunk(b"", time.monotonic(), CLOSE))

    def reset(self) -> None:
        """Reset the whole connection (RST) once everything sent before has been written."""
        self.send(Chunk(b"", time.monotonic(), RESET))

    @property
    def now(self) -> float:
        """Precise monotonic time, the clock of Chunk.ts."""
        return time.monotonic()

    # -- used by the link -------------------------------------------------------------
    def interrupt(self) -> None:
        self.interrupted = True
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)

    def start(self) -> None:
        self.interrupted = False
        self.task = self._loop.create_task(self._run())

    async def _run(self) -> None:
        try:
            if self.active:
                await self.toxic.pipe(self)
            else:
                await noop_pipe(self)
        except Interrupted:
            pass
        except asyncio.CancelledError:
            raise
        except Exception:  # a toxic bug must not leave a half-open connection behind
            self.link.conn.log_error(f"toxic {self.name} failed")
            self.link.conn.close()


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


async def noop_pipe(stub: Stub) -> None:
    """Pass every chunk through: what an inactive toxic (lost the toxicity draw) runs."""
    while True:
        chunk = await stub.read()
        stub.send(chunk)
        if chunk.kind != DATA:
            return
