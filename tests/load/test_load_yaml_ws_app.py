"""A real local service for the YAML and WebSocket tests: CRUD over HTTP, echo and fan-out over WS.

Served by uvicorn on 127.0.0.1 on an ephemeral port, in a thread of the test process, and
stopped when the `with` block ends. Imported by test_load_yaml*.py and test_load_ws*.py.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from assay.harness.ports import free_port


class AppState:
    def __init__(self) -> None:
        self.items: dict[int, dict[str, Any]] = {}
        self.ids = itertools.count(1)
        self.subscribers: set[WebSocket] = set()
        self.hits: dict[str, int] = {}
        self.seen_headers: list[dict[str, str]] = []
        self.echo_bodies: list[str] = []


def build_app(state: AppState) -> Starlette:
    def hit(request: Request) -> None:
        key = f"{request.method} {request.url.path}"
        state.hits[key] = state.hits.get(key, 0) + 1

    async def create(request: Request) -> Response:
        hit(request)
        data = await request.json()
        item_id = next(state.ids)
        item = {"id": item_id, **data}
        state.items[item_id] = item
        state.seen_headers.append(dict(request.headers))
        return JSONResponse(item, status_code=201, headers={"Location": f"/items/{item_id}"})

    async def list_items(request: Request) -> Response:
        hit(request)
        return JSONResponse({"items": list(state.items.values()), "count": len(state.items)})

    async def one(request: Request) -> Response:
        hit(request)
        item_id = int(request.path_params["item_id"])
        if request.method == "DELETE":
            if state.items.pop(item_id, None) is None:
                return JSONResponse({"error": "not found"}, status_code=404)
            return Response(status_code=204)
        if item_id not in state.items:
            return JSONResponse({"error": "not found"}, status_code=404)
        if request.method == "PUT":
            data = await request.json()
            state.items[item_id] = {**state.items[item_id], **data, "id": item_id}
        return JSONResponse(state.items[item_id])

    async def echo(request: Request) -> Response:
        hit(request)
        body = (await request.body()).decode()
        state.echo_bodies.append(body)
        return JSONResponse(
            {
                "method": request.method,
                "path": request.url.path,
                "query": dict(request.query_params),
                "headers": dict(request.headers),
                "body": body,
            }
        )

    async def login(request: Request) -> Response:
        hit(request)
        data = await request.json()
        token = f"tok-{data.get('user', 'anon')}"
        return PlainTextResponse(f"welcome {data.get('user')}; session={token}; bye", headers={"X-Session": token})

    async def whoami(request: Request) -> Response:
        hit(request)
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer tok-"):
            return JSONResponse({"error": "no session"}, status_code=401)
        return JSONResponse({"user": auth.removeprefix("Bearer tok-")})

    async def slow(request: Request) -> Response:
        await asyncio.sleep(int(request.query_params.get("ms", "50")) / 1000)
        return PlainTextResponse("slow")

    async def publish(request: Request) -> Response:
        data = await request.json()
        delay = int(request.query_params.get("delay_ms", "0")) / 1000
        drop = request.query_params.get("drop") == "1"

        async def fan_out() -> None:
            if delay:
                await asyncio.sleep(delay)
            if drop:
                return
            for ws in list(state.subscribers):
                try:
                    await ws.send_json(data)
                except Exception:
                    state.subscribers.discard(ws)

        asyncio.get_running_loop().create_task(fan_out())
        return JSONResponse({"accepted": True}, status_code=202)

    async def ws_echo(ws: WebSocket) -> None:
        await ws.accept()
        try:
            while True:
                msg = await ws.receive()
                if msg["type"] == "websocket.disconnect":
                    return
                if msg.get("text") is not None:
                    text = msg["text"]
                    if text.startswith("delay:"):
                        ms, _, rest = text[6:].partition(":")
                        await asyncio.sleep(int(ms) / 1000)
                        await ws.send_text(rest)
                    elif text == "twice":
                        await ws.send_text("noise")
                        await ws.send_text("answer")
                    else:
                        await ws.send_text(text)
                elif msg.get("bytes") is not None:
                    await ws.send_bytes(msg["bytes"])
        except WebSocketDisconnect:
            return

    async def ws_subscribe(ws: WebSocket) -> None:
        await ws.accept()
        state.subscribers.add(ws)
        try:
            while True:
                msg = await ws.receive()
                if msg["type"] == "websocket.disconnect":
                    return
        except WebSocketDisconnect:
            return
        finally:
            state.subscribers.discard(ws)

    async def ws_refuse(ws: WebSocket) -> None:
        await ws.accept()
        await ws.close(code=1008)

    return Starlette(
        routes=[
            Route("/items", create, methods=["POST"]),
            Route("/items", list_items, methods=["GET"]),
            Route("/items/{item_id:int}", one, methods=["GET", "PUT", "DELETE"]),
            Route("/echo", echo, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
            Route("/login", login, methods=["POST"]),
            Route("/whoami", whoami, methods=["GET"]),
            Route("/slow", slow, methods=["GET"]),
            Route("/publish", publish, methods=["POST"]),
            WebSocketRoute("/ws/echo", ws_echo),
            WebSocketRoute("/ws/subscribe", ws_subscribe),
            WebSocketRoute("/ws/refuse", ws_refuse),
        ]
    )


class Served:
    def __init__(self, port: int, state: AppState) -> None:
        self.port = port
        self.state = state
        self.url = f"http://127.0.0.1:{port}"
        self.ws_url = f"ws://127.0.0.1:{port}"


@contextmanager
def serve() -> Iterator[Served]:
    """Run the app on 127.0.0.1:<free port> in a background thread until the block ends."""
    state = AppState()
    port = free_port()
    config = uvicorn.Config(
        build_app(state), host="127.0.0.1", port=port, log_level="warning", lifespan="off", ws="websockets-sansio"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"test-app-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test app did not start")
        time.sleep(0.01)
    try:
        yield Served(port, state)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
