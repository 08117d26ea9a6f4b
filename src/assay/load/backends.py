"""Where workers run. A backend calls `run_worker(job, emit, stop)` for each job somewhere and
delivers the emitted messages to `handle` in the coordinator's thread, in order per worker.

- InProcessBackend: one worker, in this process and thread (no pickling, no fork).
- ProcessBackend: one forked process per job; messages over a multiprocessing queue.
- RayBackend (ray_backend.py): one Ray actor per job on a cluster's nodes; messages polled from
  the actors. The executors, sink and runner are the same everywhere.
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
    # the coordinator decides when to stop (run_worker turns both into a graceful stop once running)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
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
        terminated = trap_sigterm()
        try:
            while len(finished) < len(jobs):
                if terminated and terminated[0]:
                    terminated[0] = False
                    stop.set()
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
            if terminated and terminated[1] is not None:
                signal.signal(signal.SIGTERM, terminated[1])
            for p in procs:
                p.join(timeout=5)
                if p.is_alive():
                    p.terminate()
                    p.join(timeout=2)


def trap_sigterm() -> list[Any]:
    """While workers run, SIGTERM sets a flag the coordinator's loop turns into a graceful stop
    (as Ctrl-C does), instead of killing the process with the results unwritten. Returns
    [flag, previous handler], or [] off the main thread (where signals cannot be handled).
    Shared by every backend (local processes here, Ray in ray_backend) so a stopped run
    writes its results the same way whichever ran it."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return []
    state: list[Any] = [False, None]

    def handler(signum: int, frame: Any) -> None:
        state[0] = True

    state[1] = signal.signal(signal.SIGTERM, handler)
    return state
