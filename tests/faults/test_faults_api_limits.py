"""The proxy API against slow and greedy clients: every request is read within a deadline,
open API connections are capped, request heads and bodies are bounded, and none of it
leaks a descriptor or acts on half a request."""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from assay.faults.server import ProxyServer

TIMEOUT = 1.0
CAP = 20


@pytest.fixture(scope="module")
def strict_server() -> Iterator[ProxyServer]:
    s = ProxyServer(port=0, request_timeout=TIMEOUT, api_connections=CAP).start()
    try:
        yield s
    finally:
        s.stop()


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _connect(server: ProxyServer) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT * 5)


def _answer(sock: socket.socket) -> tuple[int, dict[str, object], float]:
    """(status, JSON error body, seconds until the server closed)."""
    start = time.monotonic()
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body), time.monotonic() - start


def test_a_slow_body_is_cut_off_and_never_acted_on(strict_server: ProxyServer) -> None:
    body = b'{"name": "half", "upstream": "127.0.0.1:1"}'
    with _connect(strict_server) as s:
        # the body is valid JSON already, but the declared length says more is coming
        s.sendall(b"POST /proxies HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(body) + 10, body))
        status, error, took = _answer(s)
    assert status == 408 and error == {"error": f"the request was not received within {TIMEOUT:g} s", "status": 408}
    assert took < TIMEOUT * 4
    assert httpx.get(f"{strict_server.url}/proxies").json() == {}  # half a request created nothing


def test_a_slow_head_is_cut_off(strict_server: ProxyServer) -> None:
    with _connect(strict_server) as s:
        s.sendall(b"GET /proxies HTTP/1.1\r\nHost: x\r\nX-Drip: ")
        for _ in range(3):  # a byte now and then does not extend the deadline
            time.sleep(TIMEOUT / 3)
            s.sendall(b"a")
        status, error, _ = _answer(s)
    assert status == 408 and error["status"] == 408


def test_a_silent_connection_is_closed(strict_server: ProxyServer) -> None:
    with _connect(strict_server) as s:
        start = time.monotonic()
        assert s.recv(100) == b""
        assert time.monotonic() - start < TIMEOUT * 4


def test_an_endless_header_is_refused(strict_server: ProxyServer) -> None:
    with _connect(strict_server) as s:
        s.sendall(b"GET /proxies HTTP/1.1\r\nHost: x\r\nX-Endless: ")
        try:
            for _ in range(40):
                s.sendall(b"a" * 8192)
        except OSError:
            pass  # closed under us: the answer is already waiting
        status, error, _ = _answer(s)
    assert status == 431 and error == {"error": "request head over 65536 bytes", "status": 431}


def test_a_body_over_the_limit_is_refused(strict_server: ProxyServer) -> None:
    from assay.faults.api import MAX_BODY

    r = httpx.post(f"{strict_server.url}/proxies", content=b" " * (MAX_BODY + 1), timeout=30)
    assert r.status_code == 413 and r.json() == {"error": f"request body over {MAX_BODY} bytes", "status": 413}


def test_many_slow_clients_are_capped_and_released(strict_server: ProxyServer) -> None:
    api = httpx.Client(base_url=strict_server.url, timeout=10)
    api.get("/version")
    fds = _fds()
    slow = []
    for _ in range(CAP * 5):
        s = _connect(strict_server)
        s.sendall(b"POST /proxies HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{")
        slow.append(s)
    answers = [_answer(s)[0] for s in slow]
    # at most CAP held (the API client's own connection is one of them); the rest answered at once
    assert answers.count(503) >= CAP * 4 and answers.count(408) <= CAP - 1
    assert set(answers) <= {408, 503}
    for s in slow:
        s.close()
    assert api.get("/version").status_code == 200  # the kept-alive client still gets in
    deadline = time.monotonic() + 5
    while _fds() > fds and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _fds() <= fds
    api.close()
