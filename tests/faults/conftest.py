"""Helpers for the fault proxy tests: a server per module, an echo upstream, raw sockets."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator

import httpx
import pytest

from assay.faults.server import ProxyServer


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        sock: socket.socket = self.request
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False
    request_queue_size = 1024


@pytest.fixture(scope="module")
def echo_server() -> Iterator[str]:
    """A TCP echo server on loopback (echoes until EOF, then half-closes)."""
    server = _Server(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def server() -> Iterator[ProxyServer]:
    s = ProxyServer(port=0).start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def api(server: ProxyServer) -> Iterator[httpx.Client]:
    client = httpx.Client(base_url=server.url, timeout=10)
    try:
        yield client
    finally:
        for name in list(client.get("/proxies").json()):
            client.delete(f"/proxies/{name}")
        client.close()
