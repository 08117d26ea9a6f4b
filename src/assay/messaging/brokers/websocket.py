"""A WebSocket pub/sub endpoint (a chat room, a notification hub): every subscriber gets every frame.

The publisher writes text frames on its own socket; each consumer is a subscriber socket on
the same URL and its own ledger receiver (WebSocket has no consumer groups). Frames carry no
acknowledgement, so a message counts as accepted once written, and a subscriber that drops
is owed nothing sent while it was away (there is no redelivery to judge).
"""

from __future__ import annotations

import asyncio
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from assay.messaging.brokers.base import BrokerError, BrokerOptions, Consumer, Deliver, Transport

__all__ = ["WebSocketPubSub"]

_ERRORS = (ConnectionClosed, InvalidHandshake, InvalidURI, OSError, TimeoutError)


class _Subscriber(Consumer):
    def __init__(self, transport: WebSocketPubSub, name: str, deliver: Deliver) -> None:
        super().__init__(name, deliver)
        self.t = transport
        self.conn: Any = None

    async def run(self) -> None:
        try:
            self.conn = await connect(self.t.url, open_timeout=10, ping_interval=None, proxy=None, max_size=None)
            self.subscribed.set()
            async for message in self.conn:
                self.deliver(message, self.name)
                self.received += 1
        except _ERRORS as exc:
            raise BrokerError(f"WebSocket subscriber {self.name}: {exc}") from None

    async def close(self) -> None:
        if self.conn is not None:
            try:
                await asyncio.wait_for(self.conn.close(), 5.0)
            except _ERRORS:
                pass


class WebSocketPubSub(Transport):
    scheme = "ws"
    fanout_only = True
    durable = False
    acked = False

    def __init__(self, url: str, options: BrokerOptions) -> None:
        super().__init__(url, options)
        self.filler = ""

    def describe(self) -> str:
        return f"WebSocket pub/sub {self.url}"

    async def open(self) -> None:
        try:
            self.conn: Any = await connect(self.url, open_timeout=10, ping_interval=None, proxy=None, max_size=None)
        except _ERRORS as exc:
            raise BrokerError(f"WebSocket at {self.url}: {exc}") from None

    async def publish(self, key: str, token: str, body: bytes) -> None:
        if len(self.filler) != len(body):
            self.filler = "x" * len(body)  # text frames: the body's size, not its bytes
        try:
            await self.conn.send(f"{token} {self.filler}")
        except _ERRORS as exc:
            raise BrokerError(f"WebSocket send: {exc}") from None

    def consumer(self, index: int, deliver: Deliver) -> Consumer:
        return _Subscriber(self, f"c{index}", deliver)

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self.conn.close(), 5.0)
        except _ERRORS:
            pass
