"""CPU per request of the k6 JS scenario against the Python scenario, in the steady state (not run by CI).

    .venv/bin/python benchmarks/load/bench_js_steady.py [--rounds 5] [--vus 50] [--before OLD_SRC]

Whole runs (bench_http.py) include start-up and swing ±30 % on a shared 2-core box; this
measures only the middle of each run: the CPU of `assay load run` (user+sys of its process
tree, from /proc) per request nginx served between t=2 s and t=5 s of a 6 s run. The scenarios
(one `GET /` per iteration, 50 VUs, 1 worker) run in turn, once per round, so a burst of
other work hits them alike; the table shows each round and the median, and the JS/Python
ratio per round. `--before DIR` adds the JS scenario of an earlier source tree (as in
bench_http.py).
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_http import ASSAY, Nginx, tool_env  # noqa: E402

WARM_S = 2.0
WINDOW_S = 3.0


def tree_cpu(pid: int) -> float:
    """User+sys seconds of `pid` and its descendants so far."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
            todo += [int(c) for c in Path(f"/proc/{p}/task/{p}/children").read_text().split()]
        except OSError:
            continue
    return total / tick


def one(cmd: list[str], env: dict[str, str], cwd: Path, nginx: Nginx) -> float:
    """µs of CPU per served request in the steady window of one run."""
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(WARM_S)
        c0, s0 = tree_cpu(proc.pid), nginx.served()
        time.sleep(WINDOW_S)
        c1, s1 = tree_cpu(proc.pid), nginx.served()
    finally:
        proc.wait(timeout=60)
    return (c1 - c0) / max(1, s1 - s0 - 1) * 1e6  # the status request itself is not the tool's


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--vus", type=int, default=50)
    ap.add_argument("--before", help="an earlier src/ tree: its JS scenario runs in the same rounds")
    args = ap.parse_args()
    with Nginx() as nginx, tempfile.TemporaryDirectory(prefix="assay-bench-js-") as tmp:
        work = Path(tmp)
        (work / "get.py").write_text(f'URL = "{nginx.url}"\n\nasync def default(vu):\n    await vu.http.get(URL)\n')
        (work / "get.js").write_text(textwrap.dedent(f"""
            import http from 'k6/http';

            export default function () {{
              http.get('{nginx.url}');
            }}
        """))
        env = tool_env(work)
        common = ["--vus", str(args.vus), "-d", f"{WARM_S + WINDOW_S + 1:.0f}s", "-q", "--workers", "1"]
        cases = {
            "Python scenario": ([*ASSAY, "load", "run", "get.py", *common], env),
            "k6 JS scenario": ([*ASSAY, "load", "run", "get.js", *common], env),
        }
        if args.before:
            cases["before: k6 JS"] = ([*ASSAY, "load", "run", "get.js", *common], dict(env, PYTHONPATH=str(Path(args.before).resolve()), PYTHONPYCACHEPREFIX=str(work / "pycache-before")))
        for cmd, case_env in cases.values():  # byte code compiled before the first measured round
            subprocess.run([*cmd[: cmd.index("-d")], "--iterations", "1", "-q"], cwd=work, env=case_env, capture_output=True)
        rows: dict[str, list[float]] = {name: [] for name in cases}
        for r in range(args.rounds):
            for name, (cmd, case_env) in cases.items():
                rows[name].append(one(cmd, case_env, work, nginx))
            print(f"round {r + 1}: " + ", ".join(f"{n} {v[-1]:.1f} µs" for n, v in rows.items()), flush=True)
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\n{args.vus} VUs, 1 worker, CPU per nginx-served request between t={WARM_S:.0f} s and t={WARM_S + WINDOW_S:.0f} s; load average {load} at the end")
    print("| scenario | µs/request per round | median | req per CPU-s | vs Python (median of per-round ratios) |")
    print("|---|---|---:|---:|---:|")
    py = rows["Python scenario"]
    for name, vals in rows.items():
        ratios = [p / v for p, v in zip(py, vals, strict=True)]
        med = statistics.median(vals)
        print(f"| {name} | {' / '.join(f'{v:.1f}' for v in vals)} | {med:.1f} | {1e6 / med:,.0f} | {statistics.median(ratios):.0%} |")


if __name__ == "__main__":
    main()
