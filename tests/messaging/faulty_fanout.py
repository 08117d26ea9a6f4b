"""A chat fan-out service that misbehaves on purpose, to prove the ledger catches each fault.

    python faulty_fanout.py PORT MODE EVERY

Users hold a WebSocket (`/ws?user=u1`); `POST /send` with `{"from": "u1", "to": ["u1", "u3"], ...}`
answers 201 and pushes the body to every connected user in `to` (a JSON frame sent on the
socket is routed the same way). With MODE, every EVERY-th
message (counted over the whole server) is mistreated:

- `lose`: pushed to nobody (still 201);
- `duplicate`: pushed twice to each recipient;
- `reorder`: held back for each recipient and pushed after the next message from the same sender;
- `misdeliver`: also pushed to a connected user who is not in `to`;
- `none`: nothing.

`GET /online` counts the connected users. `GET /stats` says exactly what it did, in the ledger's units: lost messages, duplicate
receipts, out-of-order receipts, misdelivered receipts.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections import defaultdict
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

MODE = sys.argv[2] if len(sys.argv) > 2 else "none"
EVERY = int(sys.argv[3]) if len(sys.argv) > 3 else 5

sockets: dict[str, WebSocket] = {}
stats = {"messages": 0, "lost": 0, "duplicated": 0, "out_of_order": 0, "misdelivered": 0}
# (recipient, sender) -> a message held back for reordering
held: dict[tuple[str, str], str] = {}
locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)


async def push(user: str, text: str) -> bool:
    ws = sockets.get(user)
    if ws is None:
        return False
    async with locks[user]:
        try:
            await ws.send_text(text)
        except Exception:  # noqa: BLE001 - a socket closing under us is the client's business
            return False
    return True


async def send(request: Request) -> Response:
    raw = await request.body()
    await route(json.loads(raw), raw.decode())
    return JSONResponse({"ok": True}, status_code=201)


async def route(doc: dict[str, Any], text: str) -> None:
    """Push one message to its recipients, mistreating every EVERY-th as MODE says."""
    sender, to = str(doc["from"]), [str(u) for u in doc["to"]]
    stats["messages"] += 1
    faulty = MODE != "none" and stats["messages"] % EVERY == 0
    if faulty and MODE == "lose":
        stats["lost"] += 1
        return
    for user in to:
        if user not in sockets:
            continue
        if faulty and MODE == "reorder":
            earlier = held.pop((user, sender), None)
            if earlier is not None:
                await push(user, earlier)
            held[(user, sender)] = text
            asyncio.get_running_loop().call_later(0.3, release, user, sender, text)
            continue
        await push(user, text)
        late = held.pop((user, sender), None)
        if late is not None and await push(user, late):
            stats["out_of_order"] += 1
        if faulty and MODE == "duplicate" and await push(user, text):
            stats["duplicated"] += 1
    if faulty and MODE == "misdeliver":
        outsider = next((u for u in sorted(sockets) if u not in to), None)
        if outsider is not None and await push(outsider, text):
            stats["misdelivered"] += 1


def release(user: str, sender: str, text: str) -> None:
    """No later message came from `sender` in time: push the held one (in order, then)."""
    if held.get((user, sender)) == text:
        del held[(user, sender)]
        asyncio.get_running_loop().create_task(push(user, text))


async def get_stats(request: Request) -> Response:
    return JSONResponse(stats)


async def online(request: Request) -> Response:
    return JSONResponse({"users": len(sockets)})


async def health(request: Request) -> Response:
    return JSONResponse({"ok": True})


async def ws_endpoint(ws: WebSocket) -> None:
    user = ws.query_params["user"]
    await ws.accept()
    sockets[user] = ws
    try:
        while True:
            text = await ws.receive_text()  # a message sent over the socket is routed like a POST
            await route(json.loads(text), text)
    except WebSocketDisconnect:
        pass
    finally:
        if sockets.get(user) is ws:
            del sockets[user]


app = Starlette(
    routes=[
        Route("/send", send, methods=["POST"]),
        Route("/stats", get_stats),
        Route("/health", health),
        Route("/online", online),
        WebSocketRoute("/ws", ws_endpoint),
    ]
)

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", ws="websockets")
