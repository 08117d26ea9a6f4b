"""Sampler overhead: CPU % of the sampling process at 1 Hz on 10 target processes.

    .venv/bin/python benchmarks/observe/bench_sampler.py --seconds 30

The anchor is the same process idling for the same wall time in the same run (its CPU
use without the sampler), so the difference is the sampler's cost. Prints the load
average: the box is shared.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import psutil

from assay.observe.sampler import Sampler, Target


def cpu_percent_over(seconds: float, sampler: Sampler | None) -> tuple[float, int]:
    me = psutil.Process()
    before = me.cpu_times()
    start = time.monotonic()
    if sampler is not None:
        sampler.start()
    time.sleep(seconds)
    if sampler is not None:
        sampler.stop()
    wall = time.monotonic() - start
    after = me.cpu_times()
    used = (after.user - before.user) + (after.system - before.system)
    readings = sum(len(s.get("proc_rss_bytes").values) for s in sampler.series.values() if s.get("proc_rss_bytes")) if sampler else 0  # type: ignore[union-attr]
    return used / wall * 100.0, readings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--processes", type=int, default=10)
    args = parser.parse_args()
    targets = [subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"]) for _ in range(args.processes)]
    try:
        time.sleep(1.0)
        idle, _ = cpu_percent_over(args.seconds, None)
        sampler = Sampler([Target(f"p{i}", pid=p.pid) for i, p in enumerate(targets)], interval=1.0, include_self=False)
        sampled, readings = cpu_percent_over(args.seconds, sampler)
        load = os.getloadavg()
    finally:
        for p in targets:
            p.kill()
            p.wait()
    print("| run | CPU % of one core | readings |")
    print("|---|---|---|")
    print(f"| idle (anchor), {args.seconds:.0f} s | {idle:.3f} | 0 |")
    print(f"| sampler 1 Hz on {args.processes} processes, {args.seconds:.0f} s | {sampled:.3f} | {readings} |")
    print(f"| sampler overhead | {sampled - idle:.3f} | |")
    print(f"load average during the run: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} ({os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
