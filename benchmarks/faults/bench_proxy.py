"""Fault proxy speed with no toxics: through `assay proxy serve` versus direct, on loopback.

    .venv/bin/python benchmarks/faults/bench_proxy.py [--rounds 3] [--only redis,bulk,wrk]
        [--redis-ops 20000] [--bulk-gib 1] [--wrk-seconds 10] [--toxic noop]

(a) Redis GET/SET round trips with redis-py (one connection): added p50 and ops/s ratio,
    plus redis-benchmark (50 clients) ops/s ratio;
(b) a 1 GiB bulk transfer (sendall of 4 MiB blocks into a recv_into sink): throughput ratio;
(c) nginx (a small static file) under wrk: req/s ratio, with wrk on one thread (leaving a
    core for nginx and the proxy on a 2-core box) and on two, same -t/-c both ways.
`--toxic noop` (or latency, ...) measures the chain path instead of the no-toxic path.
Every measure runs `--rounds` times, alternating direct, proxied and the socat anchor
(a common C forwarder, for scale; `--no-socat` skips it), and each
reports its best round, so load from other processes hits all sides alike. Still noisy on
a shared machine.
"""

from __future__ import annotations

import argparse
import functools
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import httpx
import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
from assay.faults.server import subprocess_server  # noqa: E402
from assay.harness.ports import free_port, wait_for_port  # noqa: E402

T = TypeVar("T")


def make_proxy(api: str, name: str, upstream: str, toxic: str | None = None) -> int:
    """A proxy; with `toxic`, that toxic type (default attributes) on both streams."""
    r = httpx.post(f"{api}/proxies", json={"name": name, "upstream": upstream, "listen": "127.0.0.1:0"})
    r.raise_for_status()
    for stream in ("upstream", "downstream") if toxic else ():
        httpx.post(f"{api}/proxies/{name}/toxics", json={"type": toxic, "stream": stream}).raise_for_status()
    return int(r.json()["listen"].rsplit(":", 1)[1])


def redis_round_trips(port: int, ops: int) -> tuple[float, float]:
    """(p50 µs per GET/SET round trip, ops/s)."""
    r = redis.Redis(host="127.0.0.1", port=port)
    r.set("bench:k", "v" * 32)
    for _ in range(500):
        r.get("bench:k")
    samples = []
    start = time.perf_counter()
    for i in range(ops):
        t = time.perf_counter()
        if i % 2:
            r.get("bench:k")
        else:
            r.set("bench:k", "v" * 32)
        samples.append(time.perf_counter() - t)
    total = time.perf_counter() - start
    r.close()
    return statistics.median(samples) * 1e6, ops / total


def redis_benchmark(port: int) -> float:
    out = subprocess.run(["redis-benchmark", "-p", str(port), "-t", "get,set", "-n", "100000", "-c", "50", "-q"],
                         capture_output=True, text=True, timeout=300).stdout
    rates = [float(x) for x in re.findall(r"([\d.]+) requests per second", out)]
    return sum(rates) / len(rates)


SINK = textwrap.dedent("""
    import socket, sys
    srv = socket.create_server(("127.0.0.1", int(sys.argv[1])))
    buf = bytearray(4 << 20)
    while True:
        conn, _ = srv.accept()
        n = 0
        while (k := conn.recv_into(buf)):
            n += k
        conn.sendall(str(n).encode())
        conn.close()
""")


def bulk(port: int, total: int) -> float:
    """Bytes/s to send `total` bytes and get the receiver's count back."""
    block = b"\0" * (4 << 20)
    with socket.create_connection(("127.0.0.1", port)) as s:
        start = time.perf_counter()
        sent = 0
        while sent < total:
            s.sendall(block)
            sent += len(block)
        s.shutdown(socket.SHUT_WR)
        got = int(s.recv(64))
        elapsed = time.perf_counter() - start
    assert got == total, (got, total)
    return total / elapsed


def wrk(port: int, seconds: int, threads: int) -> float:
    out = subprocess.run(["wrk", f"-t{threads}", "-c50", f"-d{seconds}s", f"http://127.0.0.1:{port}/index.html"],
                         capture_output=True, text=True, timeout=seconds + 60).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert m, out
    return float(m.group(1))


def start_nginx(workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    (workdir / "html").mkdir()
    (workdir / "html" / "index.html").write_text("<html><body>" + "assay " * 100 + "</body></html>\n")
    conf = workdir / "nginx.conf"
    conf.write_text(textwrap.dedent(f"""
        daemon off;
        worker_processes 1;
        pid {workdir}/nginx.pid;
        error_log {workdir}/error.log;
        events {{ worker_connections 1024; }}
        http {{
            access_log off;
            client_body_temp_path {workdir}/tmp;
            proxy_temp_path {workdir}/tmp; fastcgi_temp_path {workdir}/tmp;
            uwsgi_temp_path {workdir}/tmp; scgi_temp_path {workdir}/tmp;
            keepalive_requests 1000000;
            server {{ listen 127.0.0.1:{port}; root {workdir}/html; }}
        }}
    """))
    proc = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(workdir)], stderr=subprocess.DEVNULL)
    wait_for_port("127.0.0.1", port)
    return proc, port


def best_of(rounds: int, runs: list[Callable[[], T]], key: Callable[[T], float]) -> list[T]:
    """Alternate the runs (direct, proxied, anchor) round by round; keep each one's best (highest `key`)."""
    results: list[list[T]] = [[] for _ in runs]
    for _ in range(rounds):
        for out, run in zip(results, runs, strict=True):
            out.append(run())
    return [max(r, key=key) for r in results]


class Socat:
    """The anchor: socat forwarding the same upstream (C, a process per connection, 256 KiB buffer)."""

    def __init__(self, upstream_port: int) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            ["socat", "-b", "262144", f"TCP-LISTEN:{self.port},bind=127.0.0.1,fork,reuseaddr,nodelay",
             f"TCP:127.0.0.1:{upstream_port},nodelay"],
            stderr=subprocess.DEVNULL, start_new_session=True,
        )
        wait_for_port("127.0.0.1", self.port)

    def close(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        self.proc.wait()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3, help="alternating direct/proxied(/socat) runs per measure (best kept)")
    ap.add_argument("--only", default="redis,bulk,wrk", help="comma-separated subset of redis,bulk,wrk")
    ap.add_argument("--redis-ops", type=int, default=20000)
    ap.add_argument("--bulk-gib", type=float, default=1.0)
    ap.add_argument("--wrk-seconds", type=int, default=10)
    ap.add_argument("--toxic", help="measure the chain path: this toxic type (e.g. noop, latency) on both streams")
    ap.add_argument("--no-socat", action="store_true", help="skip the socat anchor column")
    args = ap.parse_args()
    only = set(args.only.split(","))
    n = args.rounds
    anchor = not args.no_socat and shutil.which("socat") is not None
    rows: list[tuple[str, ...]] = []
    load_before = os.getloadavg()[0]

    def cells(values: list[float], fmt: str, lower_is_better: bool = False) -> list[str]:
        out = [format(values[0], fmt)]
        for v in values[1:]:
            out += [format(v, fmt), f"+{v - values[0]:.1f} µs" if lower_is_better else f"{v / values[0]:.2f}x"]
        return out

    def measure(name: str, run: Callable[[int], float], direct: int, proxied: int, fmt: str) -> None:
        """`run(port)` on the upstream's own port, the proxy's and socat's (to the same upstream)."""
        socat = Socat(direct) if anchor else None
        ports = [direct, proxied] + ([socat.port] if socat else [])
        try:
            best = best_of(n, [functools.partial(run, p) for p in ports], key=float)
        finally:
            if socat is not None:
                socat.close()
        rows.append((name, *cells(best, fmt)))

    with subprocess_server() as service, tempfile.TemporaryDirectory() as tmp:
        api = service.url
        if "redis" in only:  # (a)
            rport = make_proxy(api, "redis", "127.0.0.1:6379", args.toxic)
            socat = Socat(6379) if anchor else None
            ports = [6379, rport] + ([socat.port] if socat else [])
            try:
                trips = best_of(
                    n, [functools.partial(redis_round_trips, p, args.redis_ops) for p in ports], key=lambda r: -r[0]
                )
            finally:
                if socat is not None:
                    socat.close()
            rows.append(("redis-py GET/SET p50 (µs)", *cells([t[0] for t in trips], ".1f", lower_is_better=True)))
            rows.append(("redis-py GET/SET ops/s", *cells([t[1] for t in trips], ",.0f")))
            if shutil.which("redis-benchmark"):
                measure("redis-benchmark -c50 ops/s", redis_benchmark, 6379, rport, ",.0f")
        if "bulk" in only:  # (b)
            sport = free_port()
            sink = subprocess.Popen([sys.executable, "-c", SINK, str(sport)])
            try:
                wait_for_port("127.0.0.1", sport)
                bport = make_proxy(api, "bulk", f"127.0.0.1:{sport}", args.toxic)
                total = int(args.bulk_gib * (1 << 30))
                measure(f"bulk {args.bulk_gib:g} GiB (GB/s)", lambda port: bulk(port, total) / 1e9, sport, bport, ".2f")
            finally:
                sink.kill()
                sink.wait()
        if "wrk" in only and shutil.which("nginx") and shutil.which("wrk"):  # (c)
            nginx, nport = start_nginx(Path(tmp))
            try:
                wport = make_proxy(api, "nginx", f"127.0.0.1:{nport}", args.toxic)
                for threads in (1, 2):

                    def wrk_on(port: int, t: int = threads) -> float:
                        return wrk(port, args.wrk_seconds, t)

                    measure(f"nginx wrk -t{threads} -c50 req/s", wrk_on, nport, wport, ",.0f")
            finally:
                nginx.terminate()
                nginx.wait()
    head = ["measure", "direct", "via proxy", "ratio/added"] + (["via socat", "ratio/added"] if anchor else [])
    width = max(len(r[0]) for r in rows)
    print(f"{head[0]:<{width}}" + "".join(f"  {h:>12}" for h in head[1:]))
    for row in rows:
        print(f"{row[0]:<{width}}" + "".join(f"  {c:>12}" for c in row[1:]))
    if args.toxic:
        print(f"(through the proxy: a {args.toxic} toxic with default attributes on both streams)")
    if anchor:
        print("(anchor: socat -b 262144 TCP-LISTEN:...,fork,nodelay TCP:...,nodelay, a common C forwarder, "
              "a process per connection; for scale, not a ceiling)")
    print(
        f"(best of {n} alternating direct/proxied{'/socat' if anchor else ''} rounds per measure; cpus: {os.cpu_count()}; "
        f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after; shared machine, numbers are noisy)"
    )


if __name__ == "__main__":
    main()
