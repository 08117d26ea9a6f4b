"""Kernel forwarding (splice) of bulk streams on links with no toxics: byte-exact both
ways with half-close and counters, and a toxic added to a spliced connection takes it
back to the userspace chain at once, in order, with no leaked descriptors or tasks."""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import threading
import time
from typing import Any

import httpx
import pytest
from faults_helpers import connect, recv_exactly

from assay.faults import splice
from assay.faults.server import ProxyServer

pytestmark = pytest.mark.skipif(not splice.AVAILABLE, reason="os.splice is Linux-only")

BLOCK = 1 << 20


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _tasks(server: ProxyServer) -> int:
    async def count() -> int:
        return len(asyncio.all_tasks())

    return int(server.call(count()))


def _links(server: ProxyServer, name: str) -> list[dict[str, Any]]:
    """Per connection and direction: spliced or not, and the toxics in its chain."""

    async def look() -> list[dict[str, Any]]:
        proxy = server.collection.proxies[name]
        return [
            {"dir": link.direction, "spliced": link.splice is not None, "stubs": [s.name for s in link.stubs]}
            for conn in proxy.connections
            for link in (conn.up, conn.down)
        ]

    return list(server.call(look()))


def _wait(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.01)


def _settle(server: ProxyServer, api: httpx.Client, name: str, fds: int, tasks: int) -> None:
    try:
        _wait(lambda: api.get(f"/proxies/{name}").json()["stats"]["connections_active"] == 0
              and _fds() <= fds and _tasks(server) <= tasks)
    except AssertionError:
        active = api.get(f"/proxies/{name}").json()["stats"]["connections_active"]
        raise AssertionError(f"leak: fds {_fds()} (was {fds}), tasks {_tasks(server)} (was {tasks}), active {active}") from None


def _pattern(i: int) -> bytes:
    return hashlib.sha256(b"%d" % i).digest() * (BLOCK // 32)


class _Sink(threading.Thread):
    """An upstream that counts (and hashes) what it receives, then half-closes."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.srv = socket.create_server(("127.0.0.1", 0))
        self.addr = f"127.0.0.1:{self.srv.getsockname()[1]}"
        self.received = 0
        self.digest = hashlib.sha256()

    def run(self) -> None:
        conn, _ = self.srv.accept()
        buf = bytearray(BLOCK)
        with conn:
            while n := conn.recv_into(buf):
                self.received += n
                self.digest.update(memoryview(buf)[:n])
            conn.shutdown(socket.SHUT_WR)
        self.srv.close()


def test_bulk_echo_is_spliced_byte_exact_with_half_close_and_counters(
    server: ProxyServer, api: httpx.Client, echo_server: str
) -> None:
    api.get("/version")
    listen = api.post("/proxies", json={"name": "bulk", "upstream": echo_server, "listen": "127.0.0.1:0"}).json()["listen"]
    fds, tasks = _fds(), _tasks(server)
    blocks = 24
    sent, got = hashlib.sha256(), hashlib.sha256()
    received = [0]
    seen_spliced = {"upstream": False, "downstream": False}
    with connect(listen) as s:

        def reader() -> None:
            buf = bytearray(BLOCK)
            while n := s.recv_into(buf):
                got.update(memoryview(buf)[:n])
                received[0] += n

        t = threading.Thread(target=reader)
        t.start()
        for i in range(blocks):
            block = _pattern(i)
            sent.update(block)
            s.sendall(block)
            for link in _links(server, "bulk"):
                seen_spliced[link["dir"]] |= link["spliced"]
        s.shutdown(socket.SHUT_WR)  # the FIN crosses the spliced link; the echo's FIN comes back
        t.join(30)
        assert not t.is_alive()
    assert received[0] == blocks * BLOCK
    assert got.digest() == sent.digest()
    assert seen_spliced == {"upstream": True, "downstream": True}
    stats = api.get("/proxies/bulk").json()["stats"]
    assert stats["bytes_upstream_received"] == stats["bytes_upstream_sent"] == blocks * BLOCK
    assert stats["bytes_downstream_received"] == stats["bytes_downstream_sent"] == blocks * BLOCK
    _settle(server, api, "bulk", fds, tasks)


def test_toxic_added_to_spliced_link_applies_at_once_and_keeps_order(server: ProxyServer, api: httpx.Client) -> None:
    api.get("/version")
    sink = _Sink()
    listen = api.post("/proxies", json={"name": "hand", "upstream": sink.addr, "listen": "127.0.0.1:0"}).json()["listen"]
    fds, tasks = _fds() - 1, _tasks(server)  # the sink's listener closes after its one connection
    sink.start()
    sent = hashlib.sha256()
    total = 0
    with connect(listen) as s:

        def send(i: int) -> None:
            nonlocal total
            block = _pattern(i)
            sent.update(block)
            s.sendall(block)
            total += len(block)

        i = 0
        while not any(link["spliced"] for link in _links(server, "hand")):
            send(i)
            i += 1
            assert i < 200, "the bulk stream was never spliced"
        # Toxics that keep every byte, added and removed while the stream is spliced.
        for kind, attrs in (("slicer", {"average_size": 70_000, "size_variation": 10_000}), ("latency", {"latency": 1})):
            r = api.post("/proxies/hand/toxics", json={"name": kind, "type": kind, "stream": "upstream", "attributes": attrs})
            assert r.status_code == 200, r.text
            up = [link for link in _links(server, "hand") if link["dir"] == "upstream"]
            assert up == [{"dir": "upstream", "spliced": False, "stubs": [kind]}]
            for _ in range(3):
                send(i)
                i += 1
            assert api.delete(f"/proxies/hand/toxics/{kind}").status_code == 204
            while not any(link["spliced"] for link in _links(server, "hand")):  # spliced again
                send(i)
                i += 1
                assert i < 400, "the bulk stream was not spliced again"
        # A timeout toxic (drop everything) stops bytes reaching the upstream from the moment it exists.
        _wait(lambda: sink.received == total)
        assert sink.digest.digest() == sent.digest()  # every byte so far, in order, across the hand-overs
        assert any(link["spliced"] for link in _links(server, "hand"))
        assert api.post("/proxies/hand/toxics", json={"name": "t", "type": "timeout", "stream": "upstream"}).status_code == 200
        before = api.get("/proxies/hand").json()["stats"]
        assert before["bytes_upstream_sent"] == total
        for _ in range(4):
            s.sendall(_pattern(0))
        _wait(lambda: api.get("/proxies/hand").json()["stats"]["bytes_upstream_received"] >= before["bytes_upstream_received"] + 4 * BLOCK)
        assert api.get("/proxies/hand").json()["stats"]["bytes_upstream_sent"] == before["bytes_upstream_sent"]
        assert sink.received == total
        assert api.delete("/proxies/hand/toxics/t").status_code == 204  # removal closes what it held
    sink.join(10)
    _settle(server, api, "hand", fds, tasks)


def test_loopback_sockets_are_not_paced_by_bbr(server: ProxyServer, api: httpx.Client, echo_server: str) -> None:
    """The proxy's own sockets to loopback peers use an unpaced congestion control when the
    kernel default is BBR (its pacing caps loopback bulk streams), and the default otherwise."""
    listen = api.post("/proxies", json={"name": "cc", "upstream": echo_server, "listen": "127.0.0.1:0"}).json()["listen"]
    probe = socket.socket()
    default = probe.getsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, 16).rstrip(b"\0")
    probe.close()

    async def names() -> list[bytes]:
        out = []
        for conn in server.collection.proxies["cc"].connections:
            for t in (conn.client, conn.upstream):
                sock = t.get_extra_info("socket")
                out.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, 16).rstrip(b"\0"))
        return out

    with connect(listen) as s:
        s.sendall(b"ping")
        assert recv_exactly(s, 4) == b"ping"
        got = server.call(names())
    assert len(got) == 2
    if default == b"bbr":
        assert all(name in (b"cubic", b"reno") for name in got), got
    else:
        assert got == [default, default]
