"""A small, fast HTTP/1.1 target server for the load engine's tests (run as a subprocess).

    python load_target.py PORT

Routes: / (200 "ok"), /status/N, /delay/MS, /json, /gzip, /cookie/set, /cookie/echo,
/redirect/N (N hops then /), /echo (method, headers, body as JSON), /close (answers then
closes), /reset (closes without answering), /hang (never answers), /count (requests seen),
/stall?period=S&stall=S (stalls `stall` seconds out of every `period`).
"""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
import sys
import time

import httptools
import uvloop

COUNT = [0]
T0 = time.monotonic()


class Handler(asyncio.Protocol):
    def __init__(self) -> None:
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = b""
        self.queue: list[tuple[bytes, list[tuple[bytes, bytes]], bytes, str]] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.transport.close()  # type: ignore[union-attr]

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        COUNT[0] += 1
        url, headers, body = self.url, self.headers, self.body
        method = self.parser.get_method().decode()
        self.url, self.headers, self.body = b"", [], b""
        asyncio.get_event_loop().create_task(self.respond(method, url.decode(), headers, body))

    def send(self, status: int, body: bytes, extra: list[str] | None = None, ctype: str = "text/plain") -> None:
        lines = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}", f"Content-Type: {ctype}"] + (extra or [])
        self.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)  # type: ignore[union-attr]

    async def respond(self, method: str, url: str, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        path, _, query = url.partition("?")
        params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
        if path == "/":
            self.send(200, b"ok")
        elif path.startswith("/status/"):
            self.send(int(path.split("/")[2]), b"status")
        elif path.startswith("/delay/"):
            await asyncio.sleep(float(path.split("/")[2]) / 1000.0)
            self.send(200, b"delayed")
        elif path == "/json":
            self.send(200, json.dumps({"id": 7, "items": [{"name": "a"}, {"name": "b"}]}).encode(), ctype="application/json")
        elif path == "/gzip":
            self.send(200, gzip.compress(b"hello gzip" * 10), ["Content-Encoding: gzip"])
        elif path == "/cookie/set":
            self.send(200, b"set", ["Set-Cookie: session=abc123; Path=/", "Set-Cookie: other=x; Path=/"])
        elif path == "/cookie/echo":
            cookie = next((v for n, v in headers if n.lower() == b"cookie"), b"")
            self.send(200, cookie)
        elif path.startswith("/redirect/"):
            n = int(path.split("/")[2])
            self.send(302, b"", [f"Location: /redirect/{n - 1}" if n > 1 else "Location: /"])
        elif path == "/echo":
            data = {"method": method, "headers": {n.decode().lower(): v.decode() for n, v in headers}, "body": body.decode()}
            self.send(200, json.dumps(data).encode(), ctype="application/json")
        elif path == "/close":
            self.send(200, b"bye", ["Connection: close"])
            self.transport.close()  # type: ignore[union-attr]
        elif path == "/reset":
            sock = self.transport.get_extra_info("socket")  # type: ignore[union-attr]
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            self.transport.abort()  # type: ignore[union-attr]
        elif path == "/hang":
            await asyncio.sleep(3600)
        elif path == "/count":
            self.send(200, str(COUNT[0]).encode())
        elif path == "/stall":
            period = float(params.get("period", "1"))
            stall = float(params.get("stall", "0.1"))
            phase = (time.monotonic() - T0) % period
            if phase < stall:
                await asyncio.sleep(stall - phase)
            self.send(200, b"ok")
        else:
            self.send(404, b"not found")


def main() -> None:
    port = int(sys.argv[1])
    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    server = loop.run_until_complete(loop.create_server(Handler, "127.0.0.1", port, backlog=1024))
    try:
        loop.run_forever()
    finally:
        server.close()


if __name__ == "__main__":
    main()
