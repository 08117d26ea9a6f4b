"""A test service: waits `--delay` seconds, then serves HTTP 200 on --port (or never, with --never)."""

from __future__ import annotations

import argparse
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--delay", type=float, default=0.0)
parser.add_argument("--never", action="store_true")
parser.add_argument("--pidfile", type=Path)
args = parser.parse_args()
if args.pidfile:
    args.pidfile.write_text(str(os.getpid()))
print(f"starting, ready in {args.delay}s", flush=True)
time.sleep(args.delay)
if args.never:
    print("never ready", flush=True)
    while True:
        time.sleep(1)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *a: object) -> None:
        print("GET", self.path, flush=True)


print("listening", flush=True)
try:
    HTTPServer(("127.0.0.1", args.port), Handler).serve_forever()
except KeyboardInterrupt:
    sys.exit(0)
