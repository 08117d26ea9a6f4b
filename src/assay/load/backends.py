"""Where workers run. A backend calls `run_worker(job, emit, stop)` for each job somewhere and
delivers the emitted messages to `handle` in the coordinator's thread, in order per worker.

- InProcessBackend: one worker, in this process and thread (no pickling, no fork).
- ProcessBackend: one forked process per job; messages over a multiprocessing queue.

A Ray backend implements the same `run()` with remote tasks and a Ray queue; the executors,
sink and runner are untouched.
"""

from __future__ import annotations

import multiprocessing
import queue as queue_mod
import signal
import traceback
from collections.abc import Callable
from typing import Any, Protocol

from assay.load.runner import StopFlag, WorkerJob, run_worker
from assay.load.scenario import LoadedScenario

Handle = Callable[[dict[str, Any]], None]


class Backend(Protocol):
    def run(self, jobs: list[WorkerJob], handle: Handle, stop: StopFlag) -> None:
        """Run every job to completion (or until `stop` is set and they wind down)."""


class InProcessBackend:
    def __init__(self, loaded: LoadedScenario | None = None) -> None:
        self.loaded = loaded

    def run(self, jobs: list[WorkerJob], handle: Handle, stop: StopFlag) -> None:
        for job in jobs:
            try:
                run_worker(job, handle, stop, loaded=self.loaded)
            except Exception as exc:
                handle({"type": "error", "worker": job.segment.index, "message": f"{type(exc).__name__}: {exc}"})


def _child(job: WorkerJob, q: Any, stop: Any) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the coordinator decides when to stop
    try:
        run_worker(job, q.put, stop)
    except BaseException as exc:  # report, never hang the coordinator
        q.put({"type": "error", "worker": job.segment.index, "message": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()})


class ProcessBackend:
    """Forked worker processes (fork keeps start-up cheap and needs no re-import of the CLI)."""

    def __init__(self, start_method: str = "fork") -> None:
        self.ctx: Any = multiprocessing.get_context(start_method)

    def run(self, jobs: list[WorkerJob], handle: Handle, stop: StopFlag) -> None:
        q = self.ctx.Queue()
        procs = [self.ctx.Process(target=_child, args=(job, q, stop), daemon=True) for job in jobs]
        for p in procs:
            p.start()
        finished: set[int] = set()
        try:
            while len(finished) < len(jobs):
                try:
                    msg = q.get(timeout=0.5)
                except KeyboardInterrupt:
                    stop.set()
                    continue
                except queue_mod.Empty:
                    dead = [i for i, p in enumerate(procs) if not p.is_alive() and i not in finished]
                    for i in dead:
                        # drain anything it sent before dying
                        try:
                            while True:
                                m = q.get(timeout=0.2)
                                handle(m)
                                if m.get("type") in ("done", "error"):
                                    finished.add(int(m["worker"]))
                        except queue_mod.Empty:
                            pass
                        if i not in finished:
                            handle({"type": "error", "worker": i, "message": f"worker {i} exited with code {procs[i].exitcode}"})
                            finished.add(i)
                    continue
                try:
                    handle(msg)
                except KeyboardInterrupt:
                    stop.set()
                if msg.get("type") in ("done", "error"):
                    finished.add(int(msg["worker"]))
        finally:
            for p in procs:
                p.join(timeout=5)
                if p.is_alive():
                    p.terminate()
                    p.join(timeout=2)
