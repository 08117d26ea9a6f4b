"""Hostile HTTP servers on 127.0.0.1 for the load engine's tests (and to run by hand).

    python hostile_servers.py MODE PORT        # serves until killed

Each mode misbehaves in one way a real server (or a middlebox) can; every byte it sends is
bounded, so a client that never gives up still cannot make a test run forever:

    close      accept and close at once, before reading anything
    garbage    answer every request with bytes that are not HTTP, then close
    stall      read the request, send a head promising 100 bytes of body, send nothing more
    noread     accept and never read or answer
    drip       a valid 200 response sent one byte every 100 ms
    endless    a status line, then one header line that never ends (up to 64 MiB)
    huge       a 200 with a 50 MB body, sent as fast as the client reads it
    badchunk   a chunked response whose second chunk size is not hexadecimal
    truncated  a 200 promising 1,000 bytes of body that closes after 10
    ok         not hostile: 200 "ok" on a kept-alive connection (for the signal tests)
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from collections.abc import Awaitable, Callable, Iterator

MODES = ("close", "garbage", "stall", "noread", "drip", "endless", "huge", "badchunk", "truncated", "ok")
HUGE_BODY = 50 * 1000 * 1000
ENDLESS_MAX = 64 * 1024 * 1024
_BLOCK = b"x" * 65536


async def _read_request(reader: asyncio.StreamReader) -> bool:
    """Read up to the end of one request head (these servers ignore request bodies)."""
    try:
        await reader.readuntil(b"\r\n\r\n")
        return True
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        return False


async def _close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.transport.abort()


async def _garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    if await _read_request(reader):
        writer.write(b"\x00\xffNOT HTTP AT ALL\r\n\x01\x02\r\n\r\n")
        await writer.drain()
    writer.close()


async def _stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    if await _read_request(reader):
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
        await writer.drain()
        await reader.read()  # until the client gives up


async def _noread(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.transport.pause_reading()
    with contextlib.suppress(ConnectionError):
        while not writer.transport.is_closing():
            await asyncio.sleep(0.2)


async def _drip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    body = b"0123456789" * 10
    response = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    while await _read_request(reader):
        for i in range(len(response)):
            if writer.transport.is_closing():
                return
            writer.write(response[i : i + 1])
            await asyncio.sleep(0.1)


async def _endless(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    if await _read_request(reader):
        writer.write(b"HTTP/1.1 200 OK\r\nX-Endless: ")
        sent = 0
        with contextlib.suppress(ConnectionError):
            while sent < ENDLESS_MAX and not writer.transport.is_closing():
                writer.write(_BLOCK)
                sent += len(_BLOCK)
                await writer.drain()
    writer.close()


async def _huge(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while await _read_request(reader):
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % HUGE_BODY)
            sent = 0
            while sent < HUGE_BODY:
                piece = _BLOCK[: min(len(_BLOCK), HUGE_BODY - sent)]
                writer.write(piece)
                sent += len(piece)
                await writer.drain()
    writer.close()


async def _badchunk(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    if await _read_request(reader):
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\nbroken\r\n0\r\n\r\n")
        with contextlib.suppress(ConnectionError):
            await writer.drain()
            await asyncio.wait_for(reader.read(), 5.0)
    writer.close()


async def _truncated(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    if await _read_request(reader):
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789")
        await writer.drain()
    writer.close()


async def _ok(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while await _read_request(reader):
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()


HANDLERS: dict[str, Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]] = {
    "close": _close,
    "garbage": _garbage,
    "stall": _stall,
    "noread": _noread,
    "drip": _drip,
    "endless": _endless,
    "huge": _huge,
    "badchunk": _badchunk,
    "truncated": _truncated,
    "ok": _ok,
}


async def _serve(mode: str, port: int, ready: Callable[[int], None], stop: asyncio.Event) -> None:
    handler = HANDLERS[mode]

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await handler(reader, writer)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.transport.abort()

    server = await asyncio.start_server(on_client, "127.0.0.1", port)
    ready(int(server.sockets[0].getsockname()[1]))
    async with server:
        await stop.wait()


@contextlib.contextmanager
def hostile_server(mode: str) -> Iterator[str]:
    """Serve `mode` on an ephemeral port in a background thread; yields the base URL."""
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    bound: list[int] = []
    started = threading.Event()

    def ready(port: int) -> None:
        bound.append(port)
        started.set()

    def main() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(_serve(mode, 0, ready, stop))
        finally:
            started.set()
            for task in asyncio.all_tasks(loop):
                task.cancel()
            loop.run_until_complete(asyncio.sleep(0))
            loop.close()

    thread = threading.Thread(target=main, name=f"hostile-{mode}", daemon=True)
    thread.start()
    started.wait(10)
    if not bound:
        raise RuntimeError(f"the {mode} server did not start")
    try:
        yield f"http://127.0.0.1:{bound[0]}"
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)


if __name__ == "__main__":
    mode_arg, port_arg = sys.argv[1], int(sys.argv[2])
    asyncio.run(_serve(mode_arg, port_arg, lambda p: print(f"{mode_arg} on 127.0.0.1:{p}", flush=True), asyncio.Event()))
