"""Scale-out figures: the Ray backend against local worker processes and Locust, and the coordinator's merge cost.

    .venv/bin/python benchmarks/bench_scale.py [--duration 10] [--workers 2] [--vus 50] [--rounds 3]
    .venv/bin/python benchmarks/bench_scale.py --merge-only          # the merge-cost table alone (no nginx)

Needs nginx (apt-get install nginx) and Ray and Locust in the venv (`pip install -e '.[ray,bench]'`).
Not run by CI. Two parts:

1. Against nginx on 127.0.0.1 (a 200 "ok", private config under /tmp): the same closed-model load
   (--vus connections for --duration seconds) with `--backend process` and `--backend ray` at the
   same worker count, and Locust master/worker (`--processes N`, FastHttpUser) with the same
   number of processes, once each per round. Requests are counted by nginx (stub_status), CPU is
   user+sys of the command and every process under it (Ray's own daemons included, start-up
   included), and separately of the worker processes alone (sampled with psutil). Medians of the
   rounds; the ratios are taken within each round.
2. The coordinator's merge cost with 2, 8, 32 and 128 simulated workers: the messages one real
   worker sent (ticks with per-second buckets and histograms, snapshots, its final result, as
   the Ray backend streams them) are replayed as N workers into the coordinator, unpickled as
   they would arrive from Ray. Printed: coordinator CPU per worker per second of test, the
   final exact merge of N results, and the bytes each worker sends per second.

The box is shared and noisy (2 cores, other jobs): the load average is printed with the results.
"""

from __future__ import annotations

import argparse
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "load"))

from bench_http import ASSAY, PY, Nginx, parse_locust, tool_env  # noqa: E402


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# -- part 1: against nginx ---------------------------------------------------------------------------------


class TreeCPU:
    """CPU seconds of a process and everything under it, sampled; `workers` counts only the
    processes `is_worker` picks (the last sample of each process is kept after it exits)."""

    def __init__(self, pid: int, is_worker: Any) -> None:
        import psutil

        self.root = psutil.Process(pid)
        self.is_worker = is_worker
        self.seen: dict[int, tuple[float, bool]] = {}
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        import psutil

        while not self._stop.is_set():
            try:
                procs = [self.root, *self.root.children(recursive=True)]
            except psutil.Error:
                return
            for p in procs:
                try:
                    t = p.cpu_times()
                    # sticky: an exiting process's command line reads empty; the root is never a worker
                    worker = p.pid != self.root.pid and (self.seen.get(p.pid, (0.0, False))[1] or bool(self.is_worker(p)))
                    self.seen[p.pid] = (t.user + t.system, worker)
                except psutil.Error:
                    pass
            self._stop.wait(0.2)

    def stop(self) -> float:
        self._stop.set()
        self.thread.join()
        return sum(cpu for cpu, worker in self.seen.values() if worker)


def _cmdline(p: Any) -> str:
    try:
        return " ".join(p.cmdline())
    except Exception:
        return ""


def run_measured(cmd: list[str], cwd: Path, env: dict[str, str], is_worker: Any, timeout: float) -> tuple[float, float, float]:
    """(wall s, CPU s of the whole tree, CPU s of its workers)."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    tree = TreeCPU(proc.pid, is_worker)
    out, _ = proc.communicate(timeout=timeout)
    wall = time.perf_counter() - t0
    workers = tree.stop()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    sampled_all = sum(c for c, _ in tree.seen.values())
    if proc.returncode not in (0, 99):
        raise RuntimeError(f"{cmd[:4]} failed ({proc.returncode}): {out[-2000:]}")
    # processes re-parented away from the tree are not reaped by it: take the larger account
    return wall, max(cpu, sampled_all), workers


def part_one(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="assay-bench-scale-"))
    env = tool_env(workdir)
    n, d, c = args.workers, args.duration, args.vus
    with Nginx() as nginx:
        url = nginx.url
        (workdir / "locustfile.py").write_text(textwrap.dedent(f"""
            from locust import FastHttpUser, constant, task
            class U(FastHttpUser):
                host = "{url.rstrip('/')}"
                wait_time = constant(0)
                @task
                def root(self):
                    self.client.get("/")
        """))
        common = ["load", "run", url, "--vus", str(c), "--duration", f"{d}s", "--workers", str(n), "-q", "--no-thresholds"]
        def forked_worker(p: Any) -> bool:  # process backend: the CLI's forked children
            return "assay" in _cmdline(p) and "load run" in _cmdline(p)

        runs: dict[str, tuple[list[str], Any]] = {
            f"assay --backend process -w {n}": ([*ASSAY, *common, "--backend", "process"], forked_worker),
            f"assay --backend ray -w {n}": ([*ASSAY, *common, "--backend", "ray"], lambda p: _cmdline(p).startswith("ray::LoadWorkerActor")),
            f"locust --processes {n}": (
                [PY, "-m", "locust", "-f", "locustfile.py", "--headless", "-u", str(c), "-r", str(c), "-t", f"{d}s",
                 "--only-summary", "--json-file", "locust", "--master-bind-host", "127.0.0.1", "--processes", str(n)],
                lambda p: "locust" in _cmdline(p),
            ),
        }
        rows: dict[str, list[dict[str, float]]] = {k: [] for k in runs}
        loads: list[str] = []
        for r in range(args.rounds):
            for label, (cmd, is_worker) in runs.items():
                served0 = nginx.served()
                wall, cpu, wcpu = run_measured(cmd, workdir, env, is_worker, timeout=d + 240)
                served = nginx.served() - served0 - 1
                rows[label].append({"requests": served, "wall": wall, "cpu": cpu, "wcpu": wcpu, "rps": served / d})
                if label.startswith("locust"):
                    parse_locust("", workdir)  # the summary must exist (the run was real)
                print(f"round {r + 1} {label}: {served} requests, CPU {cpu:.1f}s (workers {wcpu:.1f}s), wall {wall:.1f}s", flush=True)
            loads.append(loadavg())
    print(f"\nnginx on 127.0.0.1, {c} connections, {d}s, {n} workers/processes, {args.rounds} rounds (medians); load average per round: {'; '.join(loads)}")
    print(f"{'generator':<32}{'req/s':>9}{'CPU s':>8}{'req/CPU-s':>11}{'worker CPU s':>14}{'req/worker-CPU-s':>18}")
    med: dict[str, dict[str, float]] = {}
    for label, rs in rows.items():
        m = {k: statistics.median(x[k] for x in rs) for k in rs[0]}
        m["per_cpu"] = statistics.median(x["requests"] / x["cpu"] for x in rs)
        m["per_wcpu"] = statistics.median(x["requests"] / max(x["wcpu"], 1e-9) for x in rs)
        med[label] = m
        print(f"{label:<32}{m['rps']:>9.0f}{m['cpu']:>8.1f}{m['per_cpu']:>11.0f}{m['wcpu']:>14.1f}{m['per_wcpu']:>18.0f}")
    labels = list(runs)
    proc_l, ray_l, loc_l = labels

    def ratio(a: str, b: str, key: str) -> float:
        return statistics.median(
            (ra["requests"] / max(ra[key], 1e-9)) / (rb["requests"] / max(rb[key], 1e-9)) for ra, rb in zip(rows[a], rows[b], strict=True)
        )

    print(f"\nray / process, req per CPU-second (same round): {ratio(ray_l, proc_l, 'cpu'):.2f} whole command, "
          f"{ratio(ray_l, proc_l, 'wcpu'):.2f} workers alone")
    print(f"ray / locust master-worker, req per CPU-second: {ratio(ray_l, loc_l, 'cpu'):.2f} whole command, "
          f"{ratio(ray_l, loc_l, 'wcpu'):.2f} workers alone")
    print(f"process / locust, req per CPU-second: {ratio(proc_l, loc_l, 'cpu'):.2f} whole command")


def steady_state(args: argparse.Namespace) -> None:
    """Worker CPU while the test runs (start-up left out): Ray actors sampled by pid from the second
    progress event to the last, against forked workers' whole CPU (their start is a fork)."""
    import resource

    import psutil

    from assay.load.backends import ProcessBackend
    from assay.load.coordinator import run_load
    from assay.load.options import build_plan
    from assay.load.quick import quick_scenario
    from assay.load.ray_backend import RayBackend, RayOptions

    rows: list[tuple[float, float]] = []
    with Nginx() as nginx, RayBackend(RayOptions(local_cpus=args.workers)) as backend:
        loaded = quick_scenario(nginx.url, vus=args.vus, duration=f"{args.duration}s")
        plan = build_plan(loaded)
        for _ in range(args.rounds):
            samples: dict[int, list[tuple[float, float]]] = {}

            def progress(p: Any, samples: dict[int, list[tuple[float, float]]] = samples) -> None:
                for w in backend.workers:
                    try:
                        t = psutil.Process(w["pid"]).cpu_times()
                    except psutil.Error:
                        continue
                    samples.setdefault(w["pid"], []).append((p.elapsed, t.user + t.system))

            result = run_load(loaded, plan, workers=args.workers, backend=backend, on_progress=progress)
            cpu = sum(v[-1][1] - v[0][1] for v in samples.values())
            span = statistics.median(v[-1][0] - v[0][0] for v in samples.values())
            ray_rate = result.metrics["http_reqs"].count / result.duration_s * span / cpu
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            result = run_load(loaded, plan, workers=args.workers, backend=ProcessBackend())
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            fork_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            rows.append((ray_rate, result.metrics["http_reqs"].count / fork_cpu))
    print(f"\nsteady state, requests per worker-CPU-second (load average {loadavg()}):")
    for ray_rate, fork_rate in rows:
        print(f"  ray actors {ray_rate:,.0f}   forked workers {fork_rate:,.0f}   ratio {ray_rate / fork_rate:.2f}")


# -- part 2: the coordinator's merge cost ------------------------------------------------------------------


def record_worker(url: str, seconds: int) -> list[dict[str, Any]]:
    """The messages of one real worker (segment 0 of 2, streaming as under Ray) loading `url`."""
    from dataclasses import replace

    from assay.load.executors import Segment
    from assay.load.options import build_plan
    from assay.load.quick import quick_scenario
    from assay.load.runner import WorkerJob, run_worker

    loaded = quick_scenario(url, vus=10, duration=f"{seconds}s")
    plan = build_plan(loaded, extra_thresholds={"http_req_duration": ["p(95)<500"], "http_req_failed": ["rate<0.01"]})
    job = WorkerJob(spec=loaded.spec, plan=plan, segment=Segment(0, 2), run_name="bench", stream_full=True)
    messages: list[dict[str, Any]] = []
    run_worker(replace(job), messages.append, threading.Event(), loaded=loaded)
    return messages


def merge_cost(messages: list[dict[str, Any]], workers: int) -> tuple[float, float, int]:
    """(coordinator CPU s per worker per second of test, final merge s, bytes per worker per second)."""
    from assay.load.coordinator import _Live
    from assay.load.options import build_plan
    from assay.load.quick import quick_scenario
    from assay.results import RunResult, merge_results

    loaded = quick_scenario("http://127.0.0.1:1/", vus=1, duration="1s")
    plan = build_plan(loaded, extra_thresholds={"http_req_duration": ["p(95)<500"], "http_req_failed": ["rate<0.01"]})
    live = _Live(plan, workers, None, threading.Event())
    streamed = [m for m in messages if m["type"] in ("tick", "snapshot")]
    seconds = sum(1 for m in messages if m["type"] == "tick")
    blobs = [pickle.dumps(m, protocol=5) for m in streamed]
    per_worker_bytes = sum(len(b) for b in blobs) / seconds
    t0 = time.process_time()
    for blob in blobs:  # second by second, every worker's message of that moment
        for w in range(workers):
            msg = pickle.loads(blob)
            msg["worker"] = w
            live.handle(msg)
    stream_cpu = time.process_time() - t0
    done = next(m for m in messages if m["type"] == "done")
    t0 = time.process_time()
    parts = [RunResult.from_json(pickle.loads(pickle.dumps(done))["result"]) for _ in range(workers)]
    merge_results(parts)
    final = time.process_time() - t0
    return stream_cpu / (workers * seconds), final, int(per_worker_bytes)


def part_two(args: argparse.Namespace) -> None:
    with Nginx() as nginx:
        messages = record_worker(nginx.url, args.record_seconds)
    ticks = [m for m in messages if m["type"] == "tick"]
    reqs = sum(m["requests"] for m in ticks)
    print(f"\ncoordinator merge cost (one worker's real messages: {len(ticks)} s, {reqs} requests, "
          f"{sum(1 for m in messages if m['type'] == 'snapshot')} snapshots; replayed as N workers); load average {loadavg()}")
    print(f"{'workers':>8}{'coordinator ms per worker-second':>34}{'workers one core keeps up with':>32}{'final merge s':>15}{'bytes/s per worker':>20}")
    for n in (2, 8, 32, 128):
        per, final, size = merge_cost(messages, n)
        print(f"{n:>8}{per * 1000:>34.2f}{1 / per:>32.0f}{final:>15.2f}{size:>20}", flush=True)


def part_three(args: argparse.Namespace) -> None:
    """The driver's cost of polling actors (what the Ray backend does 4 times a second per worker)."""
    import ray

    from assay.load.ray_backend import POLL_EVERY, LoadWorkerActor

    ray.init(address="local", num_cpus=2, include_dashboard=False, object_store_memory=80 * 1024 * 1024, logging_level="ERROR")
    try:
        cls = ray.remote(num_cpus=0, max_concurrency=4)(LoadWorkerActor)
        actors = [cls.remote() for _ in range(args.poll_actors)]
        import psutil

        from assay.load.quick import quick_scenario

        where = ray.get([a.where.remote() for a in actors])
        spec = quick_scenario("http://127.0.0.1:1/", vus=1, duration="1s").spec
        ray.get([a.prepare.remote(spec, {}) for a in actors])
        for _ in range(20):  # warm up
            ray.get([a.drain.remote() for a in actors])
        starts = [sum(psutil.Process(w["pid"]).cpu_times()[:2]) for w in where]
        print(f"\nan actor's start (Ray worker process, assay imported, scenario loaded): {statistics.median(starts):.2f} CPU-s (median of {len(starts)})")
        rounds = args.poll_rounds
        t0, w0 = time.process_time(), time.perf_counter()
        for _ in range(rounds):  # as RayBackend._round: issue every drain, wait for all, get each
            refs = [a.drain.remote() for a in actors]
            ray.wait(refs, num_returns=len(refs), timeout=10.0)
            for ref in refs:
                ray.get(ref, timeout=0.1)
        cpu, wall = time.process_time() - t0, time.perf_counter() - w0
        calls = rounds * len(actors)
        per_call = cpu / calls
        polls_per_s = 1 / POLL_EVERY
        print(f"Ray actor polling ({len(actors)} actors, {calls} drain calls; load average {loadavg()}): driver CPU {per_call * 1e6:.0f} µs "
              f"per call, wall {wall / calls * 1e6:.0f} µs per call; at {polls_per_s:.0f} polls/s one driver core polls "
              f"{1 / (per_call * polls_per_s):.0f} workers")
    finally:
        ray.shutdown()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--vus", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--record-seconds", type=int, default=6, help="length of the real worker run replayed for the merge cost")
    ap.add_argument("--merge-only", action="store_true")
    ap.add_argument("--poll-actors", type=int, default=8, help="actors for the polling cost (no CPU reserved)")
    ap.add_argument("--poll-rounds", type=int, default=300)
    args = ap.parse_args()
    print(f"load average at start: {loadavg()}")
    if not args.merge_only:
        part_one(args)
        steady_state(args)
    part_two(args)
    part_three(args)
    print(f"load average at end: {loadavg()}")


if __name__ == "__main__":
    main()
