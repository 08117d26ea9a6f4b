"""A real soak of the load engine: `assay load run` at 500 msg/s to 50 WebSocket receivers, every message ledgered.

Issue 14's closing note asks for the load process's RSS growth over a 30-minute soak at
500 msg/s with 50 receivers. This runs exactly that as a user would (a separate `assay load
run --workers 1` process, soak_scenario.py) against the fan-out service of
tests/messaging/faulty_fanout.py, and samples every 10 s, with psutil, the RSS of the load
process and all its children (the worker), the target's RSS and the box's load average,
into a CSV. At the end it reads the run's RunResult (the ledger's verdict) and prints a
Markdown table: RSS at 0/5/10/20/30 min, the fitted growth per minute, messages
sent/delivered/lost and the achieved rate.

    .venv/bin/python benchmarks/messaging/bench_soak.py                 # 30 min, 500 msg/s, 50 receivers
    .venv/bin/python benchmarks/messaging/bench_soak.py --minutes 2     # a short check
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil

from assay.harness.ports import free_port
from assay.harness.process import ServiceProcess

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
FANOUT = ROOT / "tests" / "messaging" / "faulty_fanout.py"
SCENARIO = HERE / "soak_scenario.py"
MIB = 1024 * 1024
MARKS_MIN = (0, 1, 5, 10, 20, 30)


def tree_rss(proc: psutil.Process) -> tuple[int, int]:
    """RSS of `proc` and all its descendants (bytes), and how many processes that is."""
    total, count = 0, 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
            count += 1
        except psutil.Error:
            continue
    return total, count


def tree_cpu(proc: psutil.Process) -> float:
    """CPU seconds (user + system) of `proc` and its descendants."""
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            continue
    return total


def fit_per_minute(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (minute, MiB) points: MiB per minute."""
    n = len(points)
    if n < 2:
        return float("nan")
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    den = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / den if den else float("nan")


def rss_at(rows: list[dict[str, Any]], minute: float) -> float | None:
    """The load tree's RSS (MiB) at the sample nearest to `minute`, if the run got that far."""
    if not rows or rows[-1]["minute"] + 0.2 < minute:
        return None
    return min(rows, key=lambda r: abs(r["minute"] - minute))["load_rss_mib"]


def metric_value(result: dict[str, Any], name: str) -> Any:
    """A metric's values from k6's summary-export JSON (a dict of aggregates), or None."""
    metrics = result.get("metrics", {})
    found = metrics.get(name)
    if found is None:
        return None
    return found.get("values", found) if isinstance(found, dict) else found


def count_of(result: dict[str, Any], name: str) -> float | None:
    values = metric_value(result, name)
    if isinstance(values, dict):
        for key in ("count", "value", "sum"):
            if key in values:
                return float(values[key])
        return None
    return None if values is None else float(values)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=30.0, help="How long the load runs (default 30).")
    ap.add_argument("--rate", type=float, default=500.0, help="Messages per second (default 500).")
    ap.add_argument("--receivers", type=int, default=50, help="WebSocket receivers, one per room (default 50).")
    ap.add_argument("--message-bytes", type=int, default=1024, help="Filler per message (default 1024).")
    ap.add_argument("--workers", type=int, default=1, help="Load worker processes (default 1).")
    ap.add_argument("--interval", type=float, default=10.0, help="Seconds between samples (default 10).")
    ap.add_argument("--out", type=Path, default=Path("/tmp/assay-bench-soak"), help="Where the CSV, result and log go.")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    csv_path, log_path = args.out / "soak_rss.csv", args.out / "load.log"
    result_path, summary_path = args.out / "result.json", args.out / "summary.json"

    port = free_port()
    service = ServiceProcess(
        [sys.executable, str(FANOUT), str(port), "none", "1"], port=port, health_url=f"http://127.0.0.1:{port}/health"
    )
    env = dict(
        os.environ,
        BASE=f"http://127.0.0.1:{port}",
        RATE=str(args.rate),
        ROOMS=str(args.receivers),
        DURATION_S=str(args.minutes * 60),
        MESSAGE_BYTES=str(args.message_bytes),
        PYTHONPATH=str(HERE),
    )
    cmd = [
        sys.executable, "-m", "assay", "load", "run", str(SCENARIO),
        "--workers", str(args.workers), "-e", f"BASE=http://127.0.0.1:{port}",
        "--result", str(result_path), "--summary-export", str(summary_path), "--no-thresholds", "--name", "bench-soak",
    ]  # fmt: skip
    rows: list[dict[str, Any]] = []
    with service, open(log_path, "w") as log:
        target = psutil.Process(service.proc.pid) if getattr(service, "proc", None) else None
        print(f"soak: {args.minutes:g} min at {args.rate:g} msg/s to {args.receivers} receivers; target {env['BASE']}", flush=True)
        start = time.monotonic()
        load = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        proc = psutil.Process(load.pid)
        with open(csv_path, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["elapsed_s", "load_rss_mib", "load_processes", "load_cpu_s", "target_rss_mib", "load1", "load5", "load15"])
            next_at = start
            while load.poll() is None:
                now = time.monotonic()
                if now >= next_at:
                    rss, nproc = tree_rss(proc)
                    trss = target.memory_info().rss if target is not None and target.is_running() else 0
                    la = os.getloadavg()
                    row = {
                        "elapsed_s": round(now - start, 1),
                        "minute": (now - start) / 60,
                        "load_rss_mib": rss / MIB,
                        "load_processes": nproc,
                        "load_cpu_s": tree_cpu(proc),
                        "target_rss_mib": trss / MIB,
                        "load1": la[0], "load5": la[1], "load15": la[2],
                    }  # fmt: skip
                    if rss:
                        rows.append(row)
                        writer.writerow([row["elapsed_s"], f"{rss / MIB:.2f}", nproc, f"{row['load_cpu_s']:.1f}",
                                         f"{trss / MIB:.2f}", *(f"{x:.2f}" for x in la)])  # fmt: skip
                        fh.flush()
                        if len(rows) % 6 == 1:
                            print(f"  {row['elapsed_s']:7.0f} s  load RSS {rss / MIB:7.1f} MiB ({nproc} proc)  "
                                  f"target {trss / MIB:6.1f} MiB  load avg {la[0]:.1f}", flush=True)  # fmt: skip
                    next_at += args.interval
                time.sleep(min(1.0, max(0.05, next_at - time.monotonic())))
        wall = time.monotonic() - start
    if load.returncode not in (0, 99):  # 99: thresholds failed (not evaluated here, kept for safety)
        print(f"assay load run exited {load.returncode}; see {log_path}", file=sys.stderr)
    result = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    report(args, rows, result, wall, load.returncode, csv_path)
    return 0 if result else 1


def report(args: argparse.Namespace, rows: list[dict[str, Any]], result: dict[str, Any], wall: float, rc: int | None, csv_path: Path) -> None:
    """Print the result as a Markdown table."""
    sent = count_of(result, "messages_sent")
    delivered = count_of(result, "messages_delivered")
    lost = count_of(result, "messages_lost")
    dup = count_of(result, "messages_duplicated")
    ooo = count_of(result, "messages_out_of_order")
    failed = count_of(result, "messages_failed")
    latency = metric_value(result, "message_delivery_latency")
    load_s = args.minutes * 60
    # steady state: after the first minute (imports, histograms, sockets and VU pool allocated)
    steady = [(r["minute"], r["load_rss_mib"]) for r in rows if r["minute"] >= 1.0]
    whole = [(r["minute"], r["load_rss_mib"]) for r in rows]
    la = [r["load1"] for r in rows]
    cpu = rows[-1]["load_cpu_s"] / rows[-1]["elapsed_s"] * 100 if rows and rows[-1]["elapsed_s"] else float("nan")
    print()
    print(f"| bench_soak: {args.minutes:g} min, {args.rate:g} msg/s, {args.receivers} receivers, --workers {args.workers} | |")
    print("|---|---|")
    for minute in MARKS_MIN:
        if minute <= args.minutes + 0.01:
            value = rss_at(rows, minute)
            print(f"| load RSS at {minute} min | {'-' if value is None else f'{value:.1f} MiB'} |")
    if rows:
        print(f"| load RSS at the last sample ({rows[-1]['minute']:.1f} min) | {rows[-1]['load_rss_mib']:.1f} MiB |")
        print(f"| load RSS max | {max(r['load_rss_mib'] for r in rows):.1f} MiB |")
    print(f"| fitted growth, after the first minute | {fit_per_minute(steady):+.3f} MiB/min |")
    print(f"| fitted growth, whole run | {fit_per_minute(whole):+.3f} MiB/min |")
    if rows:
        print(f"| target (fan-out service) RSS first / last | {rows[0]['target_rss_mib']:.1f} / {rows[-1]['target_rss_mib']:.1f} MiB |")
        print(f"| load process CPU (all its processes) | {cpu:.0f} % of a core |")
    print(f"| messages sent / delivered / lost | {fmt(sent)} / {fmt(delivered)} / {fmt(lost)} |")
    print(f"| failed sends / duplicated / out of order | {fmt(failed)} / {fmt(dup)} / {fmt(ooo)} |")
    if sent is not None:
        print(f"| achieved send rate | {sent / load_s:.1f} msg/s ({sent / load_s / args.rate * 100:.1f} % of {args.rate:g}) |")
    if isinstance(latency, dict):
        parts = [f"{k} {float(v):.1f} ms" for k, v in latency.items() if k in ("med", "p(90)", "p(95)", "max")]
        print(f"| delivery latency | {', '.join(parts)} |")
    if la:
        print(f"| load average (1 min) min / median / max | {min(la):.1f} / {sorted(la)[len(la) // 2]:.1f} / {max(la):.1f} |")
    print(f"| wall time, exit code | {wall:.0f} s, {rc} |")
    print(f"\nsamples: {csv_path}")


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


if __name__ == "__main__":
    raise SystemExit(main())
