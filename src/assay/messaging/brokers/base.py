"""What a broker adapter implements: publish one marked message, run consumers, kill one.

One adapter per file (redis_streams.py, rabbitmq.py, nats_jetstream.py, mqtt.py, websocket.py),
registered by URL scheme in `brokers/__init__.py`. The workload (messaging/workload.py) does
the rest the same way for all of them: the rate, the ledger, latency, progress, the result.

An adapter publishes with the broker's own acknowledgement (XADD's id, a publisher confirm,
a JetStream PubAck, a PUBACK/PUBCOMP) so `publish` returning means "accepted", and its
consumers acknowledge only after the ledger recorded the message, so a consumer killed
between the two leaves the message unacknowledged for the broker to redeliver.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

__all__ = ["Transport", "Consumer", "Deliver", "BrokerOptions", "BrokerError"]

Deliver = Callable[[str | bytes, str], None]
"""Called by a consumer for each message: (the token, or the text/bytes that hold it; the consumer's name)."""


class BrokerError(Exception):
    """The broker refused or is unreachable: a clear message, never a client library's traceback."""


@dataclass
class BrokerOptions:
    """Names and knobs shared by the adapters (each reads the ones that apply to it)."""

    name: str = "assay-messaging"
    """The stream / queue / subject prefix / topic prefix (tests use unique ones)."""
    group: str = "assay"
    """The consumer group (Redis), durable consumer (JetStream), shared subscription (MQTT)."""
    qos: int = 1
    """MQTT quality of service (0, 1, 2)."""
    reclaim_idle: float = 5.0
    """Redis: claim another consumer's pending entries idle this long (s; 0: never, so a dead
    consumer's entries stay pending: loss). JetStream: ack wait (s)."""
    prefetch: int = 100
    """Messages a consumer takes at once (Redis COUNT, AMQP prefetch, JetStream fetch batch)."""
    fanout: bool = False
    """Every consumer gets every message (its own receiver) instead of sharing them as a group."""
    ack_delay: float = 0.0
    """Seconds a consumer spends "processing" each message after recording it, before it
    acknowledges (per message, or for the whole fetched batch at its end with Redis and
    JetStream): a killed consumer then holds unacknowledged messages, as a real worker does."""
    remove: bool = True
    """Delete the stream / queue / JetStream stream when the workload ends."""


class Consumer(ABC):
    """One consumer: `run()` until cancelled; `kill()` stops it abruptly, acknowledging nothing more."""

    def __init__(self, name: str, deliver: Deliver) -> None:
        self.name = name
        self.deliver = deliver
        self.received = 0
        self.stopped = False
        self.holding = 0
        """Messages recorded in the ledger whose acknowledgement is not sent yet (right now)."""
        self.taken = 0
        """Messages fetched in the current batch and not acknowledged yet, recorded or not."""
        self.subscribed = asyncio.Event()
        """Set by `run` once the consumer listens (the workload publishes only then)."""

    @abstractmethod
    async def run(self) -> None:
        """Consume: deliver each message, then acknowledge it to the broker."""

    async def kill(self) -> None:
        """Drop the connection without acknowledging what is in hand (a crash, as the broker sees it)."""
        await self.close()

    @abstractmethod
    async def close(self) -> None:
        """Release the connection (after `run` was cancelled)."""


class Transport(ABC):
    """A broker connection for publishing plus the factory of its consumers."""

    scheme: ClassVar[str]
    fanout_only: ClassVar[bool] = False
    """True when consumers cannot share messages (each WebSocket subscriber gets all)."""
    durable: ClassVar[bool] = True
    """False when a consumer that leaves misses what is sent meanwhile, by design (WebSocket)."""
    acked: bool = True
    """False when publishing has no acknowledgement (MQTT QoS 0, WebSocket frames)."""

    def __init__(self, url: str, options: BrokerOptions) -> None:
        self.url = url
        self.options = options

    @property
    def fanout(self) -> bool:
        return self.fanout_only or self.options.fanout

    def describe(self) -> str:
        return f"{self.scheme} {self.options.name}"

    @abstractmethod
    async def open(self) -> None:
        """Connect and create what the workload needs (stream and group, queue, JetStream stream)."""

    @abstractmethod
    async def publish(self, key: str, token: str, body: bytes) -> None:
        """Publish one message and return once the broker accepted it (raise BrokerError if not)."""

    @abstractmethod
    def consumer(self, index: int, deliver: Deliver) -> Consumer:
        """A new consumer (not started) that calls `deliver` for each message."""

    async def ready(self, consumers: list[Consumer], timeout: float = 15.0) -> None:
        """Wait until every consumer listens (some brokers drop what nobody listens to yet)."""
        waits = [asyncio.ensure_future(c.subscribed.wait()) for c in consumers]
        if not waits:
            return
        done, pending = await asyncio.wait(waits, timeout=timeout)
        for w in pending:
            w.cancel()
        if pending:
            raise BrokerError(f"{len(pending)} of {len(consumers)} consumer(s) did not subscribe within {timeout:g} s")

    @abstractmethod
    async def close(self) -> None:
        """Disconnect; remove what `open` created when options.remove."""
