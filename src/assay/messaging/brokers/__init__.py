"""Broker adapters, chosen by the URL's scheme: `open_transport("redis://...", options)`.

| scheme | broker | adapter |
|---|---|---|
| redis://, rediss:// | Redis Streams (consumer group, XACK, XAUTOCLAIM) | redis_streams.py (redis-py) |
| amqp://, amqps:// | RabbitMQ (publisher confirms, manual acks) | rabbitmq.py (aio-pika) |
| nats:// | NATS JetStream (PubAck, durable pull consumer) | nats_jetstream.py (nats-py) |
| mqtt:// | MQTT 3.1.1/5 (QoS 0/1/2, shared subscriptions) | mqtt.py (aiomqtt) |
| ws://, wss:// | a WebSocket pub/sub endpoint (every subscriber gets every frame) | websocket.py (websockets) |

Client libraries are the `assay[messaging]` extra; an adapter whose library is missing says
which package to install.
"""

from __future__ import annotations

import importlib
from urllib.parse import urlsplit

from assay.messaging.brokers.base import BrokerError, BrokerOptions, Consumer, Transport

__all__ = ["open_transport", "SCHEMES", "BrokerError", "BrokerOptions", "Transport", "Consumer"]

# scheme -> (module, class, pip package)
SCHEMES: dict[str, tuple[str, str, str]] = {
    "redis": ("redis_streams", "RedisStreams", "redis"),
    "rediss": ("redis_streams", "RedisStreams", "redis"),
    "amqp": ("rabbitmq", "RabbitMQ", "aio-pika"),
    "amqps": ("rabbitmq", "RabbitMQ", "aio-pika"),
    "nats": ("nats_jetstream", "JetStream", "nats-py"),
    "mqtt": ("mqtt", "Mqtt", "aiomqtt"),
    "ws": ("websocket", "WebSocketPubSub", "websockets"),
    "wss": ("websocket", "WebSocketPubSub", "websockets"),
}


def open_transport(url: str, options: BrokerOptions | None = None) -> Transport:
    """The adapter for `url` (not connected yet: the workload calls `open()`)."""
    scheme = urlsplit(url).scheme.lower()
    if scheme not in SCHEMES:
        known = ", ".join(sorted({f"{s}://" for s in SCHEMES}))
        raise BrokerError(f"unknown broker URL {url!r}: expected one of {known}")
    module_name, cls_name, package = SCHEMES[scheme]
    try:
        module = importlib.import_module(f"assay.messaging.brokers.{module_name}")
    except ImportError as exc:
        raise BrokerError(f"{scheme}:// needs the {package!r} client ({exc}): pip install 'assay[messaging]'") from None
    cls: type[Transport] = getattr(module, cls_name)
    return cls(url, options or BrokerOptions())
