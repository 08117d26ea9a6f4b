"""The HTTP/1.1 client against a real server: features, k6 timings, k6 error codes, HTTPS."""

from __future__ import annotations

import asyncio
import http.server
import socket
import ssl
import subprocess
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from assay.harness.ports import free_port
from assay.load.http import errors
from assay.load.http.client import ClientOptions, HttpClient
from assay.load.runner import new_loop
from assay.load.sink import MetricsSink
from assay.load.vu import VU


def run_vu(fn: Callable[[VU], Awaitable[Any]], **options: Any) -> tuple[Any, MetricsSink]:
    async def main() -> Any:
        sink = MetricsSink()
        vu = VU(id=1, scenario="t", sink=sink, http=HttpClient(sink, ClientOptions(**options)), env={})
        try:
            return await fn(vu), sink
        finally:
            await vu.http.close()

    with asyncio.Runner(loop_factory=new_loop) as runner:
        return runner.run(main())


def test_get_status_headers_body_and_timings(target_url: str) -> None:
    async def it(vu: VU) -> Any:
        return await vu.http.get(target_url + "/json")

    res, sink = run_vu(it)
    assert res.status == 200 and res.error_code == 0 and res.error == ""
    assert res.headers["content-type"] == "application/json" == res.headers["Content-Type"]
    assert res.json("items.1.name") == "b" and res.json()["id"] == 7
    t = res.timings
    assert t.duration == pytest.approx(t.sending + t.waiting + t.receiving, abs=1e-6)
    assert t.connecting > 0 and t.tls_handshaking == 0
    sink.tick(0.0)
    metrics = sink.to_metrics()
    assert metrics["http_reqs"].sum == 1
    assert metrics["http_req_failed"].passes == 0 and metrics["http_req_failed"].fails == 1
    assert metrics["data_received"].sum > len(res.body)
    assert metrics["http_req_duration{status:200}"].count == 1
    assert metrics[f"http_req_duration{{name:{target_url}/json}}"].count == 1


def test_keep_alive_reuses_one_connection(target_url: str) -> None:
    async def it(vu: VU) -> Any:
        return [await vu.http.get(target_url + "/") for _ in range(5)]

    responses, _ = run_vu(it)
    assert [r.status for r in responses] == [200] * 5
    assert responses[0].timings.connecting > 0
    assert all(r.timings.connecting == 0 for r in responses[1:])


def test_post_json_auth_params_and_custom_tags(target_url: str) -> None:
    async def it(vu: VU) -> Any:
        a = await vu.http.post(target_url + "/echo", json={"x": 1}, params={"q": "a b"}, auth=("u", "p"), tags={"name": "echo", "kind": "t"})
        b = await vu.http.put(target_url + "/echo", body="raw", headers={"X-Thing": "1"}, auth="tok123")
        return a, b

    (a, b), sink = run_vu(it)
    ea, eb = a.json(), b.json()
    assert ea["method"] == "POST" and ea["body"] == '{"x":1}'
    assert ea["headers"]["content-type"] == "application/json"
    assert ea["headers"]["authorization"] == "Basic dTpw"
    assert eb["headers"]["authorization"] == "Bearer tok123" and eb["headers"]["x-thing"] == "1" and eb["body"] == "raw"
    sink.tick(0.0)
    metrics = sink.to_metrics()
    assert metrics["http_reqs{name:echo}"].sum == 1
    assert metrics["http_reqs{kind:t}"].sum == 1
    assert metrics["http_reqs{method:PUT}"].sum == 1


def test_gzip_cookies_and_redirects(target_url: str) -> None:
    async def it(vu: VU) -> Any:
        gz = await vu.http.get(target_url + "/gzip")
        await vu.http.get(target_url + "/cookie/set")
        echo = await vu.http.get(target_url + "/cookie/echo")
        redirected = await vu.http.get(target_url + "/redirect/3")
        limited = await vu.http.get(target_url + "/redirect/3", redirects=1)
        return gz, echo, redirected, limited

    (gz, echo, redirected, limited), sink = run_vu(it)
    assert gz.body == b"hello gzip" * 10
    assert "session=abc123" in echo.text and "other=x" in echo.text
    assert redirected.status == 200 and redirected.url == target_url + "/"
    assert limited.status == 302 and limited.error_code == errors.TOO_MANY_REDIRECTS
    sink.tick(0.0)
    # every hop is its own request sample, as in k6: 3 redirects + the final one, then 2 more
    assert sink.to_metrics()["http_reqs{status:302}"].sum == 5


def test_expected_response_tags_and_failed_rate(target_url: str) -> None:
    async def it(vu: VU) -> Any:
        for code in (200, 201, 404, 503):
            await vu.http.get(f"{target_url}/status/{code}", tags={"name": "status"})

    _, sink = run_vu(it)
    sink.tick(0.0)
    m = sink.to_metrics()
    assert m["http_req_failed"].passes == 2 and m["http_req_failed"].fails == 2
    assert m["http_req_duration{expected_response:true}"].count == 2
    assert m["http_reqs{status:404}"].sum == 1


def test_refused_reset_timeout_dns_never_raise(target_url: str) -> None:
    dead = free_port()

    async def it(vu: VU) -> Any:
        refused = await vu.http.get(f"http://127.0.0.1:{dead}/")
        reset = await vu.http.get(target_url + "/reset")
        timeout = await vu.http.get(target_url + "/hang", timeout=0.3)
        dns = await vu.http.get("http://no-such-host.invalid/")
        bad = await vu.http.get("ftp://x/")
        after = await vu.http.get(target_url + "/")
        return refused, reset, timeout, dns, bad, after

    (refused, reset, timeout, dns, bad, after), sink = run_vu(it)
    assert (refused.status, refused.error_code) == (0, errors.TCP_DIAL_REFUSED)
    assert reset.error_code == errors.TCP_RESET and reset.status == 0
    assert timeout.error_code == errors.REQUEST_TIMEOUT and 250 <= timeout.timings.duration <= 1500
    assert dns.error_code in (errors.DNS_NO_SUCH_HOST, errors.DNS_GENERIC)
    assert bad.error_code == errors.INVALID_URL
    assert after.status == 200
    sink.tick(0.0)
    m = sink.to_metrics()
    assert m["http_req_failed"].passes == 5 and m["http_req_failed"].fails == 1
    assert m[f"http_reqs{{error_code:{errors.TCP_DIAL_REFUSED}}}"].sum == 1
    assert m[f"http_reqs{{error_code:{errors.REQUEST_TIMEOUT}}}"].sum == 1


def test_server_closing_keepalive_is_handled(target_url: str) -> None:
    async def it(vu: VU) -> Any:
        return [await vu.http.get(target_url + "/close") for _ in range(3)] + [await vu.http.get(target_url + "/")]

    responses, _ = run_vu(it)
    assert [r.status for r in responses] == [200, 200, 200, 200]
    assert all(r.timings.connecting > 0 for r in responses[:3])


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            self.send_response(200)
            self.send_header("Content-Length", "6")
            self.end_headers()
            self.wfile.write(b"secure")

        def log_message(self, *args: Any) -> None:
            pass

    port = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(Path(cert), Path(key))
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()


def test_https_verify_off_and_on(tls_server: str) -> None:
    async def it(vu: VU) -> Any:
        return await vu.http.get(tls_server + "/"), await vu.http.get(tls_server + "/")

    (first, second), _ = run_vu(it, verify_tls=False)
    assert first.status == 200 and first.body == b"secure"
    assert first.timings.tls_handshaking > 0 and second.timings.tls_handshaking == 0

    (rejected, _), _ = run_vu(it, verify_tls=True)
    assert rejected.status == 0 and rejected.error_code in (errors.TLS_UNKNOWN_AUTHORITY, errors.TLS_HOSTNAME, errors.TLS_GENERIC)


def test_classify_maps_os_errors_to_k6_codes() -> None:
    assert errors.classify(ConnectionRefusedError(), dialing=True).code == errors.TCP_DIAL_REFUSED
    assert errors.classify(ConnectionResetError(), dialing=False).code == errors.TCP_RESET
    assert errors.classify(TimeoutError(), dialing=True).code == errors.TCP_DIAL_TIMEOUT
    assert errors.classify(TimeoutError(), dialing=False).code == errors.REQUEST_TIMEOUT
    assert errors.classify(socket.gaierror(socket.EAI_NONAME, "x"), dialing=True).code == errors.DNS_NO_SUCH_HOST
    assert errors.classify(BrokenPipeError(), dialing=False).code == errors.TCP_BROKEN_PIPE


def test_timing_submetrics_for_tag_filtered_thresholds_and_url_cardinality_cap(target_url: str) -> None:
    async def it(vu: VU) -> Any:
        vu.sink.max_http_series = 5
        vu.sink.detailed = {"http_req_waiting"}
        for i in range(12):
            await vu.http.get(f"{target_url}/status/200?id={i}")
        await vu.http.head(target_url + "/json")

    _, sink = run_vu(it)
    sink.tick(0.0)
    m = sink.to_metrics([f"http_req_waiting{{name:{target_url}/status/200?id=1}}"])
    assert m["http_reqs"].sum == 13 and m["http_req_waiting"].count == 13
    assert m[f"http_req_waiting{{name:{target_url}/status/200?id=1}}"].stat("p(95)") is not None
    assert m["http_reqs{name:[other urls]}"].sum == 8  # past 5 distinct URLs, new ones share one series
    assert m["http_reqs{method:HEAD}"].sum == 1 and sink.overflowed == 8
