"""A WebSocket server for the close-code, disconnect, heartbeat and payload tests (websockets, real sockets).

Paths: /echo echoes; /close1011 closes with 1011 after the first message; /bye closes
normally (1000) after the first message; /drop aborts the TCP connection after the first
message (1006); /drop-soon aborts it 0.1 s after opening, while the client says nothing;
/forbidden refuses the handshake with HTTP 403; /corrupt echoes, flipping one character of
every second message; /mute completes the opening handshake by hand and then never answers
anything, pings included. `WsServer.closes` lists (path, close code the client sent, 1006
without a close frame) for every session that ended.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from assay.harness.ports import free_port
from assay.load.http.client import HttpClient
from assay.load.sink import MetricsSink
from assay.load.vu import VU
from assay.results import Metric

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


CLOSES: list[tuple[str, int | None]] = []


def _refuse(conn: ServerConnection, request: Request) -> Response | None:
    if request.path == "/forbidden":
        return Response(403, "Forbidden", Headers([("Content-Length", "0")]), b"")
    return None


async def _handler(ws: ServerConnection) -> None:
    path = ws.request.path if ws.request is not None else "/"
    n = 0
    if path == "/drop-soon":
        await asyncio.sleep(0.1)
        ws.transport.abort()
        return
    try:
        async for message in ws:
            n += 1
            if path == "/close1011":
                await ws.close(1011, "internal error")
                return
            if path == "/bye":
                await ws.close(1000, "done")
                return
            if path == "/drop":
                ws.transport.abort()
                return
            if path == "/corrupt" and n % 2 == 0 and isinstance(message, str):
                i = len(message) // 2
                message = message[:i] + ("A" if message[i] != "A" else "B") + message[i + 1 :]
            await ws.send(message)
    except ConnectionClosed:
        return
    finally:
        await ws.wait_closed()
        CLOSES.append((path, ws.close_code))


async def _mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    key = next(line.split(b":", 1)[1].strip() for line in head.split(b"\r\n") if line.lower().startswith(b"sec-websocket-key"))
    accept = base64.b64encode(hashlib.sha1(key + GUID.encode()).digest())
    writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
    await writer.drain()
    while await reader.read(65536):
        pass  # read everything, answer nothing
    writer.close()


class WsServer:
    def __init__(self, port: int, mute_port: int) -> None:
        self.url = f"ws://127.0.0.1:{port}"
        self.mute_url = f"ws://127.0.0.1:{mute_port}/mute"
        self.closes = CLOSES


@contextmanager
def ws_server() -> Iterator[WsServer]:
    port, mute_port = free_port(), free_port()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    stop: asyncio.Future[None] | None = None

    async def main() -> None:
        nonlocal stop
        stop = loop.create_future()
        mute = await asyncio.start_server(_mute, "127.0.0.1", mute_port)
        async with serve(_handler, "127.0.0.1", port, max_size=None, process_request=_refuse), mute:
            ready.set()
            await stop

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    if not ready.wait(10):
        raise RuntimeError("the WebSocket test server did not start")
    try:
        yield WsServer(port, mute_port)
    finally:
        loop.call_soon_threadsafe(lambda: stop.set_result(None) if stop is not None and not stop.done() else None)
        thread.join(10)


def session_metrics(coro_fn: Callable[[VU], Awaitable[None]], *filters: str) -> dict[str, Metric]:
    """Run `coro_fn(vu)` on one VU of a fresh sink; its metrics (and the tag `filters` asked for)."""
    sink = MetricsSink()

    async def main() -> None:
        vu = VU(id=1, scenario="ws", sink=sink, http=HttpClient(sink), env={})
        await coro_fn(vu)
        await vu.http.close()

    asyncio.run(main())
    sink.tick(time.time())
    return sink.to_metrics(filters)
