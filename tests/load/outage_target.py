"""A test target with a planned outage: 200 OK, except 503 from `down_from` s after the first request for `down_for` s.

    python outage_target.py PORT DOWN_FROM DOWN_FOR

Also serves Prometheus metrics on /metrics (prometheus-client), and exits by itself after
`--exit-after-scrapes` answers on /metrics when given (a scrape target that dies mid-run).
"""

from __future__ import annotations

import argparse
import asyncio
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

REGISTRY = CollectorRegistry()
SERVED = Counter("outage_target_requests_total", "Requests answered.", ["code"], registry=REGISTRY)
DEPTH = Gauge("outage_target_queue_depth", "A gauge that moves.", ["queue"], registry=REGISTRY)
LATENCY = Histogram("outage_target_latency_seconds", "Made-up latencies.", registry=REGISTRY)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("down_from", type=float)
    parser.add_argument("down_for", type=float)
    parser.add_argument("--exit-after-scrapes", type=int, default=0)
    args = parser.parse_args()
    t0 = [0.0]  # the first request's time: the outage is planned from there, whenever the run starts
    n = [0]
    scrapes = [0]
    done = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ", 2)[1]
                if path == b"/metrics":
                    body, status = generate_latest(REGISTRY), b"200 OK"
                    scrapes[0] += 1
                    if args.exit_after_scrapes and scrapes[0] >= args.exit_after_scrapes:
                        done.set()
                else:
                    if not t0[0]:
                        t0[0] = time.monotonic()
                    elapsed = time.monotonic() - t0[0]
                    down = args.down_from <= elapsed < args.down_from + args.down_for
                    status = b"503 Service Unavailable" if down else b"200 OK"
                    body = b"down" if down else b"ok"
                    SERVED.labels("503" if down else "200").inc()
                    n[0] += 1
                    DEPTH.labels("main").set(n[0] % 10)
                    LATENCY.observe((n[0] % 20) / 1000.0)
                writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", args.port)
    async with server:
        if args.exit_after_scrapes > 0:
            await done.wait()
            await asyncio.sleep(0.05)  # the last answer leaves before the process does
        else:
            await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
