"""k6/ws and k6/experimental/websockets sessions of one JS VU, on assay's WebSocket client.

A session is `assay.load.ws.WsSession` (so ws_sessions, ws_connecting, ws_msgs_sent,
ws_msgs_received, ws_ping and ws_session_duration are recorded as for Python scenarios); a
reader task per session turns incoming messages and the close into events, which the
script's event loop (k6.js) takes one at a time with `next`, together with its timers.
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

from assay.load.http.response import Response
from assay.load.ws import WsError, WsSession, ws_connect


class Sessions:
    def __init__(self, vu: Any) -> None:
        self.vu = vu
        self.sessions: dict[int, WsSession] = {}
        self.readers: dict[int, asyncio.Task[None]] = {}
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.held: list[dict[str, Any]] = []
        self.seq = 0

    async def open(self, url: str, params: dict[str, Any]) -> dict[str, Any]:
        tags = {str(k): str(v) for k, v in (params.get("tags") or {}).items()}
        headers = {str(k): str(v) for k, v in (params.get("headers") or {}).items()}
        name = tags.pop("name", None)
        try:
            session = await ws_connect(self.vu, url, headers=headers or None, name=name, tags=tags or None,
                                       compression=bool(params.get("compression")))
        except WsError as exc:
            return {"id": -1, "status": exc.status, "error": str(exc), "response": _response(url, exc.status, str(exc))}
        self.seq += 1
        sid = self.seq
        self.sessions[sid] = session
        self.readers[sid] = asyncio.get_running_loop().create_task(self._read(sid, session))
        return {"id": sid, "status": 101, "response": _response(url, 101, "")}

    async def _read(self, sid: int, session: WsSession) -> None:
        while True:
            try:
                message = await session.recv(timeout=None)
            except WsError:
                code = session.conn.close_code or 1006
                await session.close()
                self.events.put_nowait({"type": "close", "id": sid, "code": code})
                return
            if isinstance(message, bytes):
                self.events.put_nowait({"type": "binaryMessage", "id": sid, "data": base64.b64encode(message).decode()})
            else:
                self.events.put_nowait({"type": "message", "id": sid, "data": message})

    async def send(self, sid: int, data: str | bytes) -> None:
        session = self.sessions.get(sid)
        if session is None or session.closed:
            return
        try:
            await session.send(data)
        except WsError as exc:
            self.events.put_nowait({"type": "error", "id": sid, "error": str(exc)})

    async def ping(self, sid: int) -> None:
        session = self.sessions.get(sid)
        if session is None or session.closed:
            return
        try:
            await session.ping()
        except WsError as exc:
            self.events.put_nowait({"type": "error", "id": sid, "error": str(exc)})
            return
        self.events.put_nowait({"type": "pong", "id": sid})

    async def close(self, sid: int, code: int = 1000) -> None:
        session = self.sessions.get(sid)
        if session is not None and not session.closed:
            await session.close(code)

    async def next(self, ids: list[int], wait_ms: float) -> dict[str, Any]:
        """The next event of one of `ids`, or {"type": "timer"} once `wait_ms` passed (-1: no limit)."""
        wanted = set(ids)
        for i, ev in enumerate(self.held):
            if ev["id"] in wanted:
                return self.held.pop(i)
        loop = asyncio.get_running_loop()
        deadline = None if wait_ms < 0 else loop.time() + wait_ms / 1000.0
        while True:
            try:
                if deadline is None:
                    ev = await self.events.get()
                else:
                    ev = await asyncio.wait_for(self.events.get(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                return {"type": "timer"}
            if ev["id"] in wanted:
                if ev["type"] == "close":
                    self.readers.pop(ev["id"], None)
                return ev
            self.held.append(ev)

    async def aclose(self) -> None:
        for sid in list(self.sessions):
            await self.close(sid)
        for task in self.readers.values():
            task.cancel()


def _response(url: str, status: int, error: str) -> Response:
    return Response(status, b"", b"", (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0), url, None, error, 0 if not error else 1000)


class WsHost:
    """k6/ws and k6/experimental/websockets host functions (a mixin of JsContext)."""

    vu: Any
    ws: Sessions | None
    driver: Any
    responses: list[Any]

    def _sessions(self) -> Any:
        if self.ws is None:
            if self.vu is None:
                raise RuntimeError("WebSockets are not allowed in the init context")
            self.ws = Sessions(self.vu)
        return self.ws

    def _h_ws_open(self, url: str, params: str | None) -> str:
        out = self.driver.wait(self._sessions().open(url, json.loads(params) if params else {}))
        if "response" in out:
            self.responses.append(out.pop("response"))
        return json.dumps(out)

    def _h_ws_send(self, sid: int, data: str, binary: int) -> None:
        self.driver.wait(self._sessions().send(int(sid), base64.b64decode(data) if binary else data))

    def _h_ws_ping(self, sid: int) -> None:
        self.driver.wait(self._sessions().ping(int(sid)))

    def _h_ws_close(self, sid: int, code: int) -> None:
        self.driver.wait(self._sessions().close(int(sid), int(code)))

    def _h_ws_next(self, sid: int, wait_ms: float) -> str:
        return json.dumps(self.driver.wait(self._sessions().next([int(sid)], wait_ms)))

    def _h_ws_wait(self, ids: str, wait_ms: float) -> str:
        return json.dumps(self.driver.wait(self._sessions().next([int(i) for i in json.loads(ids)], wait_ms)))
