"""Fixtures for chaos tests: a small HTTP service on 127.0.0.1 and the support modules on the path."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

SUPPORT = Path(__file__).parent / "support"
EXPERIMENTS = Path(__file__).parent / "experiments"


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        url = urlparse(self.path)
        if url.path == "/health":
            healthy_at = getattr(self.server, "healthy_at", 0.0)
            ok = healthy_at is not None and time.monotonic() >= healthy_at
            time.sleep(getattr(self.server, "delay_s", 0.0))
            self.server.hits = getattr(self.server, "hits", 0) + 1  # type: ignore[attr-defined]
            self._send(200 if ok else 503, b"ok" if ok else b"degraded", "text/plain")
        elif url.path == "/metrics":
            hits = getattr(self.server, "hits", 0)
            text = ("# TYPE demo_requests counter\n"
                    f'demo_requests_total{{route="/health"}} {hits}\n'
                    "# TYPE demo_queue_depth gauge\n"
                    'demo_queue_depth{queue="outbox"} 7\n'
                    "# TYPE demo_latency_seconds histogram\n"
                    'demo_latency_seconds_bucket{le="0.1"} 50\n'
                    'demo_latency_seconds_bucket{le="0.5"} 90\n'
                    'demo_latency_seconds_bucket{le="1.0"} 100\n'
                    'demo_latency_seconds_bucket{le="+Inf"} 100\n'
                    "demo_latency_seconds_sum 20\n"
                    "demo_latency_seconds_count 100\n")
            self._send(200, text.encode(), "text/plain; version=0.0.4")
        elif url.path == "/ok":
            self._send(200, json.dumps({"status": "ok", "items": [{"id": 1}, {"id": 2}]}).encode(), "application/json")
        elif url.path == "/text":
            self._send(200, b"all good v1", "text/plain")
        elif url.path == "/headers":
            body = b'{"status": "ok", "version": 3}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-Version", "v3.1")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif url.path == "/echo":
            self._send(200, json.dumps({k: v[0] for k, v in parse_qs(url.query).items()}).encode(), "application/json")
        else:
            self._send(404, b"not found", "text/plain")

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        url = urlparse(self.path)
        if url.path == "/break":  # unhealthy until /heal
            self.server.healthy_at = None  # type: ignore[attr-defined]
        elif url.path == "/heal":  # healthy again after a known delay
            delay = float(parse_qs(url.query).get("delay", ["0"])[0])
            self.server.healthy_at = time.monotonic() + delay  # type: ignore[attr-defined]
        elif url.path == "/slow":  # /health answers after this many ms
            self.server.delay_s = float(parse_qs(url.query).get("ms", ["0"])[0]) / 1000  # type: ignore[attr-defined]
        self._send(201, body or b"{}", "application/json")


def _serve() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def http_service() -> Iterator[str]:
    yield from _serve()


@pytest.fixture
def recovering_service() -> Iterator[str]:
    """A service whose /health is 503 between POST /break and `delay` seconds after POST /heal?delay=S."""
    yield from _serve()


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """A process for process faults to pause; resumed and killed at the end whatever happened."""
    proc = subprocess.Popen(["sleep", "120"])
    try:
        yield proc
    finally:
        os.kill(proc.pid, signal.SIGCONT)
        proc.kill()
        proc.wait()


@pytest.fixture
def support_path(monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(SUPPORT))
    for name in ("chaos_fns", "chaos_controls"):
        sys.modules.pop(name, None)
    return SUPPORT


@pytest.fixture(autouse=True)
def _own_fault_and_lock_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test's faults and target locks in its own directories (other runs on the box have theirs)."""
    monkeypatch.setenv("ASSAY_FAULTS_DIR", str(tmp_path / "faults"))
    monkeypatch.setenv("ASSAY_CHAOS_LOCK_DIR", str(tmp_path / "locks"))
