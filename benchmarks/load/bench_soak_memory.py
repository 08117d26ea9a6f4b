"""Memory in a soak at full speed: RSS of one worker over time (not run by CI).

    .venv/bin/python benchmarks/load/bench_soak_memory.py URL [--duration 120] [--vus 50]

Runs a quick-mode constant-vus test in this process and samples RSS every 10 s. Trends
are HdrHistograms and samples are folded every second, so after warm-up RSS grows only by
the per-second time-series buckets (a few kB each): a 30-minute soak adds a few MB.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

import psutil  # noqa: E402

from assay.load.coordinator import run_load  # noqa: E402
from assay.load.options import build_plan  # noqa: E402
from assay.load.quick import quick_scenario  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--duration", type=int, default=120)
    ap.add_argument("--vus", type=int, default=50)
    a = ap.parse_args()
    proc = psutil.Process()
    samples: list[tuple[float, float]] = []
    t0 = time.time()

    def sample() -> None:
        while True:
            samples.append((time.time() - t0, proc.memory_info().rss / 1e6))
            time.sleep(10)

    threading.Thread(target=sample, daemon=True).start()
    loaded = quick_scenario(a.url, vus=a.vus, duration=f"{a.duration}s")
    result = run_load(loaded, build_plan(loaded, extra_thresholds={"http_req_duration": ["p(95)<1000"]}), workers=1)
    samples.append((time.time() - t0, proc.memory_info().rss / 1e6))
    reqs = result.stat("http_reqs", "count") or 0
    print(f"{reqs:,.0f} requests in {result.duration_s:.0f}s ({reqs / result.duration_s:,.0f}/s)")
    print("t (s)   RSS (MB)")
    for t, rss in samples:
        print(f"{t:6.0f}   {rss:8.1f}")
    after_warmup = [(t, r) for t, r in samples if t >= 30]
    if len(after_warmup) >= 3:
        import numpy as np

        ts = np.array([t for t, _ in after_warmup])
        rs = np.array([r for _, r in after_warmup])
        slope = float(np.polyfit(ts / 60.0, rs, 1)[0])
        print(f"after 30 s: RSS {rs.min():.1f}-{rs.max():.1f} MB; least-squares trend {slope:+.2f} MB/min "
              f"-> {slope * 30:+.1f} MB per 30 min")


if __name__ == "__main__":
    main()
