"""`assay load run --trace-requests RATE`: sampled requests carry a W3C traceparent, the
slowest trace ids per endpoint land in the result, and the rest of the requests carry none."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from assay.observe.tracing import RequestTracer, merge_traces

TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-[0-9a-f]{16}-01$")
SCENARIO = """
import os

BASE = os.environ["BASE"]
options = {"vus": 2, "iterations": 400}


async def default(vu):
    await vu.http.get(BASE + "/fast")
    await vu.http.get(BASE + "/slow/" + str(vu.iteration % 7), tags={"name": "slow"})
"""


class _Seen:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests = 0
        self.headers: dict[str, str] = {}  # trace id -> path


@pytest.fixture
def server() -> Iterator[tuple[str, _Seen]]:
    seen = _Seen()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802
            header = self.headers.get("traceparent")
            with seen.lock:
                seen.requests += 1
                if header is not None:
                    match = TRACEPARENT.match(header)
                    seen.headers[match.group(1) if match else "malformed:" + header] = self.path
            if self.path.startswith("/slow/"):
                time.sleep(0.002 * int(self.path.rsplit("/", 1)[1]))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", seen
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.mark.slow
def test_sampled_requests_carry_traceparent_and_the_slowest_are_kept(server: tuple[str, _Seen], tmp_path: Path) -> None:
    base, seen = server
    script = tmp_path / "scenario.py"
    script.write_text(SCENARIO)
    out = tmp_path / "run.json"
    done = subprocess.run(
        [sys.executable, "-m", "assay", "load", "run", str(script), "-e", f"BASE={base}", "--workers", "2",
         "--trace-requests", "0.25", "--result", str(out)],
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert seen.requests == 800
    assert not [k for k in seen.headers if k.startswith("malformed")]
    traces = json.loads(out.read_text())["extra"]["traces"]
    assert traces["rate"] == 0.25 and traces["traced"] == len(seen.headers)
    assert 120 < traces["traced"] < 280  # Binomial(800, 0.25): mean 200, sd 12
    slowest = traces["slowest"]
    assert set(slowest) == {f"GET {base}/fast", "GET slow"}
    for endpoint, items in slowest.items():
        assert 1 <= len(items) <= 5
        durations = [i["duration_ms"] for i in items]
        assert durations == sorted(durations, reverse=True)
        for item in items:  # every kept id is one the service saw, on that endpoint
            path = seen.headers[item["trace_id"]]
            assert path == "/fast" if endpoint.endswith("/fast") else path.startswith("/slow/")
    assert "slowest by endpoint" in done.stdout and slowest["GET slow"][0]["trace_id"] in done.stdout


def test_tracer_samples_at_its_rate_and_merges_workers() -> None:
    tracer = RequestTracer(0.01, seed=3)
    picked = [tracer.due() for _ in range(200_000)]
    sampled = [p for p in picked if p is not None]
    assert 1700 < len(sampled) < 2300 and tracer.traced == len(sampled)
    assert all(TRACEPARENT.match(h) and h.split("-")[1] == t for h, t in sampled)
    always = RequestTracer(1.0, seed=1)
    assert all(always.due() is not None for _ in range(100))
    a, b = RequestTracer(0.5, seed=1), RequestTracer(0.5, seed=2)
    for i in range(10):
        a.record("GET x", float(i), f"a{i}")
        b.record("GET x", float(i) + 0.5, f"b{i}")
    merged = merge_traces([a.to_dict(), b.to_dict()])
    assert [i["trace_id"] for i in merged["slowest"]["GET x"]] == ["b9", "a9", "b8", "a8", "b7"]


def test_a_rate_outside_0_1_is_a_usage_error() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "assay", "load", "run", "http://127.0.0.1:9/", "--iterations", "1", "--trace-requests", "1.5"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 64 and "sampling rate" in done.stderr


@pytest.mark.slow
def test_quick_mode_keeps_its_static_loop_and_still_traces_at_the_rate(server: tuple[str, _Seen], tmp_path: Path) -> None:
    """A URL target sends pre-built bytes back to back; the sampled requests go out the general way."""
    base, seen = server
    out = tmp_path / "run.json"
    done = subprocess.run(
        [sys.executable, "-m", "assay", "load", "run", f"{base}/fast", "--vus", "4", "--duration", "3s", "--workers", "1",
         "--trace-requests", "0.05", "--result", str(out), "-q"],
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    traces = result["extra"]["traces"]
    total = result["metrics"]["http_reqs"]["count"]
    assert total == seen.requests and total > 200
    assert traces["traced"] == len(seen.headers)
    expected = 0.05 * total
    assert 0.5 * expected < traces["traced"] < 1.5 * expected + 5, (traces["traced"], total)
    assert set(seen.headers.values()) == {"/fast"}
    assert list(traces["slowest"]) == [f"GET {base}/fast"]
    assert result["metrics"]["iterations"]["count"] == total  # every request still one iteration


def test_skip_owes_the_samples_that_fell_among_unheadered_requests() -> None:
    tracer = RequestTracer(0.1, seed=5)
    for _ in range(1000):
        if tracer.skip(100):
            while tracer.owed:
                assert tracer.due() is not None
    assert 9000 < tracer.traced < 11000  # 100,000 requests at 0.1
    assert tracer.owed == 0 and not tracer.skip(0)
