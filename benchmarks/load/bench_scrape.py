"""The cost of `--scrape` on the load: request rate with and without it, same target, same run.

    .venv/bin/python benchmarks/load/bench_scrape.py --seconds 8 --rounds 3 --series 400

The load is assay at full speed (10 VUs, one worker, so the scrape thread shares the
worker's process and its GIL: the worst case) against tests/load/load_target.py. The
scraped service is a prometheus-client exposition with `--series` series (counters,
gauges and histograms whose values move), scraped once a second. Rounds alternate
without / with so drift on the shared box hits both; the ratio is per round, then the
median. Prints the load average: the box is shared.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from assay.harness.ports import free_port
from assay.harness.process import ServiceProcess
from assay.load.api import LoadRequest, prepare
from assay.load.coordinator import run_load

ROOT = Path(__file__).resolve().parents[2]

EXPOSITION = textwrap.dedent(
    """
    import sys, threading, time
    from prometheus_client import Counter, Gauge, Histogram, start_http_server
    port, n = int(sys.argv[1]), int(sys.argv[2])
    c = Counter("bench_events_total", "events", ["route", "code"])
    g = Gauge("bench_queue_depth", "depth", ["queue"])
    h = Histogram("bench_latency_seconds", "latency", ["route"])
    routes = max(1, n // 20)
    start_http_server(port, addr="127.0.0.1")
    i = 0
    while True:
        i += 1
        for r in range(routes):
            c.labels(f"/r{r}", "200").inc()
            c.labels(f"/r{r}", "500").inc(i % 2)
            g.labels(f"q{r}").set(i % 17)
            h.labels(f"/r{r}").observe((i % 100) / 1000)
        time.sleep(0.05)
    """
)


def one_run(url: str, seconds: float, scrape: str | None) -> tuple[float, float, float, float | None]:
    """(req/s, p99 ms, CPU µs of this process per request, the scrape process's CPU ms per scrape)."""
    loaded, plan = prepare(LoadRequest(target=url, vus=10, duration=f"{seconds:g}s", scrape=scrape))
    cpu0 = time.process_time()
    result = run_load(loaded, plan, workers=1)
    cpu = time.process_time() - cpu0
    n = result.metrics["http_reqs"].count
    p99 = result.metrics["http_req_duration"].stat("p(99)") or 0.0
    info = result.extra.get("scrape") or {}
    per_scrape = 1000 * info["scrape_cpu_s"] / info["scrapes"] if info.get("scrapes") else None
    return n / result.duration_s, p99, 1e6 * cpu / max(1, n), per_scrape


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--series", type=int, default=400, help="about how many series the scraped exposition has")
    args = parser.parse_args()
    target_port, metrics_port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "exposition.py"
        script.write_text(EXPOSITION)
        exposition = subprocess.Popen([sys.executable, str(script), str(metrics_port), str(args.series)])
        try:
            with ServiceProcess([sys.executable, str(ROOT / "tests/load/load_target.py"), str(target_port)], port=target_port):
                time.sleep(1.0)
                metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
                import httpx

                series = sum(1 for line in httpx.get(metrics_url).text.splitlines() if line and not line.startswith("#"))
                url = f"http://127.0.0.1:{target_port}/"
                one_run(url, 2.0, None)  # warm the target and the engine
                rows = []
                for _ in range(args.rounds):
                    base = one_run(url, args.seconds, None)
                    scraped = one_run(url, args.seconds, metrics_url)
                    rows.append((base, scraped))
                load = os.getloadavg()
        finally:
            exposition.kill()
            exposition.wait()
    print(f"with --scrape: {series} series scraped once a second (in a child process)")
    print("| round | req/s without (anchor) / with | ratio | load-process CPU µs per request without / with | ratio | p99 ms without / with | scrape process CPU ms per scrape |")
    print("|---|---|---|---|---|---|---|")
    for i, (b, s) in enumerate(rows, 1):
        print(f"| {i} | {b[0]:,.0f} / {s[0]:,.0f} | {s[0] / b[0]:.3f} | {b[2]:.1f} / {s[2]:.1f} | {s[2] / b[2]:.3f} | "
              f"{b[1]:.2f} / {s[1]:.2f} | {s[3]:.1f} |")
    print(f"| median | | {statistics.median(s[0] / b[0] for b, s in rows):.3f} | | {statistics.median(s[2] / b[2] for b, s in rows):.3f} | "
          f"{statistics.median(b[1] for b, _ in rows):.2f} / {statistics.median(s[1] for _, s in rows):.2f} | "
          f"{statistics.median(s[3] for _, s in rows):.1f} |")
    print(f"load average after the run: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} ({os.cpu_count()} cores; shared with other jobs)")


if __name__ == "__main__":
    main()
