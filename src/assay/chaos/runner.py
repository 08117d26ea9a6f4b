"""Run a Chaos Toolkit experiment and write its journal in Chaos Toolkit's shape (faults.md §3).

Flow: hypothesis before -> method (with background activities and, if asked, the hypothesis
continuously) -> hypothesis after -> rollbacks. Status and `deviated` are set exactly as
chaostoolkit-lib sets them; `strict` additionally fails the run on a failed action.
"""

from __future__ import annotations

import copy
import platform
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from assay.chaos.controls import Control, around, is_interrupt, load_controls
from assay.chaos.guards import SafetySpec, watch
from assay.chaos.providers import ActivityFailed, run_provider
from assay.chaos.recovery import RecoverySpec, measure
from assay.chaos.substitute import substitute
from assay.chaos.tolerance import within

CHAOSLIB_VERSION = "1.44.0"  # the journal shape assay writes (chaostoolkit-lib's)
DRY_MODES = ("probes", "actions", "activities", "pause")
_STOP = ("aborted", "failed", "interrupted")


@dataclass
class RunOptions:
    rollback_strategy: str | None = None
    hypothesis_strategy: str | None = None
    hypothesis_frequency: float = 1.0
    fail_fast: bool = False
    fail_fast_ratio: float = 0.0
    dry: str | None = None
    strict: bool = False
    on_event: Callable[[str, dict[str, Any]], None] | None = None
    assay_context: Any = None
    recovery: RecoverySpec | None = None
    safety: SafetySpec | None = None


@dataclass
class _Run:
    experiment: dict[str, Any]
    journal: dict[str, Any]
    configuration: dict[str, Any]
    secrets: dict[str, Any]
    options: RunOptions
    controls: list[Control] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    first_during_miss: float | None = None

    def emit(self, kind: str, **data: Any) -> None:
        if self.options.on_event:
            self.options.on_event(kind, data)


def _now() -> datetime:
    return datetime.now(UTC)


def new_journal(experiment: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "chaoslib-version": CHAOSLIB_VERSION,
        "platform": platform.platform(),
        "node": platform.node(),
        "experiment": dict(experiment),
        "start": _now().isoformat(),
        "status": None,
        "deviated": False,
        "steady_states": {"before": None, "after": None, "during": []},
        "run": [],
        "rollbacks": [],
    }


def _strategy(options: RunOptions, experiment: Mapping[str, Any], kind: str) -> str:
    flag = options.rollback_strategy if kind == "rollbacks" else options.hypothesis_strategy
    if flag:
        return flag
    runtime = experiment.get("runtime") or {}
    return str(((runtime.get(kind) or {}).get("strategy")) or "default")


def run_experiment(
    experiment: dict[str, Any], configuration: dict[str, Any], secrets: dict[str, Any], options: RunOptions
) -> dict[str, Any]:
    """Run and return the journal; never raises for what happens inside the experiment."""
    experiment = copy.deepcopy(experiment)
    experiment["title"] = substitute(experiment.get("title"), configuration, secrets)
    experiment.setdefault("dry", options.dry)
    started = time.monotonic()
    run = _Run(experiment, new_journal(experiment), configuration, secrets, options,
               load_controls(experiment.get("controls"), "experiment"))
    journal = run.journal
    hypo_strategy = _strategy(options, experiment, "hypothesis")
    rollback_strategy = _strategy(options, experiment, "rollbacks")
    hypo = experiment.get("steady-state-hypothesis") or {}
    with_ssh = bool(hypo.get("probes"))
    stop_continuous = threading.Event()
    continuous: threading.Thread | None = None
    do_rollbacks = True
    ctx = options.assay_context
    if ctx is not None:
        ctx.on_trip = lambda reason: abort(run, reason)
    run.emit("started", title=experiment["title"])
    try:
        with around(run.controls, "experiment", experiment, experiment, configuration, secrets) as box:
            try:
                gate_ok = True
                if with_ssh and hypo_strategy in ("default", "before-method-only", "continuously"):
                    gate_ok = _gate_before(run)
                if gate_ok:
                    if with_ssh and hypo_strategy in ("during-method-only", "continuously"):
                        continuous = threading.Thread(target=_continuously, args=(run, stop_continuous), daemon=True)
                        continuous.start()
                    guard_stop = threading.Event()
                    guard = _start_guard(run, guard_stop)
                    try:
                        _method(run)
                    finally:
                        guard_stop.set()
                        if guard is not None:
                            guard.join()
                    stop_continuous.set()
                    if continuous is not None:
                        continuous.join()
                    if options.recovery is not None and with_ssh and journal["status"] not in _STOP:
                        _recovery(run, options.recovery)
                    if journal["status"] not in ("interrupted", "aborted") and with_ssh and hypo_strategy in (
                        "default", "after-method-only", "continuously"
                    ):
                        _check_after(run)
            except KeyboardInterrupt:
                journal["status"] = "interrupted"
                run.emit("interrupted", reason="SIGINT")
            except SystemExit as exc:
                journal["status"] = "interrupted"
                do_rollbacks = exc.code != 30
                run.emit("interrupted", reason=f"exit {exc.code}")
            except Exception as exc:
                if not is_interrupt(exc):
                    raise
                journal["status"] = "interrupted"
                run.emit("interrupted", reason=str(exc))
            finally:
                stop_continuous.set()
                if continuous is not None:
                    continuous.join()
            if do_rollbacks:
                _rollbacks(run, rollback_strategy)
            if journal["status"] not in ("completed", "failed", "aborted", "interrupted"):
                journal["status"] = "completed"  # the only statuses the journal format allows
            box["state"] = journal
    except Exception as exc:
        if not is_interrupt(exc):
            raise
        journal["status"] = "interrupted"
    journal["end"] = _now().isoformat()
    journal["duration"] = time.monotonic() - started
    if run.first_during_miss is not None and ctx is not None and ctx.injected:  # for the time to detect
        journal.setdefault("x-assay", {})["first_during_miss_at"] = run.first_during_miss
    errors = [e for c in run.controls for e in c.errors]
    if errors:
        journal.setdefault("x-assay", {})["control_errors"] = errors
    run.emit("finished", status=journal["status"], deviated=journal["deviated"])
    return journal


def _hypothesis(run: _Run) -> dict[str, Any] | None:
    hypo = run.experiment.get("steady-state-hypothesis")
    if not hypo:
        return None
    state: dict[str, Any] = {"steady_state_met": None, "probes": []}
    controls = run.controls + load_controls(hypo.get("controls"), "hypothesis")
    with around(controls, "hypothesis", hypo, run.experiment, run.configuration, run.secrets) as box:
        box["state"] = state
        for probe in hypo.get("probes", []):
            entry = _activity(run, probe, None, extra_controls=controls)
            state["probes"].append(entry)
            if entry["status"] == "failed":
                entry["tolerance_met"] = False
                state["steady_state_met"] = False
                return state
            entry["tolerance_met"] = True
            if _dry(run, entry["activity"]) or run.options.dry in ("probes", "activities"):
                continue
            tolerance = entry["activity"].get("tolerance")
            if isinstance(tolerance, str):
                tolerance = substitute(tolerance, run.configuration, run.secrets)
            elif isinstance(tolerance, dict):
                tolerance = {**tolerance, **{k: substitute(tolerance[k], run.configuration, run.secrets)
                                             for k in ("pattern", "path", "expect") if k in tolerance}}
            if not within(tolerance, entry["output"], lambda t, v: _probe_tolerance(run, t, v)):
                entry["tolerance_met"] = False
                state["steady_state_met"] = False
                run.emit("tolerance", name=entry["activity"].get("name"), met=False)
                return state
            run.emit("tolerance", name=entry["activity"].get("name"), met=True)
        state["steady_state_met"] = True
    return state


def _probe_tolerance(run: _Run, tolerance: dict[str, Any], value: Any) -> Any:
    provider = copy.deepcopy(tolerance.get("provider") or {})
    provider.setdefault("arguments", {})["value"] = value
    return run_provider({**tolerance, "provider": provider}, run.configuration, run.secrets, run.options.assay_context)


def _gate_before(run: _Run) -> bool:
    run.emit("phase", name="hypothesis before")
    state = _hypothesis(run)
    run.journal["steady_states"]["before"] = state
    if state is not None and not state["steady_state_met"]:
        run.journal["status"] = "failed" if any(p["status"] != "succeeded" for p in state["probes"]) else "completed"
        return False
    return True


def _check_after(run: _Run) -> None:
    run.emit("phase", name="hypothesis after")
    state = _hypothesis(run)
    run.journal["steady_states"]["after"] = state
    if state is not None and not state["steady_state_met"]:
        run.journal["deviated"] = True
        run.journal["status"] = "failed" if any(p["status"] != "succeeded" for p in state["probes"]) else "completed"


def _start_guard(run: _Run, stop: threading.Event) -> threading.Thread | None:
    """The safety guard probe during the method: abort and revert every fault at once when tripped."""
    spec = run.options.safety
    if spec is None or spec.probe is None:
        return None
    probe = spec.probe

    def check() -> bool:
        entry = _activity(run, probe, None, extra_controls=[])
        if entry["status"] != "succeeded":
            return False
        return within(probe.get("tolerance"), entry["output"], lambda t, v: _probe_tolerance(run, t, v))

    def trip(reason: str) -> None:
        ctx = run.options.assay_context
        if ctx is not None:
            ctx.trip(f"guard probe {reason}")
        else:
            abort(run, f"guard probe {reason}")

    def loop() -> None:
        tally = watch(spec, check, stop, trip)
        run.journal.setdefault("x-assay", {})["guard_probe"] = {
            "passes": tally.passes, "fails": tally.fails, "availability": tally.availability, "tripped": tally.tripped,
            "first_fail_at": tally.first_fail_at, "samples": [[t, ok] for t, ok in tally.timeline]}

    thread = threading.Thread(target=loop, name="chaos-guard", daemon=True)
    thread.start()
    return thread


def abort(run: _Run, reason: str) -> None:
    """A guard tripped: the run is aborted (faults are reverted by whoever tripped it)."""
    with run.lock:
        if run.journal.get("x-assay", {}).get("guard"):
            return
        run.journal["status"] = "aborted"
        run.journal.setdefault("x-assay", {})["guard"] = reason
    run.emit("aborted", error=f"safety guard: {reason}")


def _recovery(run: _Run, spec: RecoverySpec) -> None:
    """Time to recover after the faults were reverted (the end of the method); a missed target deviates."""
    ctx = run.options.assay_context
    injected = [i.injected_at for i in getattr(ctx, "injected", [])]
    reverted = [i.reverted_at for i in getattr(ctx, "injected", []) if i.reverted_at is not None]
    reverted_at = max(reverted) if reverted else time.time()
    run.emit("phase", name="recovery")
    checks: list[list[Any]] = []

    def check() -> bool:
        met = bool((_hypothesis(run) or {}).get("steady_state_met"))
        checks.append([time.time(), met])
        return met

    result = measure(spec, check, reverted_at, min(injected) if injected else None)
    run.journal.setdefault("x-assay", {})["recovery"] = {**result.as_dict(), "checks": checks}
    run.emit("recovery", **result.as_dict())
    if not result.within_target:
        run.journal["deviated"] = True


def _continuously(run: _Run, stop: threading.Event) -> None:
    failed = 0
    iteration = 1
    while not stop.is_set():
        if run.journal["status"] in _STOP:
            break
        try:
            state = _hypothesis(run)
        except Exception:
            run.journal["status"] = "aborted"
            break
        run.journal["steady_states"]["during"].append(state)
        if state is not None and not state["steady_state_met"]:
            run.first_during_miss = run.first_during_miss or time.time()
            failed += 1
            if run.options.fail_fast and failed * 100 / iteration >= run.options.fail_fast_ratio:
                run.journal["status"] = "failed"
                break
        iteration += 1
        stop.wait(run.options.hypothesis_frequency)


def _method(run: _Run) -> None:
    run.emit("phase", name="method")
    method = run.experiment.get("method") or []
    with around(run.controls, "method", method, run.experiment, run.configuration, run.secrets) as box:
        try:
            _apply(run, method, run.journal["run"])
        except ActivityFailed:
            raise
        except Exception as exc:
            if is_interrupt(exc):
                raise
            run.journal["status"] = "aborted"
            run.emit("aborted", error=f"{type(exc).__name__}: {exc}")
        finally:
            ctx = run.options.assay_context
            if ctx is not None:
                ctx.end_of_method()
        box["state"] = run.journal["run"]


def _apply(run: _Run, activities: list[Any], runs: list[dict[str, Any]]) -> None:
    background: list[Future[Any]] = []
    pool = ThreadPoolExecutor(max_workers=max(1, sum(1 for a in activities if isinstance(a, dict) and a.get("background"))))
    try:
        for activity in activities:
            if isinstance(activity, dict) and activity.get("background"):
                background.append(pool.submit(_activity, run, activity, runs))
                continue
            entry = _activity(run, activity, runs)
            if run.options.strict and entry.get("status") == "failed" and entry["activity"].get("type") == "action":
                run.journal["status"] = "failed"
            ctx = run.options.assay_context
            if ctx is not None and ctx.tripped and runs is run.journal["run"]:
                abort(run, ctx.tripped)
            if run.journal["status"] in _STOP:
                break
        for fut in background:
            fut.result()
    finally:
        pool.shutdown(wait=True)


def _rollbacks(run: _Run, strategy: str) -> None:
    status = run.journal["status"]
    if strategy == "never":
        return
    if strategy == "default" and status in ("failed", "interrupted"):
        return
    if strategy == "deviated" and not run.journal["deviated"]:
        return
    run.emit("phase", name="rollbacks")
    rollbacks = run.experiment.get("rollbacks") or []
    with around(run.controls, "rollback", rollbacks, run.experiment, run.configuration, run.secrets) as box:
        try:
            _apply(run, rollbacks, run.journal["rollbacks"])
        except KeyboardInterrupt:
            run.journal["status"] = "interrupted"
        box["state"] = run.journal["rollbacks"]


def _lookup(run: _Run, name: str) -> dict[str, Any] | None:
    hypo = run.experiment.get("steady-state-hypothesis") or {}
    for acts in (hypo.get("probes"), run.experiment.get("method"), run.experiment.get("rollbacks")):
        for act in acts or []:
            if isinstance(act, dict) and act.get("name") == name:
                return act
    return None


def _dry(run: _Run, activity: Mapping[str, Any]) -> bool:
    mode = activity.get("dry", run.options.dry)
    kind = activity.get("type")
    return mode == "activities" or (mode == "actions" and kind == "action") or (mode == "probes" and kind == "probe")


def _pause(value: Any) -> float:
    try:
        return float(value or 0)
    except (TypeError, ValueError):
        return 0.0


def _activity(run: _Run, activity: Any, runs: list[dict[str, Any]] | None, extra_controls: list[Control] | None = None) -> dict[str, Any]:
    if isinstance(activity, dict) and "ref" in activity:
        found = _lookup(run, activity["ref"])
        if found is None:
            entry: dict[str, Any] = {"activity": dict(activity), "output": None, "start": _now().isoformat(), "status": "failed",
                                     "exception": [f"ActivityFailed: could not find referenced activity '{activity['ref']}'\n"]}
            entry["end"] = entry["start"]
            entry["duration"] = 0.0
            if runs is not None:
                with run.lock:
                    runs.append(entry)
            return entry
        activity = found
    controls = (extra_controls if extra_controls is not None else run.controls) + load_controls(activity.get("controls"), "activity")
    with around(controls, "activity", activity, run.experiment, run.configuration, run.secrets) as box:
        pauses = substitute(activity.get("pauses") or {}, run.configuration, run.secrets)
        is_dry = _dry(run, activity)
        skip_pause = run.options.dry == "pause" or is_dry
        if pauses.get("before") and not skip_pause:
            time.sleep(_pause(pauses["before"]))
        start = _now()
        entry = {"activity": dict(activity), "output": None, "start": start.isoformat()}
        if runs is not None:
            with run.lock:
                runs.append(entry)
        run.emit("activity", name=activity.get("name"), type=activity.get("type"))
        try:
            if not is_dry:
                entry["output"] = run_provider(activity, run.configuration, run.secrets, run.options.assay_context)
            entry["status"] = "succeeded"
        except ActivityFailed as exc:
            entry["status"] = "failed"
            entry["exception"] = traceback.format_exception(type(exc), exc, None)
        finally:
            end = _now()
            entry["end"] = end.isoformat()
            entry["duration"] = (end - start).total_seconds()
        run.emit("activity-done", name=activity.get("name"), status=entry["status"], duration=entry["duration"])
        if pauses.get("after") and not skip_pause:
            time.sleep(_pause(pauses["after"]))
        box["state"] = entry
    return entry
