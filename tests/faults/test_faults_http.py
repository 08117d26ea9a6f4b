"""HTTP-level toxics in front of a real local HTTP/1.1 service, with per-request firing."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from faults_helpers import recv_all

from assay.faults.client import Proxy


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[str] = []

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        type(self).seen.append(f"GET {self.path}")
        if self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b"hello ", b"chunked ", b"world"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
            return
        if self.path == "/headers":
            self._send(200, json.dumps(dict(self.headers.items())).encode())
            return
        self._send(200, json.dumps({"path": self.path, "data": "x" * 200}).encode())

    def do_POST(self) -> None:
        type(self).seen.append(f"POST {self.path}")
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self._send(200, body, "application/octet-stream")


@pytest.fixture(scope="module")
def http_service() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def web(assay_proxy: Callable[..., Proxy], http_service: str) -> Iterator[tuple[Proxy, httpx.Client]]:
    _Handler.seen = []
    proxy = assay_proxy(http_service)
    with httpx.Client(base_url=f"http://127.0.0.1:{proxy.port}", timeout=5) as client:
        yield proxy, client


def test_http_error_answers_instead_of_forwarding(web: tuple[Proxy, httpx.Client]) -> None:
    proxy, client = web
    with proxy.http_error(503, path="/v1/"):
        r = client.get("/v1/items")
        assert r.status_code == 503 and r.json() == {"error": "Service Unavailable", "status": 503}
        assert client.get("/health").status_code == 200  # same keep-alive connection, not matched
        r = client.get("/v1/other")
        assert r.status_code == 503
    assert _Handler.seen == ["GET /health"]  # the faulted requests never reached the service
    assert client.get("/v1/items").status_code == 200  # removed on exit


def test_custom_error_body_headers_and_method_header_match(web: tuple[Proxy, httpx.Client]) -> None:
    proxy, client = web
    with proxy.toxic("http_error", stream="upstream", status=429, body='{"slow":"down"}', method="POST",
                     header="X-Fault: ^yes$", headers={"Retry-After": "1"}):
        assert client.post("/echo", content=b"data").content == b"data"
        assert client.get("/x", headers={"X-Fault": "yes"}).status_code == 200
        r = client.post("/echo", content=b"data", headers={"X-Fault": "yes"})
        assert r.status_code == 429 and r.json() == {"slow": "down"} and r.headers["retry-after"] == "1"
        assert client.post("/echo", content=b"more").content == b"more"


def test_first_n_requests_fail_then_pass(web: tuple[Proxy, httpx.Client]) -> None:
    proxy, client = web
    with proxy.http_error(500, path="/v1/", first=2) as toxic:
        codes = [client.get("/v1/pay").status_code for _ in range(4)]
        assert codes == [500, 500, 200, 200]
        stats = proxy.refresh()["stats"]["toxics"][toxic["name"]]
        assert stats == {"activations": 2}


def test_every_nth_request(web: tuple[Proxy, httpx.Client]) -> None:
    proxy, client = web
    with proxy.http_error(502, every=3):
        codes = [client.get(f"/n/{i}").status_code for i in range(7)]
    assert codes == [200, 200, 502, 200, 200, 502, 200]


def test_probability_is_per_request_not_per_connection(web: tuple[Proxy, httpx.Client]) -> None:
    proxy, client = web
    with proxy.http_error(503, probability=0.5):
        codes = [client.get("/p").status_code for _ in range(40)]  # one keep-alive connection
    assert 0 < codes.count(503) < 40
    assert set(codes) == {200, 503}
    assert proxy.refresh()["stats"]["connections_total"] == 1


def test_http_delay_on_matching_responses(web: tuple[Proxy, httpx.Client]) -> None:
    proxy, client = web
    with proxy.http_delay(300, path="/slow", stream="downstream"):
        start = time.monotonic()
        assert client.get("/slow").status_code == 200
        assert time.monotonic() - start >= 0.3
        fast = []
        for _ in range(3):  # the best of three: a loaded machine may stall one request
            start = time.monotonic()
            assert client.get("/fast").status_code == 200
            fast.append(time.monotonic() - start)
        assert min(fast) < 0.3
    with proxy.http_delay(300, method="POST"):
        start = time.monotonic()
        assert client.post("/echo", content=b"x").content == b"x"
        assert time.monotonic() - start >= 0.3


def test_http_abort_close_and_reset(web: tuple[Proxy, httpx.Client]) -> None:
    proxy, client = web
    with proxy.http_abort(path="/boom"):
        with pytest.raises(httpx.RemoteProtocolError):
            client.get("/boom")
        assert client.get("/fine").status_code == 200
    with proxy.http_abort(path="/boom", reset=True):
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as s:
            s.sendall(b"GET /boom HTTP/1.1\r\nHost: x\r\n\r\n")
            with pytest.raises(ConnectionResetError):
                recv_all(s)
    assert "GET /boom" not in _Handler.seen


def test_http_corrupt_keeps_length_changes_bytes(web: tuple[Proxy, httpx.Client]) -> None:
    proxy, client = web
    clean = client.get("/data").content
    with proxy.toxic("http_corrupt", count=5, path="/data"):
        bad = client.get("/data").content
    with proxy.toxic("http_corrupt", count=1, path_regex="^/chunk"):
        chunked = client.get("/chunked")
    assert len(bad) == len(clean) and bad != clean
    assert sum(a != b for a, b in zip(bad, clean, strict=True)) == 5
    assert len(chunked.content) == len(b"hello chunked world") and chunked.content != b"hello chunked world"
    assert client.get("/chunked").content == b"hello chunked world"


def test_http_corrupt_request_body(web: tuple[Proxy, httpx.Client]) -> None:
    proxy, client = web
    with proxy.toxic("http_corrupt", stream="upstream", count=1, method="POST"):
        echoed = client.post("/echo", content=b"A" * 64).content
    assert len(echoed) == 64 and echoed != b"A" * 64


def test_http_truncate_response_body(web: tuple[Proxy, httpx.Client]) -> None:
    proxy, client = web
    with proxy.toxic("http_truncate", bytes=10, path="/data"):
        with pytest.raises(httpx.RemoteProtocolError):
            client.get("/data")
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as s:
            s.sendall(b"GET /data HTTP/1.1\r\nHost: x\r\n\r\n")
            raw = recv_all(s)
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200") or head.startswith(b"HTTP/1.1 200")
    assert body == b'{"path": "'


def test_http_headers_add_and_remove(web: tuple[Proxy, httpx.Client]) -> None:
    proxy, client = web
    with proxy.toxic("http_headers", add={"X-Injected": "1"}, remove=["Server"]):
        r = client.get("/x")
        assert r.headers["x-injected"] == "1" and "server" not in r.headers
    with proxy.toxic("http_headers", stream="upstream", add={"X-Tenant": "chaos"}, remove=["User-Agent"]):
        seen = client.get("/headers").json()
    assert seen["X-Tenant"] == "chaos" and "User-Agent" not in seen


def test_fault_removed_on_exception_and_ttl(web: tuple[Proxy, httpx.Client]) -> None:
    proxy, client = web
    with pytest.raises(RuntimeError):
        with proxy.http_error(503):
            assert client.get("/x").status_code == 503
            raise RuntimeError("the experiment crashed")
    assert proxy.toxics() == []
    assert client.get("/x").status_code == 200
    proxy.add_toxic("http_error", {"status": 500}, name="expiring", stream="upstream", ttl=300)
    assert client.get("/x").status_code == 500
    time.sleep(0.6)
    assert proxy.toxics() == [] and client.get("/x").status_code == 200


def test_http_toxic_bad_attributes(web: tuple[Proxy, httpx.Client]) -> None:
    proxy, _ = web
    api = proxy.server.http
    for attrs in ({"status": 42}, {"probability": 2}, {"path_regex": "("}, {"headers": {"a": 1}}, {"headers": "x"}):
        r = api.post(f"/proxies/{proxy.name}/toxics", json={"type": "http_error", "attributes": attrs})
        assert r.status_code == 400, attrs
        assert json.loads(r.text)["status"] == 400


def test_http_toxics_pass_non_http_bytes_unchanged(assay_proxy: Callable[..., Proxy], echo_server: str) -> None:
    proxy = assay_proxy(echo_server)
    with proxy.http_error(503, stream="upstream"), proxy.toxic("http_corrupt", count=3):
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as s:
            payload = b"\x00\x01binary protocol, not HTTP\r\n\r\n" * 100
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
            assert recv_all(s) == payload


@pytest.mark.parametrize(
    ("toxic", "attributes", "expected"),
    [
        ("http_error", {"headers": {"X-A": "1\r\nSet-Cookie: session=evil"}}, "the value of 'X-A' contains a control character"),
        ("http_error", {"headers": {"X-A": "1\nSet-Cookie: session=evil"}}, "contains a control character"),
        ("http_error", {"headers": {"Set-Cookie: a=b\r\nX-A": "1"}}, "is not a header name"),
        ("http_error", {"headers": {"": "1"}}, "is not a header name"),
        ("http_error", {"content_type": "text/html\r\nSet-Cookie: a=b"}, "the value of 'Content-Type' contains a control character"),
        ("http_error", {"headers": {"X-A": "caf\u00e9 \u2603"}}, "is not Latin-1 text"),
        ("http_headers", {"add": {"X-A": "1\r\nSet-Cookie: a=b"}}, "contains a control character"),
        ("http_headers", {"add": {"X A": "1"}}, "is not a header name"),
        ("http_headers", {"remove": ["Server\r\nX-A: 1"]}, "is not a header name"),
    ],
)
def test_header_injection_is_refused(web: tuple[Proxy, httpx.Client], toxic: str, attributes: dict[str, object], expected: str) -> None:
    proxy, client = web
    r = proxy.server.http.post(f"/proxies/{proxy.name}/toxics", json={"type": toxic, "stream": "upstream", "attributes": attributes})
    assert r.status_code == 400 and expected in json.loads(r.text)["error"], r.text
    assert proxy.toxics() == []
    assert "set-cookie" not in client.get("/x").headers


def test_http_error_content_type_follows_the_body(web: tuple[Proxy, httpx.Client]) -> None:
    proxy, client = web
    for body, expected in [("", "application/json"), ('{"busy": true}', "application/json"), ("try later", "text/plain; charset=utf-8")]:
        with proxy.http_error(503, body=body or None):
            r = client.get("/x")
        assert r.status_code == 503 and r.headers["content-type"] == expected, body
    with proxy.http_error(503, body="<p>down</p>", content_type="text/html"):
        assert client.get("/x").headers["content-type"] == "text/html"
    with proxy.http_error(503, body="gone", stream="downstream"):
        assert client.get("/x").headers["content-type"] == "text/plain; charset=utf-8"


def test_http_error_reply_crosses_the_downstream_toxics(web: tuple[Proxy, httpx.Client]) -> None:
    proxy, client = web
    with proxy.latency(300), proxy.http_error(503, stream="upstream"):
        start = time.monotonic()
        assert client.get("/x").status_code == 503
        assert time.monotonic() - start >= 0.3  # delayed like any reply from the upstream
    with proxy.http_error(503, stream="upstream", path="/fail"), proxy.toxic("http_headers", add={"X-Seen": "down"}):
        r = client.get("/fail")  # the response-side toxic sees the fault's reply, matched to its request
        assert r.status_code == 503 and r.headers["x-seen"] == "down"
        assert client.get("/ok").headers["x-seen"] == "down"
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as s:
            s.sendall(b"HEAD /fail HTTP/1.1\r\nHost: x\r\n\r\nGET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            raw = recv_all(s)
    # a HEAD gets the head only, so the next reply on the connection stays framed
    assert raw.startswith(b"HTTP/1.1 503 ") and raw.count(b"HTTP/1.") == 2
    assert raw.split(b"\r\n\r\n")[1].startswith(b"HTTP/1.0 200") or raw.split(b"\r\n\r\n")[1].startswith(b"HTTP/1.1 200")
    assert "GET /fail" not in _Handler.seen and "GET /ok" in _Handler.seen


def test_rate_limit_per_proxy_then_429_with_retry_after(web: tuple[Proxy, httpx.Client]) -> None:
    proxy, client = web
    with proxy.rate_limit(3, 2000, path="/api/") as toxic:
        assert toxic["attributes"]["status"] == 429
        with httpx.Client(base_url=f"http://127.0.0.1:{proxy.port}", timeout=5) as other:
            # the budget is the proxy's: requests on two connections share it
            codes = [c.get("/api/items").status_code for c in (client, other, client, other, client)]
            assert client.get("/health").status_code == 200  # not matched: neither counted nor limited
            refused = other.get("/api/items")
        assert codes == [200, 200, 200, 429, 429]
        assert refused.status_code == 429 and refused.headers["retry-after"] in ("1", "2")
        assert refused.json() == {"error": "Too Many Requests", "status": 429}
        assert _Handler.seen.count("GET /api/items") == 3  # refused requests never reached the service
        time.sleep(int(refused.headers["retry-after"]) + 0.1)
        assert client.get("/api/items").status_code == 200  # the window has room again
    stats = proxy.server.http.get(f"/proxies/{proxy.name}").json()["stats"]
    assert stats["toxics"] == {}  # removed with its stats
    with proxy.rate_limit(0, 60_000, body="slow down", headers={"X-RateLimit-Limit": "0"}):
        r = client.post("/echo", content=b"x" * 1000)
        assert r.status_code == 429 and r.text == "slow down" and r.headers["retry-after"] == "60"
        assert r.headers["content-type"] == "text/plain; charset=utf-8" and r.headers["x-ratelimit-limit"] == "0"
        assert client.get("/api/items").status_code == 429  # the connection stays usable
    r = proxy.server.http.post(f"/proxies/{proxy.name}/toxics", json={"type": "rate_limit", "attributes": {"window": 0}})
    assert r.status_code == 400 and "window" in r.text
