"""A local webhook sink for the demo: every POSTed JSON body is appended to a file, one per line.

    python webhook_sink.py --port 8099 --out notifications.jsonl

It stands in for a Slack incoming webhook or an alerting endpoint, so `make demo` shows the
notification the night sent without sending anything off the machine.
"""

from __future__ import annotations

import argparse
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                record = {"path": self.path, "body": json.loads(body or b"null")}
            except ValueError:
                self.send_response(400)
                self.end_headers()
                return
            with args.out.open("a") as fh:
                fh.write(json.dumps(record) + "\n")
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *a: object) -> None:
            print(f"{self.command} {self.path}", flush=True)

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
