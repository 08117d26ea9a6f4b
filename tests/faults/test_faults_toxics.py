"""Each standard toxic's exact semantics on real sockets (faults.md §1 toxic table)."""

from __future__ import annotations

import select
import socket
import socketserver
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from faults_helpers import closed_by_peer, connect, recv_all, recv_exactly


def _proxy(api: httpx.Client, name: str, upstream: str) -> str:
    r = api.post("/proxies", json={"name": name, "upstream": upstream, "listen": "127.0.0.1:0"})
    assert r.status_code == 201, r.text
    return str(r.json()["listen"])


def _toxic(api: httpx.Client, proxy: str, body: dict[str, object]) -> dict[str, object]:
    r = api.post(f"/proxies/{proxy}/toxics", json=body)
    assert r.status_code == 200, r.text
    return dict(r.json())


def _round_trip(sock: socket.socket, payload: bytes = b"ping") -> float:
    start = time.monotonic()
    sock.sendall(payload)
    assert recv_exactly(sock, len(payload)) == payload
    return time.monotonic() - start


def _fastest(sock: socket.socket, tries: int = 3) -> float:
    """The best of a few round trips: a loaded machine may stall one of them."""
    return min(_round_trip(sock) for _ in range(tries))


def test_latency_applies_to_existing_connections_and_is_removed(api: httpx.Client, echo_server: str) -> None:
    listen = _proxy(api, "lat", echo_server)
    with connect(listen) as s:
        assert _fastest(s) < 0.2
        _toxic(api, "lat", {"type": "latency", "attributes": {"latency": 250}})
        assert _round_trip(s) >= 0.25
        api.patch("/proxies/lat/toxics/latency_downstream", json={"attributes": {"latency": 400}})
        assert _round_trip(s) >= 0.4
        api.delete("/proxies/lat/toxics/latency_downstream")
        assert _fastest(s) < 0.2


def test_latency_is_pipelined_not_cumulative(api: httpx.Client, echo_server: str) -> None:
    listen = _proxy(api, "pipe", echo_server)
    _toxic(api, "pipe", {"type": "latency", "stream": "upstream", "attributes": {"latency": 200}})
    with connect(listen) as s:
        start = time.monotonic()
        for i in range(10):  # ten chunks sent back to back: each delayed 200 ms from its read time
            s.sendall(b"%02d" % i)
            time.sleep(0.01)
        got = recv_exactly(s, 20)
        elapsed = time.monotonic() - start
    assert got == b"".join(b"%02d" % i for i in range(10))
    assert 0.2 <= elapsed < 1.5  # 10 x 200 ms would be 2 s


def test_latency_jitter_spreads_delays(api: httpx.Client, echo_server: str) -> None:
    listen = _proxy(api, "jit", echo_server)
    _toxic(api, "jit", {"type": "latency", "attributes": {"latency": 100, "jitter": 80}})
    with connect(listen) as s:
        delays = [_round_trip(s) for _ in range(12)]
    assert min(delays) >= 0.019
    assert max(delays) - min(delays) > 0.02


def test_bandwidth_limits_rate(api: httpx.Client, echo_server: str) -> None:
    listen = _proxy(api, "bw", echo_server)
    _toxic(api, "bw", {"type": "bandwidth", "attributes": {"rate": 200}})  # 200 KB/s
    payload = bytes(range(256)) * 400  # 102,400 bytes: at least 0.5 s
    with connect(listen) as s:
        start = time.monotonic()
        s.sendall(payload)
        assert recv_exactly(s, len(payload)) == payload
        assert time.monotonic() - start >= 0.45


def test_slow_close_delays_the_close(api: httpx.Client, echo_server: str) -> None:
    listen = _proxy(api, "sc", echo_server)
    _toxic(api, "sc", {"type": "slow_close", "attributes": {"delay": 400}})
    with connect(listen) as s:
        s.sendall(b"bye")
        s.shutdown(socket.SHUT_WR)
        start = time.monotonic()
        assert recv_all(s) == b"bye"
        assert time.monotonic() - start >= 0.38


def test_timeout_drops_data_then_closes(api: httpx.Client, echo_server: str) -> None:
    listen = _proxy(api, "to", echo_server)
    _toxic(api, "to", {"type": "timeout", "stream": "upstream", "attributes": {"timeout": 300}})
    with connect(listen) as s:
        start = time.monotonic()
        s.sendall(b"lost")
        assert recv_all(s) == b""  # nothing arrives, then a clean close (FIN)
        assert time.monotonic() - start >= 0.29


def test_timeout_zero_holds_until_removed_then_closes(api: httpx.Client, echo_server: str) -> None:
    listen = _proxy(api, "to0", echo_server)
    _toxic(api, "to0", {"type": "timeout", "attributes": {"timeout": 0}})
    with connect(listen) as s:
        s.sendall(b"held")
        s.settimeout(0.4)
        with pytest.raises(socket.timeout):
            s.recv(10)
        assert api.delete("/proxies/to0/toxics/timeout_downstream").status_code == 204
        s.settimeout(3)
        assert recv_all(s) == b""  # removing the toxic closed the connection it held


def test_reset_peer_sends_rst_and_down_sends_fin(api: httpx.Client, echo_server: str) -> None:
    listen = _proxy(api, "rp", echo_server)
    _toxic(api, "rp", {"type": "reset_peer", "attributes": {"timeout": 100}})
    with connect(listen) as s:
        start = time.monotonic()
        s.sendall(b"x")
        with pytest.raises(ConnectionResetError):
            while s.recv(10):
                pass
        assert time.monotonic() - start >= 0.09
    api.delete("/proxies/rp/toxics/reset_peer_downstream")
    # toxicity 0: no reset at all (Toxiproxy resets anyway, issue #603)
    _toxic(api, "rp", {"type": "reset_peer", "toxicity": 0})
    with connect(listen) as s:
        assert _fastest(s) < 1
    api.post("/reset")
    # down: open connections get a FIN, new connects are refused; toxics are kept
    _toxic(api, "rp", {"type": "noop"})
    with connect(listen) as s:
        assert _fastest(s) < 1
        assert api.post("/proxies/rp", json={"enabled": False}).json()["enabled"] is False
        assert recv_all(s) == b""
    with pytest.raises(ConnectionRefusedError):
        connect(listen)
    assert api.get("/proxies/rp/toxics").json()[0]["type"] == "noop"
    api.post("/proxies/rp", json={"enabled": True})
    with connect(listen) as s:
        assert _fastest(s) < 1


class _Recorder(socketserver.BaseRequestHandler):
    sizes: list[int] = []
    data = bytearray()

    def handle(self) -> None:
        while True:
            chunk = self.request.recv(65536)
            if not chunk:
                return
            type(self).sizes.append(len(chunk))
            type(self).data.extend(chunk)


@pytest.fixture
def recorder() -> Iterator[tuple[str, type[_Recorder]]]:
    _Recorder.sizes = []
    _Recorder.data = bytearray()
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Recorder)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}", _Recorder
    finally:
        server.shutdown()
        server.server_close()


def test_slicer_cuts_chunks_and_keeps_bytes(api: httpx.Client, recorder: tuple[str, type[_Recorder]]) -> None:
    upstream, rec = recorder
    listen = _proxy(api, "sl", upstream)
    _toxic(api, "sl", {"type": "slicer", "stream": "upstream", "attributes": {"average_size": 10, "delay": 5000}})
    payload = bytes(range(100))
    with connect(listen) as s:
        s.sendall(payload)
        deadline = time.monotonic() + 5
        while len(rec.data) < len(payload) and time.monotonic() < deadline:
            time.sleep(0.01)
    assert bytes(rec.data) == payload
    assert len(rec.sizes) >= 3 and max(rec.sizes) < 100


def test_limit_data_truncates_then_closes(api: httpx.Client, echo_server: str) -> None:
    listen = _proxy(api, "ld", echo_server)
    _toxic(api, "ld", {"type": "limit_data", "attributes": {"bytes": 10}})
    with connect(listen) as s:
        s.sendall(b"0123456789abcdefghij")
        assert recv_all(s) == b"0123456789"


def test_toxicity_is_drawn_per_connection(api: httpx.Client, echo_server: str) -> None:
    listen = _proxy(api, "tox", echo_server)
    _toxic(api, "tox", {"type": "timeout", "toxicity": 0.5})
    socks = [connect(listen) for _ in range(30)]
    try:
        for s in socks:
            s.sendall(b"x")
        deadline = time.monotonic() + 10
        while api.get("/proxies/tox").json()["stats"]["connections_total"] < 30 and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.1)  # every upstream dialled and its chain built
        faulted = api.get("/proxies/tox").json()["stats"]["toxics"]["timeout_downstream"]["activations"]
        assert 0 < faulted < 30  # a share of connections, drawn once each
        answered: set[int] = set()
        while len(answered) < 30 - faulted and time.monotonic() < deadline:
            ready, _, _ = select.select([s for i, s in enumerate(socks) if i not in answered], [], [], 0.1)
            for s in ready:
                assert s.recv(1) == b"x"
                answered.add(socks.index(s))
        assert len(answered) == 30 - faulted
        ready, _, _ = select.select([s for i, s in enumerate(socks) if i not in answered], [], [], 0.3)
        assert ready == []  # the faulted connections stay silent
    finally:
        for s in socks:
            s.close()


def test_ttl_removes_toxic_and_proxy(api: httpx.Client, echo_server: str) -> None:
    listen = _proxy(api, "ttl", echo_server)
    toxic = _toxic(api, "ttl", {"type": "latency", "ttl": 300, "attributes": {"latency": 1000}})
    assert toxic["ttl"] == 300
    time.sleep(0.6)
    assert api.get("/proxies/ttl/toxics").json() == []
    with connect(listen) as s:
        assert _fastest(s) < 0.5
    r = api.post("/proxies", json={"name": "short", "upstream": echo_server, "listen": "127.0.0.1:0", "ttl": 300})
    assert r.json()["ttl"] == 300
    time.sleep(0.6)
    assert api.get("/proxies/short").status_code == 404


def test_refused_upstream_closes_client_at_once(api: httpx.Client) -> None:
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    port = dead.getsockname()[1]
    dead.close()
    listen = _proxy(api, "dead", f"127.0.0.1:{port}")
    with connect(listen) as s:
        s.sendall(b"anyone?")
        assert closed_by_peer(s)
    assert api.get("/version").status_code == 200


def test_chain_changes_redraw_like_toxiproxy(api: httpx.Client, echo_server: str) -> None:
    """Adding a toxic re-draws the previous last one; removing one re-draws its predecessor."""
    listen = _proxy(api, "redraw", echo_server)
    with connect(listen) as s:
        assert _fastest(s) < 1
        _toxic(api, "redraw", {"type": "noop", "name": "a"})

        def draws() -> dict[str, int]:
            toxics = api.get("/proxies/redraw").json()["stats"]["toxics"]
            return {name: t["activations"] for name, t in toxics.items()}

        assert draws() == {"a": 1}
        _toxic(api, "redraw", {"type": "noop", "name": "b"})
        assert draws() == {"a": 2, "b": 1}
        api.post("/proxies/redraw/toxics/b", json={"toxicity": 1})
        assert draws() == {"a": 2, "b": 2}
        _toxic(api, "redraw", {"type": "noop", "name": "c"})
        api.delete("/proxies/redraw/toxics/c")
        assert draws() == {"a": 2, "b": 4}
        assert _fastest(s) < 1


def test_timeout_keeps_swallowing_a_stream_bigger_than_the_buffers(api: httpx.Client, echo_server: str) -> None:
    """Dropped bytes must not count as buffered, or the source would stall and the timer fire."""
    listen = _proxy(api, "sink", echo_server)
    _toxic(api, "sink", {"type": "timeout", "stream": "upstream", "attributes": {"timeout": 400}})
    block = b"q" * (1 << 20)
    with connect(listen) as s:
        end = time.monotonic() + 1.5
        sent = 0
        while time.monotonic() < end:
            s.sendall(block)  # 1 MiB every 50 ms: far more than the 4 MiB high-water mark
            sent += len(block)
            time.sleep(0.05)
        assert sent >= 8 * len(block)
        stats = api.get("/proxies/sink").json()["stats"]
        assert stats["connections_active"] == 1 and stats["bytes_upstream_sent"] == 0
        assert closed_by_peer(s)  # silence: closed 400 ms later
