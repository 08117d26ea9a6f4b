"""Requests on kept-alive connections the server has closed: retried as Go's net/http (k6) retries them.

The server here is real (a thread with its own event loop) and closes keep-alive
connections that stay idle for IDLE_S, the way uvicorn (5 s), nginx or Go servers do. The
client's loop is blocked meanwhile (`time.sleep`), so the server's FIN is already on the
client's socket but not yet seen by its event loop when the next request picks the
connection: the race behind the soak's `connection reset by peer` bursts.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from assay.load.http.client import ClientOptions, HttpClient
from assay.load.runner import new_loop
from assay.load.sink import MetricsSink
from assay.load.vu import VU

IDLE_S = 0.05


class IdleClosingServer:
    """HTTP/1.1 keep-alive server that closes a connection idle for IDLE_S.

    `/drop` is read and then the connection is closed without an answer (a server that
    died mid-request: the request may have been processed). Every request is logged as
    (connection number, method, path, body).
    """

    def __init__(self) -> None:
        self.seen: list[tuple[int, str, str, bytes]] = []
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.port = 0
        self.connections = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        self.ready.wait(5)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self.ready.set()
        self.loop.run_forever()
        # stopped by close(): end the connections still open, then the loop (else their
        # coroutines are finalised later on a closed loop, an unraisable-exception warning)
        server.close()
        pending = asyncio.all_tasks(self.loop)
        for task in pending:
            task.cancel()
        self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self.loop.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number = self.connections
        try:
            while True:
                try:
                    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), IDLE_S)
                except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
                    return  # idle too long (or the client went): close
                lines = head.decode().split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                length = 0
                for line in lines[1:]:
                    if line.lower().startswith("content-length:"):
                        length = int(line.split(":", 1)[1])
                body = await reader.readexactly(length) if length else b""
                self.seen.append((number, method, path, body))
                if path == "/drop" and sum(1 for s in self.seen if s[2] == "/drop") == 2:
                    return  # the second /drop: read, then closed without an answer
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok")
                await writer.drain()
        finally:
            writer.transport.abort()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture
def server() -> Iterator[IdleClosingServer]:
    srv = IdleClosingServer()
    yield srv
    srv.close()


def run_vu(fn: Any) -> tuple[Any, dict[str, Any]]:
    async def main() -> Any:
        sink = MetricsSink()
        vu = VU(id=1, scenario="t", sink=sink, http=HttpClient(sink, ClientOptions()), env={})
        try:
            out = await fn(vu)
        finally:
            await vu.http.close()
        sink.tick(0.0)
        return out, sink.to_metrics()

    with asyncio.Runner(loop_factory=new_loop) as runner:
        return runner.run(main())


def _server_closed_idle(vu: VU) -> None:
    """Block the client's loop until the server has closed the idle connection (its FIN is
    on the socket, unread by the loop)."""
    time.sleep(IDLE_S * 6)


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "GET"])
def test_a_request_on_a_connection_the_server_closed_while_idle_is_sent_on_a_new_one(
    server: IdleClosingServer, method: str
) -> None:
    url = f"http://127.0.0.1:{server.port}/items"

    async def it(vu: VU) -> list[Any]:
        first = await vu.http.request(method, url, body=b'{"n":1}' if method != "GET" else None)
        _server_closed_idle(vu)
        second = await vu.http.request(method, url, body=b'{"n":2}' if method != "GET" else None)
        return [first, second]

    responses, m = run_vu(it)
    assert [(r.status, r.error) for r in responses] == [(200, ""), (200, "")]
    assert m["http_reqs"].sum == 2
    assert m["http_req_failed"].passes == 0
    # sent once each, the second on a new connection: nothing was sent twice
    assert [(s[0], s[1]) for s in server.seen] == [(1, method), (2, method)]
    if method != "GET":
        assert [s[3] for s in server.seen] == [b'{"n":1}', b'{"n":2}']


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_a_request_the_server_read_and_then_dropped_is_not_sent_again(server: IdleClosingServer, method: str) -> None:
    """Go's rule: once written, only a replayable request (GET, HEAD, OPTIONS, TRACE, or one
    with an Idempotency-Key) is retried; a POST the server may have processed is a failure."""
    url = f"http://127.0.0.1:{server.port}/drop"

    async def it(vu: VU) -> list[Any]:
        return [await vu.http.request(method, url, body=b"a"), await vu.http.request(method, url, body=b"b")]

    responses, m = run_vu(it)
    assert responses[0].status == 200
    assert responses[1].status == 0 and responses[1].error_code != 0
    assert m["http_req_failed"].passes == 1
    assert [s[3] for s in server.seen] == [b"a", b"b"]


@pytest.mark.parametrize(
    ("method", "headers"),
    [("GET", None), ("POST", {"Idempotency-Key": "k-1"}), ("POST", {"X-Idempotency-Key": "k-1"})],
)
def test_replayable_requests_the_server_dropped_are_retried_once(
    server: IdleClosingServer, method: str, headers: dict[str, str] | None
) -> None:
    url = f"http://127.0.0.1:{server.port}/drop"

    async def it(vu: VU) -> list[Any]:
        return [await vu.http.request(method, url, headers=headers) for _ in range(2)]

    responses, m = run_vu(it)
    assert [r.status for r in responses] == [200, 200]
    assert m["http_req_failed"].passes == 0 and m["http_reqs"].sum == 2
    # the dropped one reached the server twice: the first time on the kept-alive connection
    assert [(s[0], s[2]) for s in server.seen] == [(1, "/drop"), (1, "/drop"), (2, "/drop")]


def test_a_fresh_connection_that_fails_is_not_retried(server: IdleClosingServer) -> None:
    """Go retries only on reused connections: a new one the server drops is the server's fault."""
    url = f"http://127.0.0.1:{server.port}/drop"

    async def it(vu: VU) -> list[Any]:
        first = await vu.http.get(url)
        _server_closed_idle(vu)
        await asyncio.sleep(0.05)  # the loop sees the close: the next request needs a new connection
        return [first, await vu.http.get(url)]

    responses, m = run_vu(it)
    assert [r.status for r in responses] == [200, 0]
    assert m["http_req_failed"].passes == 1
    assert [s[0] for s in server.seen] == [1, 2]


def test_idle_closing_server_really_closes(server: IdleClosingServer) -> None:
    """The fixture itself: an idle keep-alive connection is closed by the server."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=2) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(100).endswith(b"ok")
        time.sleep(IDLE_S * 4)
        assert sock.recv(100) == b""
