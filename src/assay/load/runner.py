"""One worker's run: its segment of every scenario, on one uvloop event loop.

`run_worker(job, emit, stop)` is the whole worker interface: a backend (in-process,
subprocesses, Ray actors) only has to call it somewhere with a picklable `WorkerJob`, carry
the dict messages `emit` produces back to the coordinator, and set `stop` when asked.
Messages: `tick` (every second: progress numbers), `snapshot` (every 2 s: the metrics
thresholds name, for live evaluation), `done` (the worker's RunResult as JSON), `error`.
"""

from __future__ import annotations

import asyncio
import gc
import math
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from assay.load.context import CURRENT_VU
from assay.load.executors import Executor, ExecutorConfig, Segment
from assay.load.http.client import ClientOptions, HttpClient
from assay.load.http.static import StaticRequest
from assay.load.loaders import load_from_spec
from assay.load.options import Plan
from assay.load.rate_cap import CappedHttpClient, RateCap, worker_share
from assay.load.scenario import LoadedScenario, ensure_coroutine_function
from assay.load.sink import MetricsSink, Series, TickStats
from assay.load.vu import VU, YIELD_EVERY
from assay.load.warmup import snapshot as warmup_snapshot
from assay.load.warmup import warmup_seconds
from assay.results import RunResult, RunStatus

Emit = Callable[[dict[str, Any]], None]
_perf = time.perf_counter
SNAPSHOT_EVERY = 2.0
SHORT_WAIT = 0.05  # waits up to this long are plain sleeps (the stop flag is checked after them)
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopFlag(Protocol):
    def is_set(self) -> bool: ...

    def set(self) -> None: ...


@dataclass
class WorkerJob:
    """Everything a worker needs; picklable (the scenario is re-loaded from `spec`)."""

    spec: dict[str, Any]
    plan: Plan
    segment: Segment = field(default_factory=Segment)
    setup_data: Any = None
    env: dict[str, str] = field(default_factory=dict)
    start_at: float = 0.0  # wall-clock time.time() at which every worker starts (0: now)
    run_name: str = "run"
    # k6's per-sample outputs: (kind, the file the user named); this worker writes a part of each
    sample_outputs: list[tuple[str, str]] = field(default_factory=list)
    out_limit: int = 0  # bytes per output for this worker (0: no limit)
    # stream everything (each tick's TimeBucket with its histograms, snapshots of every metric):
    # the coordinator can then keep a worker's data up to its last message if the worker dies
    stream_full: bool = False


# --trace-requests with a static loop (one request nobody reads): how long one chunk runs
TRACE_CHUNK_S = 0.2


class _Scenario:
    """The ScenarioContext executors use: VU pool, iteration runner, counters."""

    def __init__(
        self, worker: _Worker, config: ExecutorConfig, executor: Executor, fn: Any, static: StaticRequest | None, vu_base: int
    ) -> None:
        self.worker = worker
        self.name = config.name
        self.config = config
        self.segment = executor.segment
        self.executor = executor
        self.fn = ensure_coroutine_function(fn)
        # an iteration that is one request nobody reads (quick mode, plain YAML steps); not under
        # an --rps cap, whose limiter every request must pass
        self.static = static if worker.rate_cap is None else None
        # a scenario that runs many iterations per call in a response-driven loop (k6 JS,
        # assay.load.js.vu_loop); not under an --rps cap either
        self.many = getattr(fn, "run_many", None) if worker.rate_cap is None else None
        self.free: list[VU] = []
        self.allocated = 0
        self.active = 0
        self.max = executor.max_vus()
        self.vu_base = vu_base
        self.t0 = 0.0
        self.tags = {**worker.job.plan.tags, **config.tags}
        self.env = {**worker.job.env, **config.env}
        self.drop_series: Series | None = None
        for _ in range(executor.initial_vus()):
            self.free.append(self._new_vu())
        self.free.reverse()

    def _new_vu(self) -> VU:
        self.allocated += 1
        w = self.worker
        client = HttpClient(w.sink, w.client_options) if w.rate_cap is None else CappedHttpClient(w.rate_cap, w.sink, w.client_options)
        w.vus_max += 1
        vu = VU(
            id=self.vu_base + self.allocated,
            scenario=self.name,
            sink=w.sink,
            http=client,
            env=self.env,
            data=w.job.setup_data,
            tags=self.tags,
            id_in_scenario=self.segment.offset(self.max) + self.allocated,
        )
        vu.state["_assay_stop"] = w.abort_by_script  # k6's exec.test.abort() (JS scenarios)
        vu.state["_assay_instance"] = w.instance  # k6's exec.instance.* (JS scenarios)
        return vu

    @property
    def aborted(self) -> bool:
        return self.worker.stopping

    def now(self) -> float:
        return time.perf_counter() - self.t0

    def acquire_vu(self, *, create: bool = True) -> VU | None:
        if self.free:
            vu = self.free.pop()
        elif create and self.allocated < self.max:
            vu = self._new_vu()
        else:
            return None
        self.active += 1
        w = self.worker
        w.active_vus += 1
        if w.active_vus > w.vus_peak:
            w.vus_peak = w.active_vus
        return vu

    def release_vu(self, vu: Any) -> None:
        self.active -= 1
        self.worker.active_vus -= 1
        self.free.append(vu)

    async def run_iteration(self, vu: Any, *, lateness: float = -1.0) -> bool:
        vu.lateness = lateness
        if CURRENT_VU.get() is not vu:
            vu.activate()
        t0 = _perf()
        ok = True
        try:
            await self.fn(vu)
        except asyncio.CancelledError:
            self.worker.interrupted_iterations += 1
            raise
        except Exception as exc:  # a scenario bug: counted, shown, never fatal
            ok = False
            self.worker.sink.add_error(self.name, f"{type(exc).__name__}: {exc}", exc=exc)
        vu.count_iteration((_perf() - t0) * 1000.0)
        if not vu.iteration & YIELD_EVERY:
            # an iteration that never waits would otherwise hold the loop (and Ctrl-C) forever
            await asyncio.sleep(0)
        return ok

    async def iterate(self, vu: Any, end: float, flags: dict[str, bool] | None = None) -> None:
        """Run iterations on `vu` back to back until scenario time `end`, an abort, or `flags["stop"]`.

        The same accounting as `run_iteration`, in one long-lived coroutine per VU: no
        coroutine per iteration, and one clock reading per iteration (the end of one
        iteration is the start of the next).
        """
        worker = self.worker
        sink = worker.sink
        fn = self.fn
        name = self.name
        vu.lateness = -1.0
        if CURRENT_VU.get() is not vu:
            vu.activate()
        end_at = self.t0 + end
        perf = _perf
        now = perf()
        static = self.static
        many = self.many
        tracer = worker.client_options.tracer
        while now < end_at and not worker.stopping and (flags is None or not flags["stop"]):
            if many is not None:
                # the scenario counts its iterations itself, exactly as below (vu.count_iteration)
                try:
                    looped = await many(vu, end_at, worker, flags)
                except asyncio.CancelledError:
                    worker.interrupted_iterations += 1
                    raise
                if looped:
                    now = perf()
                    if not vu.iteration & YIELD_EVERY:
                        await asyncio.sleep(0)
                    continue
            # with --trace-requests, sampled requests owed by a chunk go the general way (fn) first
            if static is not None and (tracer is None or not tracer.owed):
                # many iterations at once, sent from the connection's response callback
                if vu._tags_cache is None:
                    vu.tags_key()
                cached = vu.iter_series
                if cached is None or cached[0] != vu._tags_version:
                    key, tags = vu.tags_key()
                    cached = vu.iter_series = (vu._tags_version, sink.get_series("iterations", tags, key), sink.get_series("iteration_duration", tags, key))
                # with --trace-requests the loop runs in chunks: a sampled request needs a header of
                # its own, so the samples that fell in a chunk are sent the general way (fn) after it
                until = end_at if tracer is None else min(end_at, now + TRACE_CHUNK_S)
                sent = vu.iteration  # this VU's own (the iterations series is shared by the VUs)
                try:
                    looped = await vu.http.run_static(static, vu, until, worker, flags, cached[1], cached[2])
                except asyncio.CancelledError:
                    worker.interrupted_iterations += 1
                    raise
                if looped:
                    now = perf()
                    if tracer is None or not tracer.skip(vu.iteration - sent) or now >= end_at:
                        continue
            t0 = now
            try:
                await fn(vu)
            except asyncio.CancelledError:
                worker.interrupted_iterations += 1
                raise
            except Exception as exc:  # a scenario bug: counted, shown, never fatal
                sink.add_error(name, f"{type(exc).__name__}: {exc}", exc=exc)
            now = perf()
            # VU.count_iteration, inlined: the Python scenario's hot loop
            if vu._group:
                vu._group = ""
                vu._tags_cache = None
            if vu._tags_cache is None:
                vu.tags_key()
            cached = vu.iter_series
            if cached is None or cached[0] != vu._tags_version:
                key, tags = vu.tags_key()
                cached = vu.iter_series = (vu._tags_version, sink.get_series("iterations", tags, key), sink.get_series("iteration_duration", tags, key))
            it_series = cached[1]
            it_series.count += 1
            it_series.sum += 1.0
            cached[2].buf.append((now - t0) * 1000.0)
            vu.iteration += 1
            if not vu.iteration & YIELD_EVERY:
                await asyncio.sleep(0)

    def dropped(self, n: int = 1) -> None:
        if self.drop_series is None:
            self.drop_series = self.worker.sink.get_series("dropped_iterations", {"scenario": self.name, **self.tags})
        self.drop_series.count += n
        self.drop_series.sum += float(n)

    async def wait_abort(self, timeout: float) -> bool:
        if self.worker.stopping:
            return True
        if timeout <= SHORT_WAIT:
            # arrival-rate schedulers wait here between iterations, thousands of times a
            # second: a plain timer (waiting on the stop event would cost a task per wait)
            await asyncio.sleep(timeout if timeout > 0 else 0)
            return self.worker.stopping
        try:
            await asyncio.wait_for(self.worker.stop_event.wait(), timeout)
        except TimeoutError:
            return False
        return True


class _Worker:
    def __init__(self, job: WorkerJob, loaded: LoadedScenario, emit: Emit, stop: StopFlag) -> None:
        self.job = job
        self.loaded = loaded
        self.emit = emit
        self.stop = stop
        MetricsSink.warm_up()
        # per-second histograms are only needed to merge workers' time series exactly
        self.sink = MetricsSink(keep_bucket_hdr=job.segment.count > 1)
        if job.sample_outputs:
            from pathlib import Path

            from assay.load.sample_output import part_path

            sources: dict[str, list[str]] = {}
            for spec in job.plan.thresholds:
                sources.setdefault(spec.metric, []).append(spec.source)
            self.sink.open_sample_outputs(
                [(kind, part_path(Path(path), job.segment.index)) for kind, path in job.sample_outputs], job.out_limit, sources
            )
        self.sink.detailed = {t.metric.split("{", 1)[0] for t in job.plan.thresholds if "{" in t.metric}
        for name, (mtype, contains) in job.plan.metric_types.items():
            self.sink.declare(name, mtype, contains)
        self.client_options = ClientOptions(**job.plan.client)
        self.active_vus = 0
        self.vus_peak = 0  # the most VUs busy at once since the last gauge sample
        self.second_peak = 0  # the same, for the second the last gauge sample closed
        self.vus_max = 0
        self.stop_event = asyncio.Event()
        self.stopping = False
        self.interrupted = False
        # iterations cut off by the end of their scenario (gracefulStop) or an interrupt
        self.interrupted_iterations = 0
        self.script_abort: str | None = None
        self.last_tick = 0.0
        self.t_start = 0.0  # perf-counter time the scenarios started (exec.instance.currentTestRunDuration)
        engine = job.plan.engine
        self.rate_cap = RateCap(worker_share(engine.rps, job.segment.count)) if engine.rps else None
        self.warmup_s = warmup_seconds(engine.warmup)
        self.warmup: dict[str, Any] | None = None  # the warm-up's totals, once it is over

    def instance(self) -> dict[str, float]:
        """k6's `exec.instance`: this process's counts so far (one worker is one k6 instance)."""
        completed = sum(s.count for s in self.sink.series.values() if s.metric == "iterations")
        return {
            "iterationsInterrupted": self.interrupted_iterations,
            "iterationsCompleted": completed,
            "vusActive": self.active_vus,
            "vusInitialized": self.vus_max,
            "currentTestRunDuration": (time.perf_counter() - self.t_start) * 1000.0 if self.t_start else 0.0,
        }

    def abort_by_script(self, reason: str = "") -> None:
        """The script asked to end the whole test (k6's exec.test.abort)."""
        self.script_abort = reason or "exec.test.abort()"
        self.stop.set()
        self.request_stop()

    def request_stop(self) -> None:
        if not self.stopping:
            self.stopping = True
            self.stop_event.set()

    async def run(self) -> RunResult:
        job = self.job
        plan = job.plan
        executors = plan.executors(job.segment)
        scenarios: list[_Scenario] = []
        vu_base = 0
        for cfg, ex in zip(plan.scenarios, executors, strict=True):
            fn = self.loaded.function(cfg.exec)
            full_max = EXECUTOR_MAX(cfg)
            static = self.loaded.static_requests.get(cfg.exec)
            scenarios.append(_Scenario(self, cfg, ex, fn, static, vu_base + job.segment.offset(full_max)))
            vu_base += full_max
        if job.start_at:
            delay = job.start_at - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
        started = datetime.now(UTC)
        t_start = self.t_start = time.perf_counter()
        wall_start = time.time()
        ticker = asyncio.create_task(self._ticker(t_start, wall_start))
        await asyncio.gather(*(self._run_scenario(s, t_start) for s in scenarios))
        load_elapsed = time.perf_counter() - t_start
        from assay.load.ledgered import finish_run_ledger
        from assay.load.ws import interrupt_open_sessions

        ledger_state = await finish_run_ledger(self.sink)  # waits out the grace period for messages in flight
        await interrupt_open_sessions()  # WebSockets the scripts left open: closed going away, as k6 does
        ticker.cancel()
        try:
            await ticker
        except asyncio.CancelledError:
            pass
        # rates are per second of load: the ledger's grace period is not part of it
        elapsed = load_elapsed if ledger_state is not None else time.perf_counter() - t_start
        self._gauges()
        last_second = int(wall_start) + max(0, math.ceil(elapsed) - 1)
        self._emit_tick(self._tick(float(last_second)), elapsed, final=True)
        for s in scenarios:
            for vu in s.free:
                await vu.http.close()
        result = RunResult(name=job.run_name, kind="load", tool="assay")
        result.started_at = started
        result.finished_at = datetime.now(UTC)
        result.duration_s = elapsed
        written = self.sink.close_sample_outputs()
        result.metrics = self.sink.to_metrics(plan.threshold_metrics())
        result.checks = self.sink.check_list()
        result.timeseries = self.sink.buckets.to_list()
        self.sink.buckets.close()
        if plan.trend_stats:
            result.trend_stats = list(plan.trend_stats)
        result.extra = {
            "errors": dict(self.sink.errors),
            "error_samples": list(self.sink.error_samples),
            "check_errors": dict(self.sink.check_errors),
            "error_where": dict(self.sink.error_where),
            "interrupted": self.interrupted,
            "interrupted_iterations": self.interrupted_iterations,
            "segment": [job.segment.index, job.segment.count],
        }
        if ledger_state is not None:
            result.extra["ledger_state"] = ledger_state
        if self.script_abort is not None:
            result.extra["script_aborted"] = self.script_abort
        if self.client_options.tracer is not None:
            result.extra["traces"] = self.client_options.tracer.to_dict()
        if self.warmup is not None:
            result.extra["warmup"] = self.warmup
        if written:
            result.extra["sample_outputs"] = [
                {"kind": w.kind, "samples": w.samples, "bytes": w.written, "stopped_at": w.stopped_at} for w in written
            ]
        if self.sink.overflowed:
            result.notes.append(
                f"more than {self.sink.max_http_series} distinct URL/tag sets: later ones are grouped as "
                "name '[other urls]'; tag dynamic URLs with tags={'name': ...}"
            )
        result.status = RunStatus.ABORTED if self.stopping else RunStatus.PASSED
        return result

    async def _run_scenario(self, s: _Scenario, t_start: float) -> None:
        start_time = s.config.start_time
        if start_time > 0:
            remaining = t_start + start_time - time.perf_counter()
            if remaining > 0:
                try:
                    await asyncio.wait_for(self.stop_event.wait(), remaining)
                    return
                except TimeoutError:
                    pass
        s.t0 = time.perf_counter()
        await s.executor.run(s)

    def _end_warmup(self, ended_at: float) -> None:
        """Set the warm-up's totals aside and count from zero (assay.load.warmup); right after a tick."""
        metrics = self.sink.to_metrics(self.job.plan.threshold_metrics())
        self.warmup = warmup_snapshot(metrics, self.sink.check_list(), ended_at, self.warmup_s)
        self.sink.restart_totals()
        self.emit({"type": "warmup_end", "worker": self.job.segment.index, "at": time.time()})

    def _emit_tick(self, stats: Any, elapsed: float, final: bool = False) -> None:
        interval = max(1e-3, elapsed - self.last_tick)
        self.last_tick = elapsed
        self.emit(
            {
                "type": "tick",
                "worker": self.job.segment.index,
                "elapsed": elapsed,
                "interval": interval,
                "vus": self.active_vus,
                "requests": stats.requests,
                "failed": stats.failed,
                "iterations": stats.iterations,
                "p95": stats.p95,
                "per_scenario": stats.per_scenario,
                "errors": sum(self.sink.errors.values()),
                "final": final,
                **({"bucket": self.sink.buckets.last.model_dump(mode="json")} if self.job.stream_full and self.sink.buckets.last else {}),
            }
        )

    def _gauges(self) -> None:
        # the peak since the last sample first: a stall shorter than the sampling period (arrival
        # rate piling up iterations for 450 ms) must still show in the gauge's max
        self.second_peak = max(self.vus_peak, self.active_vus)
        if self.vus_peak > self.active_vus:
            self.sink.set_gauge("vus", float(self.vus_peak))
        self.vus_peak = self.active_vus
        self.sink.set_gauge("vus", float(self.active_vus))
        self.sink.set_gauge("vus_max", float(self.vus_max))

    def _tick(self, t: float) -> TickStats:
        """Fold the second ending now; its bucket keeps the most VUs busy in it (`vus` max), which
        the coordinator adds up across workers (assay.load.worker_vus)."""
        stats = self.sink.tick(t)
        last = self.sink.buckets.last
        vus = last.metrics.get("vus") if last is not None else None
        if vus is not None:
            vus["max"] = float(self.second_peak)
        return stats

    async def _ticker(self, t_start: float, wall_start: float) -> None:
        second = 0
        last_snapshot = 0.0
        while True:
            second += 1
            wake = t_start + second
            await asyncio.sleep(max(0.0, wake - time.perf_counter()))
            if self.stop.is_set():
                self.request_stop()
            self._gauges()
            elapsed = time.perf_counter() - t_start
            stats = self._tick(float(int(wall_start) + second - 1))
            self._emit_tick(stats, elapsed)
            if second == self.warmup_s and self.warmup is None:
                self._end_warmup(float(int(wall_start) + second))
            if (self.job.plan.thresholds or self.job.stream_full) and elapsed - last_snapshot >= SNAPSHOT_EVERY - 0.01:
                last_snapshot = elapsed
                wanted = set(self.job.plan.threshold_metrics())
                metrics = self.sink.to_metrics(wanted) if self.job.stream_full else self.sink.to_metrics(wanted, only=wanted)
                self.emit(
                    {
                        "type": "snapshot",
                        "worker": self.job.segment.index,
                        "elapsed": elapsed,
                        "metrics": {n: m.seal().model_dump(mode="json") for n, m in metrics.items()},
                    }
                )
            if self.stop.is_set():
                self.request_stop()


def EXECUTOR_MAX(cfg: ExecutorConfig) -> int:  # noqa: N802 - reads as a constant lookup
    from assay.load.executors import EXECUTORS

    return EXECUTORS[cfg.executor](cfg, Segment()).max_vus()


def new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop

        return uvloop.new_event_loop()
    except ImportError:  # pragma: no cover - uvloop is a dependency; stdlib asyncio still works
        return asyncio.new_event_loop()


def _fixed_mmap_threshold() -> None:
    """Make glibc serve large blocks (HdrHistogram count arrays, ~300 KB) with mmap and give them
    back on free. Its default raises the threshold after the first such free, after which these
    blocks come from the heap and fragment it: RSS then creeps up by MBs per minute in a soak."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        m_mmap_threshold = -3
        libc.mallopt(m_mmap_threshold, 128 * 1024)
    except (OSError, AttributeError):  # not glibc: nothing to tune
        pass


def run_worker(job: WorkerJob, emit: Emit, stop: StopFlag, loaded: LoadedScenario | None = None) -> RunResult:
    """Run one worker to the end on a fresh uvloop loop; returns its RunResult (also emitted as `done`)."""
    _fixed_mmap_threshold()
    loaded = loaded if loaded is not None else load_from_spec(job.spec)
    with asyncio.Runner(loop_factory=new_loop) as runner:
        loop = runner.get_loop()
        worker = _Worker(job, loaded, emit, stop)
        in_main = threading.current_thread() is threading.main_thread()
        if in_main:
            presses = [0]

            def _on_sigint() -> None:
                presses[0] += 1
                worker.interrupted = True
                stop.set()
                worker.request_stop()
                if presses[0] > 1:
                    for task in asyncio.all_tasks(loop):
                        task.cancel()

            try:
                # SIGTERM (how CI systems stop a job) stops the run as Ctrl-C does: results are kept
                for sig in STOP_SIGNALS:
                    loop.add_signal_handler(sig, _on_sigint)
            except (NotImplementedError, RuntimeError, ValueError):
                in_main = False
        # Everything loaded so far (modules, the scenario, setup data) lives as long as the run:
        # kept out of the collector's full passes, which would otherwise walk those ~10^5
        # objects and stall the loop for tens of ms whenever many iterations are in flight.
        # Only the young generations are collected first: a full pass costs ~25 ms of start-up,
        # and after loading a scenario it freed nothing (0 objects, measured on a YAML run).
        gc.collect(1)
        gc.freeze()
        try:
            result = runner.run(worker.run())
        finally:
            gc.unfreeze()
            if in_main:
                for sig in STOP_SIGNALS:
                    try:
                        loop.remove_signal_handler(sig)
                    except (NotImplementedError, RuntimeError, ValueError):
                        pass
    emit({"type": "done", "worker": job.segment.index, "result": result.to_json(indent=None)})
    return result
