"""Side-by-side HTTP load generators against nginx on 127.0.0.1 (not run by CI).

    .venv/bin/python benchmarks/load/bench_http.py [--duration 10] [--connections 50] [--repeats 3] [--only wrk,assay-py]
    .venv/bin/python benchmarks/load/bench_http.py --only "wrk -t1|assay python, 1 worker|assay yaml, 1 worker|assay k6 js, 1 worker" --repeats 3   # the JS row
    .venv/bin/python benchmarks/load/bench_http.py --only "assay python, 1,assay quick URL" --repeats 3   # tracing on/off

Needs: `apt-get install nginx wrk hey` and `pip install locust` (the `bench` extra).
Every tool gets the same URL (a 200 "ok" from nginx), duration and connection count.
Printed per tool: requests/s and p50/p99 as the tool reports them, the requests nginx
counted (stub_status), the tool's CPU (user+sys of the tool and all its processes,
start-up included) and requests per CPU-second, with the ratios the issue asks for. With
--repeats N every tool runs once per round, in turn, and the median of the N rounds is shown.

On a 2-core box nginx, the kernel and the tool share the CPUs, so above ~100k req/s the
fair comparison is requests per CPU-second of the tool, not requests/s.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
PY = str(REPO / ".venv" / "bin" / "python") if (REPO / ".venv").exists() else sys.executable
ASSAY = [PY, "-m", "assay"]

NGINX_CONF = """
worker_processes 1;
daemon on;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  keepalive_requests 1000000;
  sendfile on;
  tcp_nodelay on;
  client_body_temp_path {prefix}/body;
  proxy_temp_path {prefix}/proxy;
  fastcgi_temp_path {prefix}/fastcgi;
  uwsgi_temp_path {prefix}/uwsgi;
  scgi_temp_path {prefix}/scgi;
  server {{
    listen 127.0.0.1:{port};
    location = / {{ default_type text/plain; return 200 "ok"; }}
    location = /nginx_status {{ stub_status; }}
  }}
}}
"""


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Nginx:
    def __init__(self) -> None:
        self.prefix = Path(tempfile.mkdtemp(prefix="assay-bench-nginx-"))
        self.port = free_port()
        (self.prefix / "nginx.conf").write_text(NGINX_CONF.format(prefix=self.prefix, port=self.port))
        self.url = f"http://127.0.0.1:{self.port}/"

    def __enter__(self) -> Nginx:
        subprocess.run(["nginx", "-p", str(self.prefix), "-c", str(self.prefix / "nginx.conf")], check=True)
        deadline = time.time() + 5
        while time.time() < deadline:
            try:
                self.served()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("nginx did not start")

    def __exit__(self, *exc: Any) -> None:
        pid = int((self.prefix / "nginx.pid").read_text())
        os.kill(pid, 15)
        time.sleep(0.3)
        shutil.rmtree(self.prefix, ignore_errors=True)

    def served(self) -> int:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/nginx_status", timeout=2) as resp:
            text = resp.read().decode()
        return int(text.splitlines()[2].split()[2])


def tool_env(workdir: Path) -> dict[str, str]:
    """The environment of every tool. Python tools get a byte-code cache: an installed package
    (locust from PyPI, assay from a wheel) has its .pyc files, while this work tree runs from
    source with PYTHONDONTWRITEBYTECODE set, which would charge assay a re-compile per run."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(workdir / "pycache")
    return env


def run_tool(cmd: list[str], cwd: Path, timeout: float, env: dict[str, str] | None = None) -> tuple[str, float, float]:
    """Run one tool; returns (stdout+stderr, wall seconds, CPU seconds of it and its processes)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode not in (0, 99):
        raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return proc.stdout + proc.stderr, wall, cpu


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1000.0, "secs": 1000.0}[unit]


def parse_wrk(out: str, _: Path) -> tuple[float, float, float]:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    lat = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", out, re.M))
    def conv(s: str) -> float:
        m = re.match(r"([\d.]+)(us|ms|s)", s)
        return _ms(m.group(1), m.group(2))  # type: ignore[union-attr]
    return rps, conv(lat["50"]), conv(lat["99"])


def parse_hey(out: str, _: Path) -> tuple[float, float, float]:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = float(re.search(r"50%+ in ([\d.]+) secs", out).group(1)) * 1000  # type: ignore[union-attr]
    p99 = float(re.search(r"99%+ in ([\d.]+) secs", out).group(1)) * 1000  # type: ignore[union-attr]
    return rps, p50, p99


def parse_locust(_: str, workdir: Path) -> tuple[float, float, float]:
    stats = json.loads((workdir / "locust.json").read_text())
    total = sum(s["num_requests"] for s in stats)
    start = min(s["start_time"] for s in stats)
    end = max(s["last_request_timestamp"] for s in stats)
    times: dict[float, int] = {}
    for s in stats:
        for k, v in s["response_times"].items():
            times[float(k)] = times.get(float(k), 0) + v

    def pct(p: float) -> float:
        target = p * total
        seen = 0
        for k in sorted(times):
            seen += times[k]
            if seen >= target:
                return k
        return max(times)

    return total / max(1e-9, end - start), pct(0.5), pct(0.99)


def parse_assay(_: str, workdir: Path) -> tuple[float, float, float]:
    run = json.loads((workdir / "assay.json").read_text())
    m = run["metrics"]
    from assay.results import RunResult

    result = RunResult.model_validate(run)
    return m["http_reqs"]["sum"] / run["duration_s"], result.stat("http_req_duration", "med") or 0.0, result.stat("http_req_duration", "p(99)") or 0.0


def tools(url: str, d: int, c: int, workdir: Path) -> dict[str, tuple[list[str], Any]]:
    (workdir / "locustfile.py").write_text(textwrap.dedent(f"""
        from locust import FastHttpUser, constant, task
        class U(FastHttpUser):
            host = "{url.rstrip('/')}"
            wait_time = constant(0)
            @task
            def root(self):
                self.client.get("/")
    """))
    (workdir / "get.py").write_text(textwrap.dedent(f"""
        URL = "{url}"
        async def default(vu):
            await vu.http.get(URL)
    """))
    (workdir / "get.yaml").write_text(textwrap.dedent(f"""
        base_url: "{url.rstrip('/')}"
        requests:
          - name: root
            url: /
    """))
    (workdir / "get.js").write_text(textwrap.dedent(f"""
        import http from 'k6/http';

        export default function () {{
          http.get('{url}');
        }}
    """))
    locust = [PY, "-m", "locust", "-f", "locustfile.py", "--headless", "-u", str(c), "-r", str(c), "-t", f"{d}s",
              "--only-summary", "--json-file", "locust", "--master-bind-host", "127.0.0.1"]
    assay_common = ["--vus", str(c), "-d", f"{d}s", "--result", "assay.json", "-q"]
    return {
        "wrk -t1": (["wrk", "-t1", f"-c{c}", f"-d{d}s", "--latency", url], parse_wrk),
        "hey": (["hey", "-z", f"{d}s", "-c", str(c), url], parse_hey),
        "locust 1 proc": (locust, parse_locust),
        "locust 2 procs": ([*locust, "--processes", "2"], parse_locust),
        "assay python, 1 worker": ([*ASSAY, "load", "run", "get.py", *assay_common, "--workers", "1"], parse_assay),
        "assay python, 1 worker, --trace-requests 0.01": ([*ASSAY, "load", "run", "get.py", *assay_common, "--workers", "1", "--trace-requests", "0.01"], parse_assay),
        "assay python, 2 workers": ([*ASSAY, "load", "run", "get.py", *assay_common, "--workers", "2"], parse_assay),
        "assay quick URL, 1 worker": ([*ASSAY, "load", "run", url, *assay_common, "--workers", "1"], parse_assay),
        "assay quick URL, 1 worker, --trace-requests 0.01": ([*ASSAY, "load", "run", url, *assay_common, "--workers", "1", "--trace-requests", "0.01"], parse_assay),
        "assay yaml, 1 worker": ([*ASSAY, "load", "run", "get.yaml", *assay_common, "--workers", "1"], parse_assay),
        "assay k6 js, 1 worker": ([*ASSAY, "load", "run", "get.js", *assay_common, "--workers", "1"], parse_assay),
    }


def _chosen(label: str, only: str) -> bool:
    """--only: "a,b" picks labels starting with a or b; "a|b" picks exactly a and b (labels hold commas)."""
    if "|" in only:
        return label in {o.strip() for o in only.split("|")}
    return any(label.startswith(o.strip()) for o in only.split(","))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=1, help="rounds; each round runs every tool once, in turn")
    ap.add_argument("--only", default="", help='comma-separated tool labels (prefix match), or "|"-separated whole labels')
    ap.add_argument(
        "--before",
        default="",
        help="a src/ folder of an earlier assay (e.g. from `git archive OLD src | tar -x -C DIR`): "
        "its assay rows run in the same rounds, labelled 'before:'",
    )
    args = ap.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="assay-bench-"))
    env = tool_env(workdir)
    rows: dict[str, list[tuple[float, float, float, int, float, float]]] = {}
    with Nginx() as nginx:
        chosen: dict[str, tuple[list[str], Any, dict[str, str]]] = {}
        for label, (cmd, parse) in tools(nginx.url, args.duration, args.connections, workdir).items():
            if args.only and not _chosen(label, args.only):
                continue
            if shutil.which(cmd[0]) is None and not cmd[0].startswith("/"):
                print(f"skip {label}: {cmd[0]} not installed", file=sys.stderr)
                continue
            chosen[label] = (cmd, parse, env)
            if args.before and label.startswith("assay") and "--trace-requests" not in label:
                before_env = dict(env, PYTHONPATH=str(Path(args.before).resolve()), PYTHONPYCACHEPREFIX=str(workdir / "pycache-before"))
                # a src from before `--result` existed wrote the RunResult with -o FILE
                before_src = Path(args.before).resolve() / "assay" / "cli" / "load.py"
                before_cmd = cmd if '"--result"' in before_src.read_text() else ["-o" if a == "--result" else a for a in cmd]
                chosen[f"before: {label}"] = (before_cmd, parse, before_env)
        # fill the byte-code cache once, outside the measurements
        for _, _, tool_env_ in chosen.values():
            subprocess.run([*ASSAY, "load", "--help"], cwd=workdir, capture_output=True, env=tool_env_, timeout=120)
        subprocess.run([PY, "-m", "locust", "--version"], cwd=workdir, capture_output=True, env=env, timeout=120)
        # rounds alternate the tools, so a burst of load from other work hits every tool alike
        for rnd in range(args.repeats):
            for label, (cmd, parse, run_env) in chosen.items():
                served0 = nginx.served()
                out, wall, cpu = run_tool(cmd, workdir, timeout=args.duration * 6 + 60, env=run_env)
                served = nginx.served() - served0 - 1
                rps, p50, p99 = parse(out, workdir)
                rows.setdefault(label, []).append((rps, p50, p99, served, cpu, wall))
                print(f"round {rnd + 1} {label}: {rps:,.0f} req/s, served {served:,}, cpu {cpu:.2f}s, wall {wall:.1f}s", file=sys.stderr)
                time.sleep(1)
    load = os.getloadavg()
    print(
        f"\nnginx 127.0.0.1 (1 worker), {args.duration}s, {args.connections} connections, {args.repeats} round(s), "
        "median per tool; CPU = user+sys of the tool and its processes, start-up included"
    )
    print(
        f"shared {os.cpu_count()}-core box (load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} at the end): "
        "other work competes for the CPUs, so compare requests per CPU-second; expect +-15-30 % between runs"
    )
    wrk_label, loc_label = "wrk -t1", "locust 1 proc"
    per_cpu = {label: statistics.median(r[3] / r[4] for r in runs if r[4]) for label, runs in rows.items()}
    wrk = per_cpu.get(wrk_label)
    loc = per_cpu.get(loc_label)
    print(f"{'tool':<36}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'served':>11}{'CPU s':>8}{'req/CPU-s':>11}{'µs/req':>8}{'vs wrk':>8}{'vs locust':>10}")
    for label, runs in rows.items():
        rps, p50, p99, served, cpu, _ = (statistics.median(col) for col in zip(*runs, strict=True))
        pc = per_cpu[label]
        vs_wrk = f"{pc / wrk:.0%}" if wrk else "-"
        vs_loc = f"{pc / loc:.1f}x" if loc else "-"
        print(f"{label:<36}{rps:>10,.0f}{p50:>9.2f}{p99:>9.2f}{served:>11,.0f}{cpu:>8.2f}{pc:>11,.0f}{1e6 / pc if pc else 0:>8.1f}{vs_wrk:>8}{vs_loc:>10}")
    print()
    targets = {"assay python, 1 worker": ("Python scenario", 0.50, 5.0), "assay yaml, 1 worker": ("YAML scenario", 0.70, None)}
    for label, (what, need_wrk, need_loc) in targets.items():
        if label not in per_cpu or not wrk:
            continue
        got = per_cpu[label] / wrk
        line = f"{what}: {got:.0%} of wrk per CPU-second (target {need_wrk:.0%}: {'met' if got >= need_wrk else 'NOT met'})"
        if need_loc and loc:
            x = per_cpu[label] / loc
            line += f", {x:.1f}x locust (target {need_loc:.0f}x: {'met' if x >= need_loc else 'NOT met'})"
        print(line)
    for base in ("assay python, 1 worker", "assay quick URL, 1 worker"):
        traced = per_cpu.get(f"{base}, --trace-requests 0.01")
        if traced and per_cpu.get(base):
            print(f"{base}: --trace-requests 0.01 keeps {traced / per_cpu[base]:.0%} of the requests per CPU-second without tracing")
    py, js = per_cpu.get("assay python, 1 worker"), per_cpu.get("assay k6 js, 1 worker")
    if py and js:
        got = js / py
        print(f"k6 JS scenario: {got:.0%} of the Python scenario per CPU-second (target 70%: {'met' if got >= 0.70 else 'NOT met'})")
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
