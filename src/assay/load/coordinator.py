"""The coordinator: setup, workers, live thresholds, progress, exact merge, teardown.

    result = run_load(loaded, plan, workers=2, on_progress=print)

Workers each run a Segment of every scenario and stream `tick`/`snapshot`/`done`
messages. The coordinator sums ticks into progress events, merges snapshots every 2 s to
evaluate thresholds live (aborting on a failing `abortOnFail` once its `delayAbortEval`
has passed), merges the final results exactly (HdrHistograms add), and evaluates every
threshold once more at the end. Engines never print: progress goes to `on_progress`.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assay.errors import AssayError, UsageError
from assay.load.availability import add_availability
from assay.load.backends import Backend, InProcessBackend, ProcessBackend
from assay.load.diagnosis import failure_summary
from assay.load.executors import Segment
from assay.load.http.client import ClientOptions, HttpClient
from assay.load.omission import DEFAULT_WARN_FACTOR, correct_closed_model, omission_warning
from assay.load.options import Plan, ThresholdSpec
from assay.load.runner import EXECUTOR_MAX, WorkerJob, new_loop
from assay.load.sample_output import part_path
from assay.load.scenario import LoadedScenario, call_maybe_async
from assay.load.scrape import Scraper
from assay.load.sink import MetricsSink
from assay.load.vu import VU
from assay.load.warmup import apply as apply_warmup
from assay.load.worker_vus import merge_worker_vus
from assay.results import Artifact, Metric, RunResult, RunStatus, ThresholdResult, TimeBucket, merge_results
from assay.thresholds import evaluate_metric, metric_lookup


@dataclass
class Progress:
    """One progress event (about once a second)."""

    elapsed: float
    total: float
    vus: int
    rps: float
    p95: float | None
    requests: int
    failed: int
    iterations: int
    errors: int
    per_scenario: dict[str, dict[str, float]] = field(default_factory=dict)
    failing_thresholds: list[str] = field(default_factory=list)
    # distributed backends: node -> {"rps", "workers", "requests"} (empty for local workers)
    per_node: dict[str, dict[str, float]] = field(default_factory=dict)
    lost_workers: int = 0


class SetupError(UsageError):
    """setup() raised or timed out: the scenario cannot run (exit 64)."""


def resolve_workers(workers: int | str | None) -> int:
    if workers in (None, "auto", 0, "0"):
        return max(1, os.cpu_count() or 1)
    try:
        n = int(workers)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        from assay.errors import UsageError

        raise UsageError(f"--workers: expected a number or 'auto', got {workers!r}") from None
    if n < 1:
        from assay.errors import UsageError

        raise UsageError(f"--workers: must be at least 1, got {n}")
    return n


class _Live:
    """Collects worker messages into progress events and live threshold verdicts."""

    def __init__(self, plan: Plan, workers: int, on_progress: Callable[[Progress], None] | None, stop: Any) -> None:
        self.plan = plan
        self.workers = workers
        self.on_progress = on_progress
        self.stop = stop
        self.ticks: dict[int, dict[str, Any]] = {}
        self.totals: dict[int, dict[str, float]] = {}
        self.snapshots: dict[int, dict[str, Any]] = {}
        self.done: dict[int, RunResult] = {}
        self.errors: list[str] = []
        self.aborted_by: list[tuple[str, str]] = []
        self.failing: list[str] = []
        self.total = plan.total_duration()
        self._last_eval = 0.0
        self.on_warmup_end: Callable[[], None] | None = None
        # workers a distributed backend lost: worker -> {"node", "elapsed", "message"}
        self.lost: dict[int, dict[str, Any]] = {}
        self.loss_aborted = False
        self.buckets: dict[int, list[dict[str, Any]]] = {}  # streamed per-second buckets (stream_full)
        self._fresh: set[int] = set()  # workers with a snapshot newer than the last evaluation
        self._wanted = set(plan.threshold_metrics())

    def _pacer(self) -> int:
        """The worker whose tick paces progress events: the first one still running."""
        alive = [w for w in range(self.workers) if w not in self.lost and w not in self.done]
        return alive[0] if alive else 0

    def handle(self, msg: Mapping[str, Any]) -> None:
        kind = msg.get("type")
        w = int(msg.get("worker", 0))
        if kind == "tick":
            self.ticks[w] = dict(msg)
            tot = self.totals.setdefault(w, {"requests": 0, "failed": 0, "iterations": 0})
            tot["requests"] += msg["requests"]
            tot["failed"] += msg["failed"]
            tot["iterations"] += msg["iterations"]
            if "bucket" in msg:
                self.buckets.setdefault(w, []).append(msg["bucket"])
            # one event per second once every worker has reported (the first live worker's tick paces them)
            if len(self.ticks) + len(self.lost.keys() - self.ticks.keys()) >= self.workers and (w == self._pacer() or msg.get("final")):
                self._progress()
        elif kind == "snapshot":
            self.snapshots[w] = dict(msg)
            self._fresh.add(w)
            # once per round: when every running worker has sent a new snapshot (not on each arrival:
            # that would merge N snapshots N times per round)
            running = {i for i in range(self.workers) if i not in self.lost}
            if self.plan.thresholds and len(self.snapshots) >= len(running) and running <= self._fresh:
                self._fresh = set()
                self._evaluate(float(msg["elapsed"]))
        elif kind == "warmup_end":
            if self.on_warmup_end is not None:  # the first worker past its warm-up: the others are within ms
                callback, self.on_warmup_end = self.on_warmup_end, None
                callback()
        elif kind == "done":
            self.done[w] = RunResult.from_json(msg["result"])
        elif kind == "error":
            self.errors.append(str(msg.get("message")))
        elif kind == "lost":
            self.lost[w] = {"node": msg.get("node", "?"), "elapsed": float(msg.get("elapsed", 0.0)), "message": str(msg.get("message", ""))}
            if msg.get("abort"):
                self.loss_aborted = True
                self.stop.set()

    def partial_result(self, w: int, name: str) -> RunResult | None:
        """What a lost worker had sent: its last snapshot of every metric and its per-second buckets."""
        snap = self.snapshots.get(w)
        if snap is None and not self.buckets.get(w):
            return None
        part = RunResult(name=name, kind="load", tool="assay")
        if snap is not None:
            part.metrics = {n: Metric.model_validate(d) for n, d in snap["metrics"].items()}
            part.duration_s = float(snap["elapsed"])
        part.timeseries = [TimeBucket.model_validate(b) for b in self.buckets.get(w, [])]
        part.status = RunStatus.ABORTED
        return part

    def _progress(self) -> None:
        if self.on_progress is None:
            return
        ticks = list(self.ticks.values())
        per: dict[str, dict[str, float]] = {}
        for t in ticks:
            for scn, st in t["per_scenario"].items():
                agg = per.setdefault(scn, {"requests": 0.0, "failed": 0.0, "iterations": 0.0, "p95": 0.0})
                agg["requests"] += st.get("requests", 0.0)
                agg["failed"] += st.get("failed", 0.0)
                agg["iterations"] += st.get("iterations", 0.0)
                agg["p95"] = max(agg["p95"], st.get("p95", 0.0))
        p95s = [t["p95"] for t in ticks if t.get("p95") is not None]
        nodes: dict[str, dict[str, float]] = {}
        for w, t in self.ticks.items():
            if "node" not in t:
                continue
            node = nodes.setdefault(str(t["node"]), {"rps": 0.0, "workers": 0.0, "requests": 0.0})
            if w not in self.lost:
                node["rps"] += t["requests"] / max(t.get("interval", 1.0), 0.2)
                node["workers"] += 1
            node["requests"] += self.totals.get(w, {}).get("requests", 0)
        self.on_progress(
            Progress(
                elapsed=max(t["elapsed"] for t in ticks),
                total=self.total,
                vus=sum(t["vus"] for t in ticks),
                rps=float(sum(t["requests"] / max(t.get("interval", 1.0), 0.2) for t in ticks)),
                p95=max(p95s) if p95s else None,
                requests=int(sum(x["requests"] for x in self.totals.values())),
                failed=int(sum(x["failed"] for x in self.totals.values())),
                iterations=int(sum(x["iterations"] for x in self.totals.values())),
                errors=sum(int(t.get("errors", 0)) for t in ticks),
                per_scenario=per,
                failing_thresholds=list(self.failing),
                per_node=nodes,
                lost_workers=len(self.lost),
            )
        )

    def _evaluate(self, elapsed: float) -> None:
        if elapsed < self.plan.engine.warmup:
            return  # the warm-up is recorded, never judged (assay.load.warmup)
        merged: dict[str, Metric] = {}
        for snap in self.snapshots.values():
            for name, data in snap["metrics"].items():
                if name not in self._wanted:
                    continue
                m = Metric.model_validate(data)
                merged[name] = merged[name].merge(m) if name in merged else m
        failing: list[str] = []
        others = metric_lookup(merged, elapsed or None)
        for spec in self.plan.thresholds:
            metric = merged.get(spec.metric)
            if metric is None:
                continue
            probe = metric.model_copy()
            probe.thresholds = [ThresholdResult(source=spec.source)]
            if evaluate_metric(probe, elapsed or None, others=others):
                failing.append(f"{spec.metric}: {spec.source}")
                if spec.abort_on_fail and elapsed >= spec.delay_abort_eval:
                    self.aborted_by.append((spec.metric, spec.source))
                    self.stop.set()
        self.failing = failing


def run_load(
    loaded: LoadedScenario,
    plan: Plan,
    *,
    workers: int = 1,
    env: Mapping[str, str] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    run_name: str | None = None,
    backend: Backend | None = None,
    stop: Any = None,
    sample_outputs: Sequence[tuple[str, Path]] = (),
    out_limit: int = 0,
    omission_warn_factor: float = DEFAULT_WARN_FACTOR,
) -> RunResult:
    """Run the whole test; returns the merged RunResult with thresholds evaluated and a status.

    `sample_outputs` are k6's per-sample files (`("json"|"csv", path)`), each at most
    `out_limit` bytes (0: no limit). Closed-model scenarios get wrk's coordinated-omission
    correction; the summary warns when it exceeds the measured latency `omission_warn_factor` times."""
    env_map = dict(env or {})
    setup_sink = MetricsSink()
    setup_data = None
    if loaded.setup is not None:
        setup_data = _run_hook(loaded.setup, "setup", (), setup_sink, plan, env_map, plan.setup_timeout)
    stop_flag = stop if stop is not None else (threading.Event() if workers == 1 else _mp_event())
    live = _Live(plan, workers, on_progress, stop_flag)
    # quick mode is named after its URL (the last path segment alone says nothing: "0.1", "")
    name = run_name or (loaded.source if loaded.format == "quick" else os.path.basename(loaded.source))
    start_at = time.time() + (0.0 if workers == 1 else 0.3)
    jobs = [
        WorkerJob(
            spec=loaded.spec,
            plan=plan,
            segment=Segment(i, workers),
            setup_data=setup_data,
            env=env_map,
            start_at=start_at,
            run_name=name,
            sample_outputs=[(kind, str(path)) for kind, path in sample_outputs],
            out_limit=out_limit // workers if out_limit else 0,
        )
        for i in range(workers)
    ]
    chosen = backend or (InProcessBackend(loaded) if workers == 1 else ProcessBackend())
    scraper = Scraper(plan.engine.scrape) if plan.engine.scrape is not None else None
    if scraper is not None:
        scraper.start()  # the baseline scrape, before any load
        live.on_warmup_end = scraper.mark_window
    try:
        chosen.run(jobs, live.handle, stop_flag)
    finally:
        if scraper is not None:
            scraper.stop()
    partials = {w: p for w in sorted(live.lost) if w not in live.done and (p := live.partial_result(w, name)) is not None}
    if live.errors and not live.done and not partials:
        raise AssayError("load workers failed: " + "; ".join(live.errors[:3]))
    if not live.done and not partials:
        raise AssayError("every load worker was lost before sending any data")
    parts = [live.done[i] if i in live.done else partials[i] for i in sorted({*live.done, *partials})]
    by_script = next((p.extra["script_aborted"] for p in parts if p.extra.get("script_aborted")), None)
    warmups = [p.extra.get("warmup") for p in parts]
    result = merge_results(parts, name=name) if len(parts) > 1 else parts[0]
    if len(parts) > 1:
        merge_worker_vus(result, parts)
    teardown_error = None
    if loaded.teardown is not None:
        try:
            _run_hook(loaded.teardown, "teardown", (setup_data,), setup_sink, plan, env_map, plan.teardown_timeout)
        except SetupError as exc:
            teardown_error = exc.message.replace("setup", "teardown", 1) if "teardown" not in exc.message else exc.message
    setup_metrics = setup_sink.to_metrics()
    if setup_metrics:
        _fold_setup_metrics(result, setup_metrics)
    for check in setup_sink.check_list():  # checks made in setup()/teardown() are listed, as in k6
        same = next((c for c in result.checks if c.path == check.path), None)
        if same is None:
            result.checks.append(check)
        else:
            same.passes += check.passes
            same.fails += check.fails
    out_stats = [list(p.extra.get("sample_outputs") or []) for p in parts]
    extra_errors: dict[str, int] = {}
    check_errors: dict[str, int] = {}
    where: dict[str, str] = {}
    samples: list[str] = []
    for p in parts:
        for k, v in (p.extra.get("errors") or {}).items():
            extra_errors[k] = extra_errors.get(k, 0) + int(v)
        for k, v in (p.extra.get("check_errors") or {}).items():
            check_errors[k] = check_errors.get(k, 0) + int(v)
        for k, v in (p.extra.get("error_where") or {}).items():
            where.setdefault(k, v)
        for s in p.extra.get("error_samples") or []:
            if s not in samples and len(samples) < 10:
                samples.append(s)
    # stopped early and not by a threshold: the user interrupted it (Ctrl-C in a worker or the coordinator)
    interrupted = any(p.extra.get("interrupted") for p in parts) or (stop_flag.is_set() and not live.aborted_by and not live.loss_aborted)
    cut_off = sum(int(p.extra.get("interrupted_iterations") or 0) for p in parts)
    traced = [p.extra["traces"] for p in parts if p.extra.get("traces")]  # read before result.extra is replaced
    ledger_states = [p.extra.get("ledger_state") for p in parts]
    result.extra = {"errors": extra_errors, "error_samples": samples, "workers": workers, "interrupted_iterations": cut_off}
    if traced:
        from assay.observe.tracing import merge_traces

        result.extra["traces"] = merge_traces(traced)
    if cut_off:
        result.notes.append(f"{cut_off} iteration(s) interrupted: still running when their scenario ended (gracefulStop) or the run was stopped")
    if check_errors:
        result.extra["check_errors"] = check_errors
    from assay.load.ledgered import apply_ledger

    apply_ledger(result, ledger_states)
    if where:
        result.extra["error_where"] = where
    failures = failure_summary(result)
    if failures:
        result.extra["failures"] = failures
    if teardown_error:
        result.notes.append(teardown_error)
    if live.errors:
        result.notes.extend(f"worker error: {e}" for e in live.errors)
    if live.lost:
        result.extra["lost_workers"] = [{"worker": w, **info, "data_kept": w in partials} for w, info in sorted(live.lost.items())]
        for w, info in sorted(live.lost.items()):
            kept = f"its data up to {float(partials[w].duration_s):.1f}s is included" if w in partials else "it sent no data"
            result.notes.append(f"worker lost: worker {w} on node {info['node']} at {info['elapsed']:.1f}s ({info['message']}); {kept}")
    measured_from = apply_warmup(result, warmups, plan.engine.warmup)
    sample_parts = workers
    if scraper is not None:
        scraped = scraper.summarize(keep=plan.threshold_metrics(), window_start=measured_from)
        scraped.apply(result)
        if scraped.write_samples(sample_outputs, lambda path: part_path(path, workers), plan.metric_types):
            sample_parts = workers + 1
    add_availability(result, measured_from)
    if plan.engine.rps:
        result.extra["rps"] = plan.engine.rps
    correct_closed_model(result, [(cfg.name, cfg.executor, EXECUTOR_MAX(cfg)) for cfg in plan.scenarios])
    warning = omission_warning(result, omission_warn_factor)
    if warning:
        result.notes.append(warning)
        result.extra["omission_warning"] = warning
    _attach_thresholds(result, plan.thresholds)
    failed = finalize_thresholds(result)
    if live.aborted_by:
        result.status = RunStatus.FAILED
        result.extra["aborted_by_threshold"] = [f"{m}: {s}" for m, s in live.aborted_by]
        result.notes.append("aborted by threshold " + ", ".join(f"{m}: {s}" for m, s in live.aborted_by))
    elif live.loss_aborted:
        result.status = RunStatus.ABORTED
        result.notes.append("aborted: a worker was lost (--on-worker-loss abort); results cover the part that ran")
    elif interrupted:
        result.status = RunStatus.ABORTED
        if by_script is not None:
            result.extra["script_aborted"] = by_script
            result.notes.append(f"aborted by the script: {by_script}; results cover the part that ran")
        else:
            result.notes.append("interrupted (Ctrl-C or SIGTERM): results cover the part that ran")
    else:
        result.status = RunStatus.FAILED if failed else (RunStatus.WARNING if live.lost else RunStatus.PASSED)
        nothing = nothing_completed(result)
        if nothing:
            result.status = RunStatus.FAILED
            result.extra["nothing_completed"] = True
            result.notes.append(nothing)
    _join_sample_outputs(result, out_stats, sample_outputs, sample_parts, out_limit)
    if extra_errors:
        total = sum(extra_errors.values())
        result.notes.append(f"{total} iteration(s) raised an exception")
    return result


def _join_sample_outputs(result: RunResult, part_stats: list[list[dict[str, Any]]], outputs: Sequence[tuple[str, Path]], workers: int, limit: int) -> None:
    """One file per output from the workers' parts (and the scraped series' part); a note when an output hit its size limit."""
    from assay.load.sample_output import join_parts, part_path

    for i, (kind, path) in enumerate(outputs):
        size = join_parts(kind, path, [part_path(path, w) for w in range(workers)])
        stats = [ps[i] for ps in part_stats if len(ps) > i]
        samples = sum(s["samples"] for s in stats)
        stopped = [s["stopped_at"] for s in stats if s["stopped_at"] is not None]
        result.artifacts.append(Artifact(name=f"{kind} samples", path=str(path), media_type="application/x-ndjson" if kind == "json" else "text/csv"))
        if stopped:
            when = datetime.fromtimestamp(min(stopped), UTC).strftime("%H:%M:%S")
            result.notes.append(
                f"per-sample output {kind}={path} stopped at its limit of {limit / 1e6:.0f} MB ({samples} samples, "
                f"from {when} UTC on); the run's metrics cover the whole run (raise --out-limit, or 0 for none)"
            )
        result.extra.setdefault("sample_outputs", []).append({"kind": kind, "path": str(path), "samples": samples, "bytes": size})


def nothing_completed(result: RunResult) -> str | None:
    """Why a run in which no iteration finished and no request succeeded cannot pass (None if it can)."""
    iterations = result.metrics.get("iterations")
    if iterations is not None and iterations.count > 0:
        return None
    failed = result.metrics.get("http_req_failed")
    requests = result.metrics.get("http_reqs")
    n_requests = requests.count if requests is not None else 0
    if n_requests and failed is not None and failed.fails > 0:
        return None  # some request succeeded (http_req_failed counts it as a fail)
    return (
        f"nothing completed: 0 iterations finished and none of {n_requests} request(s) succeeded "
        "(the target stalled or never answered, or the test was too short for one iteration)"
    )


def _attach_thresholds(result: RunResult, specs: list[ThresholdSpec]) -> None:
    for spec in specs:
        metric = result.metrics.get(spec.metric)
        if metric is None:
            from assay.results import parse_metric_name

            base, tags = parse_metric_name(spec.metric)
            mtype = result.metrics[base].type if base in result.metrics else None
            if mtype is None:
                continue
            metric = result.metrics[spec.metric] = Metric(type=mtype, contains=result.metrics[base].contains, tags=tags)
        metric.thresholds.append(
            ThresholdResult(source=spec.source, abort_on_fail=spec.abort_on_fail, delay_abort_eval=spec.delay_text)
        )


def finalize_thresholds(result: RunResult) -> list[tuple[str, str]]:
    failed: list[tuple[str, str]] = []
    others = metric_lookup(result.metrics, result.duration_s or None)
    for name, metric in result.metrics.items():
        for source in evaluate_metric(metric, result.duration_s or None, others=others):
            failed.append((name, source))
    return failed


def _fold_setup_metrics(result: RunResult, metrics: dict[str, Metric]) -> None:
    for name, m in metrics.items():
        if name in result.metrics:
            kept = result.metrics[name].thresholds
            merged = result.metrics[name].merge(m)
            merged.thresholds = kept
            result.metrics[name] = merged
        else:
            result.metrics[name] = m


def _run_hook(fn: Callable[..., Any], label: str, args: tuple[Any, ...], sink: MetricsSink, plan: Plan, env: Mapping[str, str], timeout: float) -> Any:
    """Run setup()/teardown() on its own loop; a hook may take a VU (for HTTP) as its last argument."""
    import inspect

    try:
        n_params = len(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        n_params = len(args)

    async def main() -> Any:
        call_args = args
        if n_params > len(args):
            vu = VU(id=0, scenario=label, sink=sink, http=HttpClient(sink, ClientOptions(**plan.client)), env=env, tags=plan.tags)
            vu._base_tags.pop("scenario", None)
            vu._group = f"::{label}"
            vu.activate()
            call_args = (*args, vu)
        return await asyncio.wait_for(call_maybe_async(fn, *call_args), timeout)

    with asyncio.Runner(loop_factory=new_loop) as runner:
        try:
            value = runner.run(main())
        except TimeoutError:
            raise SetupError(f"{label}() did not finish within {timeout:g}s") from None
        except AssayError:
            raise
        except Exception as exc:
            raise SetupError(f"{label}() raised {type(exc).__name__}: {exc}") from None
    sink.tick(time.time())
    return value


def _mp_event() -> Any:
    import multiprocessing

    return multiprocessing.get_context("fork").Event()
