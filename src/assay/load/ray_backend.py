"""Load workers as Ray actors: the local engine, on a cluster's nodes, with one coordinator.

    with RayBackend(RayOptions(address=None, placement="spread")) as backend:
        result = run_load(loaded, plan, workers=backend.default_workers(), backend=backend)

Each worker is an actor (one CPU) that runs `run_worker` on its execution segment, exactly as
a local worker process does; the coordinator (this process) polls every actor for the
messages it emitted (ticks with per-second buckets and histograms, snapshots, done) and hands
them to the coordinator's `handle` in order. A stop (abortOnFail, Ctrl-C, exec.test.abort in
any worker) is sent to every actor at once. An actor that dies is reported as a `lost`
message naming its node and the time; the run goes on, or stops when `on_worker_loss` is
"abort". Without an address a small local Ray instance starts and stops with the run; with
one (the option or RAY_ADDRESS) the scenario's folder is shipped as the actors' working
directory (Ray runtime environment), so the files need not exist on the nodes.

Ray is an optional extra (`pip install 'assay[ray]'`); without it `--backend ray` exits 64.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections import deque
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from assay.errors import UsageError
from assay.load.backends import trap_sigterm
from assay.load.runner import StopFlag, WorkerJob

PLACEMENTS = ("spread", "pack")
LOSS_POLICIES = ("continue", "abort")
POLL_EVERY = 0.25  # seconds between polls of the actors' message buffers (more workers: see poll_interval)
POLLS_PER_CORE = 800.0  # drain calls per second the coordinator may spend (~0.5 ms each measured; docs/scale.md)
START_LEAD = 0.5  # seconds between the last actor being ready and the common start
READY_TIMEOUT = 120.0  # seconds for actors to be placed and started (a busy cluster autoscales)
# environment variables that describe the node, not the run: a worker keeps its own
_NODE_OWN = {"PATH", "HOME", "PWD", "OLDPWD", "SHELL", "USER", "LOGNAME", "HOSTNAME", "TMPDIR", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"}
_NODE_OWN_PREFIXES = ("LD_", "RAY_", "CUDA_", "OMP_", "OPENBLAS_", "XDG_")
INSTALL_HINT = "--backend ray needs Ray: pip install 'assay[ray]' (or pip install 'ray>=2.9')"


def require_ray() -> Any:
    """The ray module, or a usage error saying how to install it (exit 64)."""
    try:
        import ray
    except ImportError:
        raise UsageError(INSTALL_HINT) from None
    return ray


@dataclass(frozen=True)
class RayOptions:
    """How to reach Ray and place the workers."""

    address: str | None = None  # None: RAY_ADDRESS, else a local instance for this run
    placement: str = "spread"  # spread: one worker per node in turn; pack: fill a node first
    on_worker_loss: str = "continue"  # continue | abort
    local_cpus: int | None = None  # CPUs of a local instance (default: the workers, at least 1)
    object_store_mb: int = 80  # a local instance's object store (messages are small; Ray's minimum is ~75 MB)
    ship: str | None = None  # with an address: the folder shipped as the workers' working directory

    def __post_init__(self) -> None:
        if self.placement not in PLACEMENTS:
            raise UsageError(f"--ray-placement: expected one of {', '.join(PLACEMENTS)}, got {self.placement!r}")
        if self.on_worker_loss not in LOSS_POLICIES:
            raise UsageError(f"--on-worker-loss: expected one of {', '.join(LOSS_POLICIES)}, got {self.on_worker_loss!r}")


class _ActorStop:
    """The worker's stop flag inside an actor: set by the coordinator (stop()) or by the worker
    itself (exec.test.abort), which the coordinator then spreads to every worker."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.raised_here = False

    def is_set(self) -> bool:
        return self.event.is_set()

    def set(self) -> None:
        self.raised_here = True
        self.event.set()


class LoadWorkerActor:
    """One load worker. Threaded (max_concurrency > 1): `run` occupies one thread while
    `drain` and `stop` answer the coordinator from others."""

    def __init__(self) -> None:
        self.messages: deque[dict[str, Any]] = deque()
        self.flag = _ActorStop()
        self.loaded: Any = None

    def where(self) -> dict[str, Any]:
        """Node id, address, host name and pid of this worker (for reports and for tests that kill it)."""
        import socket

        import ray

        ctx = ray.get_runtime_context()
        return {"node_id": ctx.get_node_id(), "ip": ray.util.get_node_ip_address(), "host": socket.gethostname(), "pid": os.getpid()}

    def prepare(self, spec: dict[str, Any], env: dict[str, str]) -> bool:
        """Load the scenario before the common start (imports and parsing are not part of the test).

        The run's environment (the coordinator's, with -e values) is what scenario code reads
        through os.environ, as in a forked worker; the node keeps its own machine-specific ones."""
        from assay.load.loaders import load_from_spec

        for key, value in env.items():
            if key in _NODE_OWN or key.startswith(_NODE_OWN_PREFIXES):
                os.environ.setdefault(key, value)
            else:
                os.environ[key] = value

        self.loaded = load_from_spec(spec)
        return True

    def run(self, job: WorkerJob) -> bool:
        from assay.load.runner import run_worker

        run_worker(job, self.messages.append, self.flag, loaded=self.loaded)
        return True

    def drain(self) -> tuple[list[dict[str, Any]], bool]:
        """Messages emitted since the last call, and whether this worker asked the run to stop."""
        out = []
        while self.messages:
            out.append(self.messages.popleft())
        return out, self.flag.raised_here

    def stop(self) -> None:
        self.flag.event.set()


def _shippable_spec(spec: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """For a remote cluster: the spec with the scenario path relative to its folder, and that folder
    (shipped as the actors' working directory; data files beside the scenario travel with it)."""
    if spec.get("kind") != "file":
        return spec, None
    path = Path(spec["path"])
    return {**spec, "path": path.name}, str(path.parent)


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """A located error at once when a `host:port` (or `ray://host:port`) address does not answer."""
    import socket

    text = address.removeprefix("ray://")
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not host:
        if address == "auto":
            return
        raise UsageError(f"--ray-address {address!r}: expected HOST:PORT (the head node's GCS port, 6379 by default), ray://HOST:PORT or auto")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except OSError as exc:
        raise UsageError(f"--backend ray: cannot reach the Ray cluster at {address}: {exc.strerror or exc}") from None


class RayBackend:
    """The Backend seam on Ray. Use as a context manager: Ray is connected (or started) on
    entry and released on exit, so `default_workers()` can count the cluster's CPUs first."""

    def __init__(self, options: RayOptions | None = None) -> None:
        self.options = options or RayOptions()
        self.ray: Any = None
        self.started_here = False
        self.workers: list[dict[str, Any]] = []  # where each worker runs (filled once placed)
        self.remote = False
        self.bytes_received = 0  # message bytes drained from the actors (for the scale figures)

    # -- connection --------------------------------------------------------------------------------------

    def __enter__(self) -> RayBackend:
        self.connect()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def connect(self, workers: int | None = None) -> None:
        address = self.options.address or os.environ.get("RAY_ADDRESS") or None
        if address is not None:
            _use_token_if_present()  # before Ray is imported: it reads its configuration then
        ray = self.ray = require_ray()
        if ray.is_initialized():
            return
        self.remote = address is not None
        os.environ.setdefault("RAY_DEDUP_LOGS", "1")
        if address is not None:
            _check_reachable(address)  # Ray itself retries an unreachable GCS for a minute or more
        try:
            if address is not None:
                runtime_env = {"working_dir": self.options.ship} if self.options.ship else None
                ray.init(address=address, logging_level="WARNING", log_to_driver=True, runtime_env=runtime_env)
            else:
                # a loopback-only instance keeps Ray's token authentication; its notice about it is noise here
                logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(logging.ERROR)
                cpus = self.options.local_cpus or max(1, workers or os.cpu_count() or 1)
                ray.init(
                    address="local",  # a new instance, even if another one runs on this machine
                    _node_ip_address="127.0.0.1",  # nothing of it listens beyond loopback
                    num_cpus=cpus,
                    num_gpus=0,
                    object_store_memory=self.options.object_store_mb * 1024 * 1024,
                    include_dashboard=False,
                    logging_level="WARNING",
                    log_to_driver=True,
                    configure_logging=True,
                )
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = f"the Ray cluster at {address}" if address else "a local Ray instance"
            raise UsageError(f"--backend ray: cannot start or reach {where}: {exc}") from None
        self.started_here = True

    def close(self) -> None:
        if self.started_here and self.ray is not None and self.ray.is_initialized():
            self.ray.shutdown()
        self.started_here = False

    def default_workers(self) -> int:
        """One worker per CPU of the cluster (a local instance: of this machine)."""
        if self.ray is None or not self.ray.is_initialized():
            return max(1, os.cpu_count() or 1)
        return max(1, int(self.ray.cluster_resources().get("CPU", 1)))

    # -- the run -----------------------------------------------------------------------------------------

    def _actors(self, n: int, spec: dict[str, Any]) -> tuple[list[Any], Any]:
        ray = self.ray
        from ray.util.placement_group import placement_group
        from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

        cpus = float(ray.cluster_resources().get("CPU", 0))
        if cpus < n:
            raise UsageError(f"--workers {n}: the Ray cluster has {cpus:g} CPUs; each worker needs one (lower --workers or add nodes)")
        pg = placement_group([{"CPU": 1}] * n, strategy=self.options.placement.upper())
        ready, _ = ray.wait([pg.ready()], timeout=READY_TIMEOUT)
        if not ready:
            ray.util.remove_placement_group(pg)
            raise UsageError(f"--workers {n}: Ray could not place {n} workers ({self.options.placement}) within {READY_TIMEOUT:.0f}s")
        runtime_env: dict[str, Any] = {"env_vars": {"OPENBLAS_NUM_THREADS": "1"}}
        cls = ray.remote(num_cpus=1, max_concurrency=4, max_restarts=0)(LoadWorkerActor)
        actors = [
            cls.options(
                scheduling_strategy=PlacementGroupSchedulingStrategy(placement_group=pg, placement_group_bundle_index=i),
                runtime_env=runtime_env,
            ).remote()
            for i in range(n)
        ]
        return actors, pg

    def run(self, jobs: list[WorkerJob], handle: Any, stop: StopFlag) -> None:
        if self.ray is None or not self.ray.is_initialized():
            self.connect(len(jobs))
        ray = self.ray
        spec = jobs[0].spec
        if self.remote:
            spec, _ = _shippable_spec(spec)
        actors, pg = self._actors(len(jobs), jobs[0].spec)
        try:
            self.workers = ray.get([a.where.remote() for a in actors], timeout=READY_TIMEOUT)
            ray.get([a.prepare.remote(spec, jobs[0].env) for a in actors], timeout=READY_TIMEOUT)
            start_at = time.time() + START_LEAD
            runs = {a.run.remote(replace(job, spec=spec, start_at=start_at, stream_full=True)): i for i, (a, job) in enumerate(zip(actors, jobs, strict=True))}
            self._poll(actors, runs, handle, stop, start_at)
        finally:
            for a in actors:
                ray.kill(a, no_restart=True)
            ray.util.remove_placement_group(pg)

    def _node(self, i: int) -> str:
        w = self.workers[i] if i < len(self.workers) else {}
        return str(w.get("host") or w.get("ip") or "?") if w else "?"

    def _poll(self, actors: list[Any], runs: dict[Any, int], handle: Any, stop: StopFlag, start_at: float) -> None:
        finished: set[int] = set()
        stopped = False
        n = len(actors)
        terminated = trap_sigterm()  # SIGTERM stops the run as Ctrl-C does: results are still written
        try:
            while len(finished) < n:
                if terminated and terminated[0]:
                    terminated[0] = False
                    stop.set()
                if stop.is_set() and not stopped:
                    stopped = True
                    for i, a in enumerate(actors):
                        if i not in finished:
                            a.stop.remote()
                try:
                    time.sleep(poll_interval(n))
                except KeyboardInterrupt:
                    stop.set()
                    continue
                self._round(actors, runs, handle, stop, start_at, finished)
        finally:
            if terminated and terminated[1] is not None:
                signal.signal(signal.SIGTERM, terminated[1])

    def _round(self, actors: list[Any], runs: dict[Any, int], handle: Any, stop: StopFlag, start_at: float, finished: set[int]) -> None:
        """One poll: drain every running actor, report the dead ones, hand the messages on."""
        import pickle

        ray = self.ray
        from ray.exceptions import GetTimeoutError, RayActorError, RayError

        n = len(actors)
        live = [i for i in range(n) if i not in finished]
        drains = {actors[i].drain.remote(): i for i in live}
        ray.wait(list(drains), num_returns=len(drains), timeout=10.0)
        for ref, i in drains.items():
            try:
                messages, raised = ray.get(ref, timeout=0.1)
            except (RayActorError, GetTimeoutError, RayError) as exc:
                if isinstance(exc, GetTimeoutError):
                    continue  # busy (a long tick): next round
                finished.add(i)
                handle(
                    {
                        "type": "lost",
                        "worker": i,
                        "node": self._node(i),
                        "elapsed": max(0.0, time.time() - start_at),
                        "message": _why(exc),
                        "abort": self.options.on_worker_loss == "abort",
                    }
                )
                continue
            if raised and not stop.is_set():
                stop.set()
            for msg in messages:
                self.bytes_received += len(pickle.dumps(msg, protocol=5))
                if msg.get("type") == "tick":
                    msg["node"] = self._node(i)
                try:
                    handle(msg)
                except KeyboardInterrupt:
                    stop.set()
                if msg.get("type") in ("done", "error"):
                    finished.add(i)
        # a run that ended with an exception the worker did not report itself
        done_refs, _ = ray.wait(list(runs), num_returns=len(runs), timeout=0) if runs else ([], [])
        for ref in done_refs:
            i = runs.pop(ref)
            try:
                ray.get(ref)
            except RayActorError:
                pass  # the next drain reports it as lost
            except RayError as exc:
                if i not in finished:
                    finished.add(i)
                    handle({"type": "error", "worker": i, "message": f"worker {i} on {self._node(i)}: {_why(exc)}"})


def poll_interval(workers: int) -> float:
    """Seconds between polls: 4 a second up to 200 workers, then slower so that polling costs
    the coordinator at most about half a core (each drain call costs it ~0.5 ms of CPU)."""
    return max(POLL_EVERY, workers / POLLS_PER_CORE)


def shipped_folder(spec: dict[str, Any]) -> str | None:
    """The folder a remote cluster's workers get as their working directory (the scenario's own)."""
    return _shippable_spec(spec)[1]


def _use_token_if_present() -> None:
    """Ray clusters started with token authentication (the default since Ray 2.5x) need the
    client to send the token; use it when one is at hand and the user said nothing."""
    if "RAY_AUTH_MODE" in os.environ:
        return
    if os.environ.get("RAY_AUTH_TOKEN") or (Path.home() / ".ray" / "auth_token").is_file():
        os.environ["RAY_AUTH_MODE"] = "token"


def _why(exc: BaseException) -> str:
    """One line for a Ray failure (its messages carry whole tracebacks)."""
    text = str(exc).strip().splitlines()
    first = next((line for line in text if line.strip()), type(exc).__name__)
    return f"{type(exc).__name__}: {first[:200]}"
