"""MQTT with aiomqtt (paho-mqtt underneath): QoS 0/1/2, shared subscriptions, persistent sessions.

`publish` returns when the broker acknowledged (PUBACK for QoS 1, PUBCOMP for QoS 2); QoS 0
has no acknowledgement, so a QoS 0 message counts as accepted once written. Consumers of a
group share `$share/<group>/<topic>/#`; with fan-out each subscribes to `<topic>/#` itself.
Consumers keep a persistent session (clean session off, a stable client id) and acknowledge
manually after the ledger recorded the message, so one that is killed and restarted gets
what it had not acknowledged again (paho's manual ack; aiomqtt acks on arrival otherwise).
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit

import aiomqtt

from assay.messaging.brokers.base import BrokerError, BrokerOptions, Consumer, Deliver, Transport

__all__ = ["Mqtt"]

_ERRORS = (aiomqtt.MqttError, OSError, ConnectionError)


def _token_of(payload: Any) -> bytes:
    data = bytes(payload) if not isinstance(payload, bytes) else payload
    end = data.find(b"\n")
    return data if end < 0 else data[:end]


class _MqttConsumer(Consumer):
    def __init__(self, transport: Mqtt, name: str, deliver: Deliver, identifier: str) -> None:
        super().__init__(name, deliver)
        self.t = transport
        self.identifier = identifier
        self.client: Any = None

    async def run(self) -> None:
        t = self.t
        try:
            self.client = t.client(self.identifier, persistent=True)
            self.client._client.manual_ack_set(True)  # ack after recording, not on arrival
            async with self.client as client:
                await client.subscribe(t.filter, qos=t.options.qos)
                self.subscribed.set()
                paho = client._client
                async for message in client.messages:
                    self.deliver(_token_of(message.payload), self.name)
                    self.received += 1
                    self.holding = 1
                    if t.options.ack_delay:
                        await asyncio.sleep(t.options.ack_delay)
                    self.holding = 0
                    if message.qos > 0:
                        paho.ack(message.mid, message.qos)
        except _ERRORS as exc:
            raise BrokerError(f"MQTT consumer {self.name}: {exc}") from None

    async def close(self) -> None:
        # cancelling run() left the `async with`, which disconnected; the broker keeps the
        # persistent session and the messages this consumer had not acknowledged
        await asyncio.sleep(0)


class Mqtt(Transport):
    scheme = "mqtt"

    def __init__(self, url: str, options: BrokerOptions) -> None:
        super().__init__(url, options)
        if options.qos not in (0, 1, 2):
            raise BrokerError(f"MQTT QoS must be 0, 1 or 2, not {options.qos}")
        self.acked = options.qos > 0
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 1883
        self.username = parts.username
        self.password = parts.password
        self.identifiers: list[str] = []

    @property
    def topic(self) -> str:
        return self.options.name

    @property
    def filter(self) -> str:
        return f"{self.topic}/#" if self.fanout else f"$share/{self.options.group}/{self.topic}/#"

    def describe(self) -> str:
        how = "every consumer" if self.fanout else f"shared by group {self.options.group!r}"
        return f"MQTT topic {self.topic}/# (QoS {self.options.qos}, {how})"

    def client(self, identifier: str, *, persistent: bool) -> aiomqtt.Client:
        return aiomqtt.Client(
            self.host,
            self.port,
            username=self.username,
            password=self.password,
            identifier=identifier,
            clean_session=not persistent,
            max_inflight_messages=200,
            timeout=10,
        )

    async def open(self) -> None:
        self.pub: Any = self.client(f"{self.topic}-publisher", persistent=False)
        try:
            await self.pub.__aenter__()
        except _ERRORS as exc:
            raise BrokerError(f"MQTT broker at {self.url}: {exc}") from None

    async def publish(self, key: str, token: str, body: bytes) -> None:
        try:
            await self.pub.publish(f"{self.topic}/{key}", token.encode("ascii") + b"\n" + body, qos=self.options.qos)
        except _ERRORS as exc:
            raise BrokerError(f"MQTT publish to {self.topic}/{key}: {exc}") from None

    def consumer(self, index: int, deliver: Deliver) -> Consumer:
        identifier = f"{self.topic}-{self.options.group}-c{index}"
        if identifier not in self.identifiers:
            self.identifiers.append(identifier)
        return _MqttConsumer(self, f"c{index}", deliver, identifier)

    async def close(self) -> None:
        try:
            await self.pub.__aexit__(None, None, None)
        except _ERRORS:
            pass
        if self.options.remove:
            # a clean connect under each consumer's id ends its persistent session on the broker
            for identifier in self.identifiers:
                try:
                    async with self.client(identifier, persistent=False):
                        pass
                except _ERRORS:
                    pass
