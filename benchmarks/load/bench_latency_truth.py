"""Latency truth: does the reported p99 show a server stall? (coordinated omission; not run by CI)

    .venv/bin/python benchmarks/load/bench_latency_truth.py [--rate 200] [--duration 20] [--period 2] [--stall 0.2]

A local server answers at once, except that every `period` seconds it stalls for `stall`
seconds (a GC pause): whatever arrives meanwhile is answered when the stall ends. For an
open-model client sending `rate` requests/s, a fraction f = stall/period of requests wait
a uniformly distributed (0, stall] extra, so the true p99 is stall * (1 - 0.01/f) plus the
normal service time (when f > 1 %).

Compared: assay's constant-arrival-rate latency measured from the intended start
(`http_req_corrected_duration`, wrk2-style) and from the actual send (`http_req_duration`),
against closed-model generators (wrk -c10, assay constant-vus) that slow down with the
server and so hide the stall. Pass: assay's corrected p99 within 10 % of the true value.
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PY = str(REPO / ".venv" / "bin" / "python") if (REPO / ".venv").exists() else sys.executable

SERVER = textwrap.dedent('''
    import asyncio, sys, time, uvloop
    PERIOD, STALL = float(sys.argv[2]), float(sys.argv[3])
    RESP = b"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\nContent-Type: text/plain\\r\\n\\r\\nok"
    T0 = time.monotonic()
    def stalled_until():
        phase = (time.monotonic() - T0) % PERIOD
        return time.monotonic() + (STALL - phase) if phase < STALL else 0.0
    class H(asyncio.Protocol):
        def connection_made(self, t): self.t = t; self.buf = b""
        def data_received(self, d):
            self.buf += d
            while b"\\r\\n\\r\\n" in self.buf:
                _, _, self.buf = self.buf.partition(b"\\r\\n\\r\\n")
                until = stalled_until()
                if until:
                    asyncio.get_event_loop().call_later(until - time.monotonic(), self.t.write, RESP)
                else:
                    self.t.write(RESP)
    loop = uvloop.new_event_loop(); asyncio.set_event_loop(loop)
    loop.run_until_complete(loop.create_server(H, "127.0.0.1", int(sys.argv[1]), backlog=2048))
    loop.run_forever()
''')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def true_p99(stall: float, period: float, base_ms: float) -> float:
    f = stall / period
    if f <= 0.01:
        return base_ms
    return stall * (1 - 0.01 / f) * 1000.0 + base_ms


def assay_run(args: list[str], workdir: Path) -> dict:
    out = workdir / "r.json"
    subprocess.run([PY, "-m", "assay", "load", "run", *args, "--result", str(out), "-q", "--workers", "1"], check=True, timeout=600)
    return json.loads(out.read_text())


def pct(run: dict, metric: str, key: str) -> float:
    sys.path.insert(0, str(REPO / "src"))
    from assay.results import RunResult

    return RunResult.model_validate(run).stat(metric, key) or 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, default=200)
    ap.add_argument("--duration", type=int, default=20)
    ap.add_argument("--period", type=float, default=2.0)
    ap.add_argument("--stall", type=float, default=0.2)
    a = ap.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="assay-truth-"))
    (workdir / "server.py").write_text(SERVER)
    port = free_port()
    server = subprocess.Popen([PY, str(workdir / "server.py"), str(port), str(a.period), str(a.stall)])
    url = f"http://127.0.0.1:{port}/"
    try:
        time.sleep(0.5)
        vus = int(a.rate * a.stall * 2) + 10  # enough VUs that no iteration waits for one
        open_run = assay_run([url, "--rate", str(a.rate), "-d", f"{a.duration}s", "--vus", str(vus), "--max-vus", str(vus * 2)], workdir)
        closed_run = assay_run([url, "--vus", "10", "-d", f"{a.duration}s"], workdir)
        wrk = subprocess.run(["wrk", "-t1", "-c10", f"-d{a.duration}s", "--latency", url], capture_output=True, text=True, timeout=600).stdout
    finally:
        server.terminate()
        server.wait(timeout=5)
    m = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)", wrk, re.M)
    wrk_p99 = float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1000.0}[m.group(2)] if m else float("nan")
    base = pct(open_run, "http_req_duration", "med")
    truth = true_p99(a.stall, a.period, base)
    corrected = pct(open_run, "http_req_corrected_duration", "p(99)")
    measured = pct(open_run, "http_req_duration", "p(99)")
    dropped = open_run["metrics"].get("dropped_iterations", {}).get("sum", 0)
    print(f"\nstall {a.stall * 1000:.0f} ms every {a.period:g} s; open model at {a.rate:g}/s for {a.duration}s; p99 in ms")
    print(f"{'what':<52}{'p99 ms':>10}{'vs truth':>10}")
    print(f"{'true value (analytic, + median service time)':<52}{truth:>10.1f}{'':>10}")
    for label, value in [
        ("assay constant-arrival-rate, from intended start", corrected),
        ("assay constant-arrival-rate, from actual send", measured),
        ("assay constant-vus 10 (closed model)", pct(closed_run, "http_req_duration", "p(99)")),
        ("wrk -c10 (closed model)", wrk_p99),
    ]:
        print(f"{label:<52}{value:>10.1f}{value / truth - 1:>+10.0%}")
    print(f"dropped iterations in the open-model run: {dropped:.0f}")
    ok = abs(corrected / truth - 1) <= 0.10
    print(f"\nassay corrected p99 within 10% of the truth: {'YES' if ok else 'NO'}")


if __name__ == "__main__":
    main()
