"""RabbitMQ (AMQP 0-9-1) with aio-pika: publisher confirms, a durable queue, manual acks.

`publish` returns when the broker confirmed the message (publisher confirms on the channel),
so "acked" means RabbitMQ took responsibility for it. Consumers share the queue with a
prefetch window and acknowledge after the ledger recorded the message; a consumer whose
connection drops has its unacknowledged messages requeued to the others (redelivered).
"""

from __future__ import annotations

import asyncio
from typing import Any

import aio_pika
from aio_pika.exceptions import AMQPError, DeliveryError

from assay.messaging.brokers.base import BrokerError, Consumer, Deliver, Transport
from assay.messaging.envelope import HEADER

__all__ = ["RabbitMQ"]

_ERRORS = (AMQPError, OSError, ConnectionError, DeliveryError)


class _QueueConsumer(Consumer):
    def __init__(self, transport: RabbitMQ, name: str, deliver: Deliver) -> None:
        super().__init__(name, deliver)
        self.t = transport
        self.conn: Any = None

    async def run(self) -> None:
        t = self.t
        try:
            self.conn = await aio_pika.connect(t.url)
            channel = await self.conn.channel()
            await channel.set_qos(prefetch_count=t.options.prefetch)
            queue = await channel.declare_queue(t.queue, durable=True)
            async with queue.iterator() as messages:
                self.subscribed.set()
                async for message in messages:
                    token = (message.headers or {}).get(HEADER)
                    if token is not None:
                        self.deliver(token if isinstance(token, str | bytes) else str(token), self.name)
                        self.received += 1
                    self.holding = 1
                    if t.options.ack_delay:
                        await asyncio.sleep(t.options.ack_delay)
                    self.holding = 0
                    await message.ack()
        except _ERRORS as exc:
            raise BrokerError(f"RabbitMQ consumer {self.name}: {exc}") from None

    async def close(self) -> None:
        if self.conn is not None and not self.conn.is_closed:
            try:
                await asyncio.wait_for(self.conn.close(), 5.0)
            except (TimeoutError, *_ERRORS):
                pass


class RabbitMQ(Transport):
    scheme = "amqp"

    @property
    def queue(self) -> str:
        return self.options.name

    def describe(self) -> str:
        return f"RabbitMQ queue {self.queue!r}"

    async def open(self) -> None:
        if self.fanout:
            raise BrokerError("RabbitMQ consumers share one queue here; --fanout is not supported")
        try:
            self.conn: Any = await aio_pika.connect(self.url)
            self.channel: Any = await self.conn.channel(publisher_confirms=True)
            self.q: Any = await self.channel.declare_queue(self.queue, durable=True)
        except _ERRORS as exc:
            raise BrokerError(f"RabbitMQ at {self.url}: {exc}") from None

    async def publish(self, key: str, token: str, body: bytes) -> None:
        message = aio_pika.Message(body, headers={HEADER: token, "key": key}, delivery_mode=aio_pika.DeliveryMode.PERSISTENT)
        try:
            await self.channel.default_exchange.publish(message, routing_key=self.queue)
        except _ERRORS as exc:
            raise BrokerError(f"RabbitMQ publish to {self.queue!r} not confirmed: {exc}") from None

    def consumer(self, index: int, deliver: Deliver) -> Consumer:
        return _QueueConsumer(self, f"c{index}", deliver)

    async def close(self) -> None:
        try:
            if self.options.remove:
                await self.q.delete(if_unused=False, if_empty=False)
        except _ERRORS:
            pass
        finally:
            await self.conn.close()
