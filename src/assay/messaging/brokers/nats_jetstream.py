"""NATS JetStream with nats-py: PubAck on publish, a durable pull consumer shared by N workers.

`publish` returns when JetStream stored the message (its PubAck). Consumers fetch from one
durable consumer and ack after the ledger recorded each message; what a dead consumer
fetched and never acked is redelivered to the others once `ack_wait` (the options'
`reclaim_idle`) passes.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import nats
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from assay.messaging.brokers.base import BrokerError, Consumer, Deliver, Transport
from assay.messaging.envelope import HEADER

__all__ = ["JetStream"]

_ERRORS = (NatsError, OSError, ConnectionError)


async def _quiet(_exc: Exception) -> None:
    """nats-py logs every failed attempt with a traceback; the caller reports the error once."""


async def _connect(url: str) -> Any:
    """One connection, no reconnects: a refused server fails in about a second (nats-py's
    defaults retry 60 times, 2 s apart, before giving up)."""
    return await nats.connect(url, allow_reconnect=False, connect_timeout=5, max_reconnect_attempts=1,
                              reconnect_time_wait=0.2, error_cb=_quiet)


class _PullConsumer(Consumer):
    def __init__(self, transport: JetStream, name: str, deliver: Deliver) -> None:
        super().__init__(name, deliver)
        self.t = transport
        self.nc: Any = None
        self.transient = 0

    async def run(self) -> None:
        t = self.t
        try:
            self.nc = await _connect(t.url)
            js = self.nc.jetstream()
            sub = await js.pull_subscribe(t.subject_all, durable=t.durable_name, stream=t.stream)
            self.subscribed.set()
            while True:
                try:
                    msgs = await sub.fetch(batch=t.options.prefetch, timeout=0.5)
                except NatsTimeout:
                    continue
                except NatsError:
                    if self.nc.is_closed:
                        raise
                    self.transient += 1  # a fetch the server cut short under load: fetch again
                    await asyncio.sleep(0.05)
                    continue
                self.taken = len(msgs)
                for m in msgs:
                    token = (m.headers or {}).get(HEADER)
                    if token is not None:
                        self.deliver(token, self.name)
                        self.received += 1
                        self.holding += 1
                        if t.options.ack_delay:
                            await asyncio.sleep(t.options.ack_delay)
                self.holding = self.taken = 0
                for m in msgs:
                    await m.ack()
        except _ERRORS as exc:
            raise BrokerError(f"NATS consumer {self.name}: {type(exc).__name__} {exc}".rstrip()) from None

    async def close(self) -> None:
        if self.nc is not None and not self.nc.is_closed:
            try:
                await asyncio.wait_for(self.nc.close(), 5.0)
            except (TimeoutError, *_ERRORS):
                pass


class JetStream(Transport):
    scheme = "nats"

    @property
    def stream(self) -> str:
        return re.sub(r"[^A-Za-z0-9_-]", "_", self.options.name)

    @property
    def subject_all(self) -> str:
        return f"{self.options.name}.>"

    @property
    def durable_name(self) -> str:
        return re.sub(r"[^A-Za-z0-9_-]", "_", self.options.group)

    def describe(self) -> str:
        return f"NATS JetStream stream {self.stream!r}, durable consumer {self.durable_name!r}"

    async def open(self) -> None:
        if self.fanout:
            raise BrokerError("JetStream consumers share one durable consumer here; --fanout is not supported")
        try:
            self.nc: Any = await _connect(self.url)
            self.js: Any = self.nc.jetstream()
            await self.js.add_stream(name=self.stream, subjects=[self.subject_all])
            await self.js.add_consumer(
                self.stream,
                ConsumerConfig(
                    durable_name=self.durable_name,
                    ack_policy=AckPolicy.EXPLICIT,
                    deliver_policy=DeliverPolicy.ALL,
                    ack_wait=max(0.5, self.options.reclaim_idle),
                    max_ack_pending=max(1000, self.options.prefetch * 20),
                ),
            )
        except _ERRORS as exc:
            raise BrokerError(f"NATS JetStream at {self.url}: {exc}") from None

    async def publish(self, key: str, token: str, body: bytes) -> None:
        try:
            await self.js.publish(f"{self.options.name}.{key}", body, headers={HEADER: token})
        except _ERRORS as exc:
            raise BrokerError(f"JetStream publish to {self.options.name}.{key}: {exc}") from None

    def consumer(self, index: int, deliver: Deliver) -> Consumer:
        return _PullConsumer(self, f"c{index}", deliver)

    async def close(self) -> None:
        try:
            if self.options.remove:
                await self.js.delete_stream(self.stream)
        except _ERRORS:
            pass
        finally:
            await self.nc.close()
