"""The teams' "connection pool under 80%": a pool gauge scraped from the service (`--scrape`),
judged against the pool's size as a ratio, through the real CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from assay.harness.ports import free_port
from assay.harness.process import ServiceProcess

# A service whose pool fills one connection per request served, up to PEAK, out of 10.
SERVICE = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PEAK = int(sys.argv[2])
served = 0

class H(BaseHTTPRequestHandler):
    def do_GET(self):
        global served
        if self.path == "/metrics":
            body = (
                "# TYPE db_pool_in_use gauge\\n"
                f"db_pool_in_use {min(PEAK, served // 5)}\\n"
                "# TYPE db_pool_size gauge\\n"
                "db_pool_size 10\\n"
            ).encode()
        else:
            served += 1
            body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


@pytest.mark.parametrize(("peak", "code"), [(7, 0), (9, 99)])
def test_pool_ratio_threshold_on_a_scraped_gauge(tmp_path: Path, peak: int, code: int) -> None:
    script = tmp_path / "service.py"
    script.write_text(SERVICE)
    port = free_port()
    with ServiceProcess([sys.executable, str(script), str(port), str(peak)], port=port):
        done = subprocess.run(
            [sys.executable, "-m", "assay", "load", "run", f"http://127.0.0.1:{port}/", "--rate", "40", "--duration", "3s",
             "--workers", "1", "--quiet", "--scrape", f"http://127.0.0.1:{port}/metrics",
             "--threshold", "db_pool_in_use:max < 0.8 * db_pool_size.value"],
            capture_output=True, text=True, timeout=120,
        )
    assert done.returncode == code, done.stderr
    if code:
        assert "threshold crossed: db_pool_in_use: max < 0.8 * db_pool_size.value" in done.stderr
