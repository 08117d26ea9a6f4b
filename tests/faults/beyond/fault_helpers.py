"""Helpers for the fault-model tests: a tiny HTTP service, an owner process to SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).parent

SERVER = """
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header('Content-Length', '2'); self.end_headers(); self.wfile.write(b'ok')
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()
"""


def server_command(port: int) -> list[str]:
    return [sys.executable, "-c", SERVER, str(port)]


def start_owner(fault_type: str, target: str, duration: str, params: dict[str, object]) -> tuple[subprocess.Popen[str], str]:
    """Start an owner process that injects the fault; returns it and the fault id."""
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "fault_owner.py"), fault_type, target, duration, json.dumps(params)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy(),
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line:
        proc.wait(10)
        raise AssertionError(f"the owner did not inject: {proc.stderr.read() if proc.stderr else ''}")
    return proc, line


def sigkill(proc: subprocess.Popen[str]) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(5)


def wait_until(predicate: Callable[[], bool], timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()
