"""WebSocket subscribers: authentication, membership, replay with ?after=, live pushes and heartbeats.

Every `ws_heartbeat_s` the server sends {"type": "ping", "seq": n, "ts": t}; the client
answers {"type": "pong", "seq": n}. Round trips are a histogram; a ping still unanswered
when the next is due is a miss; with `ws_heartbeat_timeout_s` a socket whose pong is that
late is closed with 4408. Every close is counted by its code.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import SQLAlchemyError
from starlette.websockets import WebSocket, WebSocketDisconnect

from courier import store
from courier.errors import ApiError, DbUnavailable
from courier.hub import BEHIND
from courier.metrics import Metrics

if TYPE_CHECKING:
    from courier.app import Courier

HEARTBEAT_TIMEOUT_CLOSE = 4408


@dataclass
class Heartbeat:
    """Server pings on one socket: {"type": "ping", "seq": n, "ts": t}; the client answers {"type": "pong", "seq": n}."""

    interval: float
    timeout: float
    seq: int = 0
    last_sent: float = 0.0
    unanswered_since: float | None = None  # when the oldest ping still without a pong went out

    def due(self, now: float) -> float | None:
        """When the loop must wake next for the heartbeat (None: never)."""
        if self.interval <= 0:
            return None
        wake = self.last_sent + self.interval
        if self.timeout > 0 and self.unanswered_since is not None:
            wake = min(wake, self.unanswered_since + self.timeout)
        return wake

    def pong(self, frame: dict[str, Any], now: float, metrics: Metrics) -> None:
        if frame.get("seq") == self.seq and self.unanswered_since is not None:
            metrics.heartbeat_rtt.observe(now - self.last_sent)
        self.unanswered_since = None


async def serve_subscriber(c: Courier, ws: WebSocket, cid: int, token: str | None, after: int | None) -> None:
    """Push message events of one conversation; ?after=ID first replays what was missed."""

    async def refuse(code: int, reason: str) -> None:
        c.metrics.ws_closed.labels(str(code)).inc()
        await ws.close(code=code, reason=reason)

    try:
        user = await c.tokens.authenticate(token)
    except ApiError as exc:
        await refuse(4401 if exc.status == 401 else 1013, exc.error_code)
        return
    try:
        await c.cache.require(cid, user, lambda i: c.db.run(lambda conn: store.members(conn, i)))
    except ApiError as exc:
        await refuse(4000 + exc.status, exc.error_code)
        return
    except (DbUnavailable, SQLAlchemyError):
        await refuse(1013, "DB_UNAVAILABLE")
        return
    queue = c.hub.subscribe(cid)
    loop = asyncio.get_running_loop()
    beat = Heartbeat(c.settings.ws_heartbeat_s, c.settings.ws_heartbeat_timeout_s, last_sent=loop.time())
    try:
        await ws.accept()
        sent: set[int] = set()
        if after is not None:
            cursor = after
            while True:
                page = await c.db.run(
                    functools.partial(store.list_messages, cid=cid, user=user, after=cursor, limit=500)
                )
                for msg in page:
                    await ws.send_json({"type": "message.created", "message": msg})
                    sent.add(msg["id"])
                if len(page) < 500:
                    break
                cursor = page[-1]["id"]
        receiver = asyncio.create_task(_read_client(ws, beat, c.metrics))
        getter: asyncio.Task[dict[str, Any]] = asyncio.create_task(queue.get())
        try:
            while True:
                wake = beat.due(loop.time())
                timeout = None if wake is None else max(0.0, wake - loop.time())
                done, _ = await asyncio.wait({getter, receiver}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
                if receiver in done:
                    return
                if getter in done:
                    event = getter.result()
                    getter = asyncio.create_task(queue.get())
                    if event is BEHIND:
                        await refuse(1013, "subscriber fell behind; reconnect with ?after=")
                        return
                    mid = event["message"].get("id")
                    if mid not in sent:  # at-least-once upstream; each subscriber sees a message once
                        sent.add(mid)
                        if len(sent) > 50_000:
                            sent.clear()
                        await ws.send_json(event)
                now = loop.time()
                if beat.timeout > 0 and beat.unanswered_since is not None and now - beat.unanswered_since >= beat.timeout:
                    c.metrics.heartbeat_misses.inc()
                    await refuse(HEARTBEAT_TIMEOUT_CLOSE, "heartbeat timeout: no pong")
                    return
                if beat.interval > 0 and now >= beat.last_sent + beat.interval:
                    if beat.unanswered_since is not None and beat.timeout <= 0:
                        c.metrics.heartbeat_misses.inc()
                    beat.seq += 1
                    beat.last_sent = now
                    if beat.unanswered_since is None:
                        beat.unanswered_since = now
                    c.metrics.heartbeats.inc()
                    await ws.send_json({"type": "ping", "seq": beat.seq, "ts": time.time()})
        finally:
            receiver.cancel()
            getter.cancel()
    except (WebSocketDisconnect, DbUnavailable, RuntimeError):
        return
    finally:
        c.hub.unsubscribe(cid, queue)


async def _read_client(ws: WebSocket, beat: Heartbeat, metrics: Metrics) -> None:
    """Read client frames until the client goes away: pongs answer pings, anything else is ignored."""
    loop = asyncio.get_running_loop()
    while True:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            metrics.ws_closed.labels(str(message.get("code") or 1005)).inc()
            return
        text = message.get("text")
        if not text or '"pong"' not in text:
            continue
        with contextlib.suppress(ValueError):
            frame = json.loads(text)
            if isinstance(frame, dict) and frame.get("type") == "pong":
                beat.pong(frame, loop.time(), metrics)
