"""The compiled response path (`_fastresp.c`): it takes only plain whole responses, agrees
with httptools on those, and the pure-Python path still runs the engine without it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httptools
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assay.load.http import connection
from assay.results import RunResult

needs_c = pytest.mark.skipif(not connection.COMPILED, reason="the C extension is not built")


def scan(data: bytes) -> tuple[int, int, int] | None:
    from assay.load.http._fastresp import scan as c_scan

    return c_scan(data)  # type: ignore[no-any-return]


def test_the_extension_is_built_where_the_tests_run() -> None:
    # CI installs with a compiler: the compiled path must be the one under test there
    assert connection.COMPILED or os.environ.get("ASSAY_PURE_HTTP")


PLAIN = b"HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok"


@needs_c
def test_a_plain_response_is_taken_whole() -> None:
    assert scan(PLAIN) == (200, len(PLAIN) - 2, 2)
    empty = b"HTTP/1.1 404 Not Found\r\ncontent-length:  0 \r\n\r\n"
    assert scan(empty) == (404, len(empty), 0)
    assert scan(b"HTTP/1.1 503\r\nContent-Length: 1\r\n\r\nx") == (503, 35, 1)


@pytest.mark.parametrize(
    "raw",
    [
        b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",  # HTTP/1.0: keep-alive rules differ
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nServer: x\r\n\r\nbody until close",  # no length
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: 1\r\n  folded\r\n\r\nok",
        b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok",  # bare LF
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n",  # head not complete
        b"HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok",
        b"HTTP/1.1 2x0 OK\r\nContent-Length: 2\r\n\r\nok",
    ],
)
@needs_c
def test_anything_unusual_is_left_to_httptools(raw: bytes) -> None:
    assert scan(raw) is None


class _Parsed:
    """httptools callbacks, read as assay's Connection reads them (keep-alive inside on_message_complete)."""

    def __init__(self) -> None:
        self.body = b""
        self.done = False
        self.keep_alive = False
        self.parser: httptools.HttpResponseParser | None = None

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        self.done = True
        assert self.parser is not None
        self.keep_alive = self.parser.should_keep_alive()


header_names = st.sampled_from(
    ["Server", "Date", "Content-Type", "X-Request-Id", "Connection", "Cache-Control", "content-LENGTH", "Vary"]
)
header_values = st.text(alphabet="abcdefghij-keep-alive0123456789 /;=", min_size=0, max_size=12)


@needs_c
@settings(max_examples=300, deadline=None)
@given(
    status=st.integers(min_value=100, max_value=599),
    headers=st.lists(st.tuples(header_names, header_values), max_size=6),
    length=st.one_of(st.none(), st.integers(min_value=0, max_value=40)),
    body=st.binary(max_size=40),
)
def test_whenever_the_scan_takes_a_response_httptools_reads_it_the_same(
    status: int, headers: list[tuple[str, str]], length: int | None, body: bytes
) -> None:
    lines = [f"HTTP/1.1 {status} X".encode()]
    lines += [f"{k}: {v}".encode() for k, v in headers]
    if length is not None:
        lines.append(f"Content-Length: {length}".encode())
    raw = b"\r\n".join(lines) + b"\r\n\r\n" + body
    got = scan(raw)
    if got is None or got[1] + got[2] > len(raw):
        return  # data_received takes a response only when the read holds all of it
    st_, head_len, clen = got
    parsed = _Parsed()
    parser = parsed.parser = httptools.HttpResponseParser(parsed)
    try:
        parser.feed_data(raw[: head_len + clen])
    except httptools.HttpParserError:
        pytest.fail(f"the scan took a response httptools rejects: {raw!r}")
    assert parsed.done and parser.get_status_code() == st_ == status
    assert parsed.body == raw[head_len : head_len + clen]
    assert parsed.keep_alive


def test_the_pure_python_path_runs_the_engine(target_url: str, tmp_path: Path) -> None:
    """Without the extension (ASSAY_PURE_HTTP=1) a run records the same kinds of samples."""
    out = tmp_path / "pure.json"
    env = dict(os.environ, ASSAY_PURE_HTTP="1")
    code = (
        "from assay.load.http import connection, static;"
        "assert not connection.COMPILED and static.StaticRun.__mro__[1] is static.StaticLoopState;"
        "from assay.cli.app import main; main()"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, "load", "run", target_url, "--vus", "2", "-d", "1s", "--workers", "1", "--result", str(out), "-q"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    result = RunResult.model_validate_json(out.read_text())
    assert (result.stat("http_reqs", "count") or 0) > 20
    assert (result.stat("http_req_duration", "p(95)") or 0) > 0
    assert result.stat("iterations", "count") == result.stat("http_reqs", "count")


# One kept-alive connection, responses of every shape in turn: the compiled scan and httptools
# take turns on the same parser, so a plain response after a chunked or a split one (and the
# other way round) must still be read whole and in order.
SCRIPTED: list[tuple[list[bytes], int, bytes]] = [
    ([b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst"], 200, b"first"),
    ([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"], 200, b"abcde"),
    ([b"HTTP/1.1 201 Created\r\nContent-Length: 6\r\n\r\nsecond"], 201, b"second"),
    ([b"HTTP/1.1 200 OK\r\nContent-Le", b"ngth: 5\r\n\r\nsp", b"lit"], 200, b"split"),
    ([b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"], 404, b""),
    ([b"HTTP/1.1 100 Continue\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"], 200, b"ok"),
    ([b"HTTP/1.1 204 No Content\r\n\r\n"], 204, b""),
    ([b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\nlast"], 500, b"last"),
]


async def _scripted_server(connections: list[int]) -> tuple[object, int]:
    import asyncio

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        for pieces, _, _ in SCRIPTED:
            request = await reader.readuntil(b"\r\n\r\n")
            assert request.startswith(b"GET /")
            for piece in pieces:
                writer.write(piece)
                await writer.drain()
                await asyncio.sleep(0.01)  # separate reads on the client's side
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


@pytest.mark.parametrize("pure", [False, True], ids=["compiled", "pure-python"])
def test_every_response_shape_in_turn_on_one_connection(pure: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from assay.load.http.client import HttpClient
    from assay.load.runner import new_loop

    if pure:
        # the Python path alone: data_received of the pure state class, bound to this Connection
        monkeypatch.setattr(connection.Connection, "data_received", connection._ConnectionState.data_received)

    async def main() -> tuple[list[tuple[int, bytes, str]], int]:
        connections: list[int] = []
        server, port = await _scripted_server(connections)
        client = HttpClient()
        got = []
        try:
            for i in range(len(SCRIPTED)):
                res = await client.get(f"http://127.0.0.1:{port}/{i}")
                got.append((res.status, res.body, res.error))
        finally:
            await client.close()
            server.close()  # type: ignore[attr-defined]
        return got, len(connections)

    with asyncio.Runner(loop_factory=new_loop) as runner:
        got, connections = runner.run(main())
    assert got == [(status, body, "") for _, status, body in SCRIPTED]
    assert connections == 1  # every response was read whole, so the connection stayed usable
