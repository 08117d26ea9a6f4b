"""Redis Pub/Sub between courier instances: cache invalidations and (optionally) event fan-out.

Pub/Sub is at most once: a listener that was disconnected missed what was said meanwhile,
so on every (re)connect `on_reconnect` runs (the participant cache drops everything).
Without Redis there is one instance, and publishing calls the local handlers directly.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from courier import faults
from courier.settings import Settings

log = logging.getLogger("courier.bus")

Listener = Callable[[dict[str, Any]], Awaitable[None] | None]


class RedisDown(Exception):
    """A Redis call failed or timed out."""


async def redis_call(op: str, coro: Awaitable[Any], timeout: float) -> Any:
    """Await one Redis call through the 'redis' fault point, with a deadline; failures are RedisDown."""
    try:
        try:
            await faults.REDIS.acheck()
        except BaseException:
            if inspect.iscoroutine(coro):
                coro.close()
            raise
        return await asyncio.wait_for(coro, timeout)
    except (RedisError, OSError, TimeoutError) as exc:
        raise RedisDown(f"{op}: {type(exc).__name__}") from exc


class Bus:
    """Named channels under `redis_prefix`; handlers run in this process for every message."""

    def __init__(self, settings: Settings) -> None:
        self.s = settings
        self.handlers: dict[str, Listener] = {}
        self.on_reconnect: list[Callable[[], None]] = []
        self.client: aioredis.Redis | None = None
        if settings.redis_url is not None:
            self.client = aioredis.from_url(
                settings.redis_url,
                decode_responses=True,
                socket_timeout=settings.redis_timeout_s,
                socket_connect_timeout=settings.redis_timeout_s,
            )
        self.connected = asyncio.Event()

    def channel(self, name: str) -> str:
        return f"{self.s.redis_prefix}:{name}"

    def on(self, name: str, handler: Listener) -> None:
        self.handlers[self.channel(name)] = handler

    async def publish(self, name: str, payload: dict[str, Any]) -> int:
        """Say something to every instance (this one included); returns how many listeners heard it."""
        if self.client is None:
            await self._dispatch(self.channel(name), payload)
            return 1
        return int(
            await redis_call(
                "publish", self.client.publish(self.channel(name), json.dumps(payload)), self.s.redis_timeout_s
            )
        )

    async def _dispatch(self, channel: str, payload: dict[str, Any]) -> None:
        handler = self.handlers.get(channel)
        if handler is None:
            return
        result = handler(payload)
        if inspect.isawaitable(result):
            await result

    async def listen(self, stop: asyncio.Event) -> None:
        """Subscribe to every registered channel; reconnect with backoff for as long as the app runs."""
        if self.client is None or not self.handlers:
            return
        backoff = 0.1
        while not stop.is_set():
            pubsub = self.client.pubsub(ignore_subscribe_messages=True)
            try:
                await redis_call("subscribe", pubsub.subscribe(*self.handlers), self.s.redis_timeout_s)
                for hook in self.on_reconnect:
                    hook()
                self.connected.set()
                backoff = 0.1
                while not stop.is_set():
                    message = await redis_call(
                        "pubsub", pubsub.get_message(timeout=0.5), self.s.redis_timeout_s + 1.0
                    )
                    if message is None or message.get("type") != "message":
                        continue
                    try:
                        payload = json.loads(message["data"])
                        await self._dispatch(str(message["channel"]), payload)
                    except Exception:  # one bad message must not stop the listener
                        log.exception("bus: could not handle a message on %s", message.get("channel"))
            except RedisDown as exc:
                self.connected.clear()
                log.warning("bus: %s; resubscribing in %.1fs", exc, backoff)
                try:
                    await asyncio.wait_for(stop.wait(), backoff)
                except TimeoutError:
                    pass
                backoff = min(backoff * 2, 2.0)
            finally:
                try:
                    await asyncio.wait_for(pubsub.aclose(), 1.0)
                except (RedisError, OSError, TimeoutError):
                    pass

    async def close(self) -> None:
        if self.client is not None:
            try:
                await asyncio.wait_for(self.client.aclose(), self.s.redis_timeout_s)
            except (RedisError, OSError, TimeoutError):
                pass
