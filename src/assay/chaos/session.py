"""One `assay chaos run`: load, validate, resolve variables, run with rollback on signals,
and build the journal and the RunResult of kind `chaos`."""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from assay.atomic import write_text_atomic
from assay.chaos import background_load, detection, extension, guards
from assay.chaos import experiment as exp_mod
from assay.chaos.assay_provider import AssayContext
from assay.chaos.probes import mark_log_starts
from assay.chaos.recovery import spec_from
from assay.chaos.runner import RunOptions, run_experiment
from assay.chaos.substitute import UnsetEnvironment, load_configuration, load_secrets, substitute
from assay.errors import ExitCode
from assay.results import Check, Metric, RunResult, RunStatus


@dataclass
class ChaosOutcome:
    journal: dict[str, Any]
    result: RunResult
    exit_code: int


def exit_code_of(journal: dict[str, Any]) -> int:
    """0 completed and not deviated; 2 deviated, failed, aborted or interrupted."""
    return int(ExitCode.OK if journal.get("status") == "completed" and not journal.get("deviated") else ExitCode.GATE_FAILED)


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM rolls back like Ctrl-C (only the main thread can install handlers)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_file(
    path: str | Path,
    options: RunOptions,
    *,
    config_vars: dict[str, Any] | None = None,
    secret_vars: dict[str, Any] | None = None,
    validation: bool = True,
    journal_path: str | Path | None = "journal.json",
    max_duration: float | None = None,
) -> ChaosOutcome:
    exp = exp_mod.load(path)
    if validation:
        exp_mod.validate(exp)
    configuration = load_configuration(exp.data.get("configuration"), config_vars)
    secrets = load_secrets(exp.data.get("secrets"), secret_vars)
    resolved = substitute(exp.data, configuration, secrets)  # ${var} in the assay extension too
    extension.check(resolved, Path(path))
    if options.recovery is None:
        options.recovery = spec_from(resolved)
    safety = guards.spec_from(resolved)
    options.safety = safety
    guards.preflight(resolved, safety, max_duration)
    target = safety.target or f"experiment {exp.data.get('title')}"
    ctx = AssayContext(blast=safety.blast)
    ctx.on_fault = lambda kind, data: options.on_event(kind, data) if options.on_event else None
    options.assay_context = ctx
    mark_log_starts(resolved, ctx.memory)
    load_spec = background_load.spec_from(resolved, base=Path(path).parent)
    load = background_load.BackgroundLoad(load_spec) if load_spec else None
    phases: dict[str, RunResult] = {}
    load_guard: guards.LoadGuard | None = None
    if load is not None:
        ctx.current_result = load.current
        load_guard = guards.LoadGuard(safety)
        guard = load_guard

        def on_segment(phase: str, result: RunResult) -> None:
            reason = guard.feed(phase, result)
            if reason and safety.declared:
                ctx.trip(reason)

        load.on_segment = on_segment
        user_hook = options.on_event

        def on_event(kind: str, data: dict[str, Any]) -> None:
            if kind == "phase":
                load.set_phase(str(data["name"]))
            if user_hook:
                user_hook(kind, data)

        options.on_event = on_event
    try:
        with guards.target_lock(target), sigterm_as_interrupt():
            if load is not None:
                load.start()
            try:
                journal = run_experiment(exp.data, configuration, secrets, options)
            finally:
                if load is not None:
                    phases = load.stop()
    finally:
        ctx.revert_all()  # nothing injected outlives the run, whatever happened
    if load is not None:
        journal.setdefault("x-assay", {})["load"] = {p: background_load.availability(r) for p, r in phases.items()}
        journal["x-assay"]["load_timeline"] = load.timeline()
        if load.errors:
            journal["x-assay"]["load_errors"] = load.errors[:10]
    if ctx.tripped and not (journal.get("x-assay") or {}).get("guard"):
        journal["status"] = "aborted"
        journal.setdefault("x-assay", {})["guard"] = ctx.tripped
    if ctx.errors:
        journal.setdefault("x-assay", {})["revert_errors"] = list(ctx.errors)
    if ctx.injected:
        journal.setdefault("x-assay", {})["faults"] = [
            {"kind": i.kind, "label": i.label, "injected_at": i.injected_at, "reverted_at": i.reverted_at} for i in ctx.injected
        ]
    detection.annotate(journal, load_guard.first_error_at if load_guard else None)
    if journal_path:
        write_text_atomic(journal_path, json.dumps(journal, indent=2, default=str) + "\n")
    result = to_run_result(journal)
    for phase, run in phases.items():
        result.extra.setdefault("phase_results", {})[phase] = run.model_dump(mode="json", by_alias=True)
    return ChaosOutcome(journal, result, exit_code_of(journal))


def to_run_result(journal: dict[str, Any]) -> RunResult:
    """The journal as an assay RunResult (kind `chaos`): one check per probe/tolerance and activity."""
    code = exit_code_of(journal)
    status = {"completed": RunStatus.PASSED if code == 0 else RunStatus.FAILED, "failed": RunStatus.FAILED,
              "aborted": RunStatus.ABORTED, "interrupted": RunStatus.ABORTED}.get(journal.get("status") or "", RunStatus.ERROR)
    checks: list[Check] = []
    for phase in ("before", "after"):
        state = journal["steady_states"].get(phase)
        for probe in (state or {}).get("probes", []):
            ok = probe.get("tolerance_met") is True
            checks.append(Check(name=f"hypothesis {phase}: {probe['activity'].get('name')}", passes=int(ok), fails=int(not ok)))
    for section in ("run", "rollbacks"):
        for entry in journal.get(section, []):
            ok = entry.get("status") == "succeeded"
            checks.append(Check(name=f"{section}: {entry['activity'].get('name')}", passes=int(ok), fails=int(not ok)))
    during = journal["steady_states"].get("during") or []
    metrics = {
        "chaos_deviated": Metric.new("gauge", value=1.0 if journal.get("deviated") else 0.0),
        "chaos_activities_failed": Metric.new("counter", count=sum(1 for e in journal.get("run", []) if e.get("status") != "succeeded"),
                                              sum=float(sum(1 for e in journal.get("run", []) if e.get("status") != "succeeded"))),
        "chaos_hypothesis_during_met": Metric.new("rate", passes=sum(1 for s in during if s and s.get("steady_state_met")),
                                                  fails=sum(1 for s in during if s and not s.get("steady_state_met"))),
    }
    recovery = (journal.get("x-assay") or {}).get("recovery")
    if recovery and recovery.get("time_to_recover_s") is not None:
        metrics["chaos_time_to_recover_s"] = Metric.new("gauge", value=float(recovery["time_to_recover_s"]))
        if recovery.get("time_degraded_s") is not None:
            metrics["chaos_time_degraded_s"] = Metric.new("gauge", value=float(recovery["time_degraded_s"]))
    detect = (journal.get("x-assay") or {}).get("detection") or {}
    if detect.get("time_to_detect_s") is not None:
        metrics["chaos_time_to_detect_s"] = Metric.new("gauge", value=float(detect["time_to_detect_s"]))
    for phase, stats in ((journal.get("x-assay") or {}).get("load") or {}).items():
        for key in ("availability", "error_rate", "p95_ms"):
            if stats.get(key) is not None:
                metrics[f"chaos_{key}{{phase:{phase}}}"] = Metric.new("gauge", value=float(stats[key]), tags={"phase": phase})
    if recovery:
        checks.append(Check(name="recovery within target", passes=int(bool(recovery["within_target"])),
                            fails=int(not recovery["within_target"])))
    started = datetime.fromisoformat(journal["start"])
    finished = datetime.fromisoformat(journal["end"])
    return RunResult(name=str(journal["experiment"].get("title") or "experiment"), kind="chaos", tool="assay",
                     status=status, started_at=started, finished_at=finished, duration_s=float(journal.get("duration") or 0.0),
                     metrics=metrics, checks=checks,
                     extra={"journal_status": journal.get("status"), "deviated": journal.get("deviated"),
                            "tags": list(journal["experiment"].get("tags") or [])})


def validate_file(path: str | Path, *, config_vars: dict[str, Any] | None = None,
                  secret_vars: dict[str, Any] | None = None, check_imports: bool = True) -> None:
    """What `assay chaos run` refuses before it starts: the experiment (every mistake, located)
    and then the assay extension as the run would read it (its ${var}s resolved)."""
    exp = exp_mod.load(path)
    exp_mod.validate(exp, check_imports=check_imports)
    unset = False  # a variable set only where it runs: then judge only what needs no ${var}
    try:
        configuration = load_configuration(exp.data.get("configuration"), config_vars)
    except UnsetEnvironment:
        configuration, unset = {}, True
    try:
        secrets = load_secrets(exp.data.get("secrets"), secret_vars)
    except UnsetEnvironment:
        secrets, unset = {}, True
    extension.check(substitute(exp.data, configuration, secrets), Path(path), values=not unset)


def plan_file(path: str | Path, options: RunOptions, *, config_vars: dict[str, Any] | None = None,
              secret_vars: dict[str, Any] | None = None, validation: bool = True,
              max_duration: float | None = None) -> tuple[str, int]:
    """`--dry`: the plan as text, and 0, or 2 when a pre-flight guard would refuse the run. Nothing runs."""
    from assay.chaos import plan as plan_mod

    exp = exp_mod.load(path)
    if validation:
        exp_mod.validate(exp)
    configuration = load_configuration(exp.data.get("configuration"), config_vars)
    secrets = load_secrets(exp.data.get("secrets"), secret_vars)
    data = substitute(exp.data, configuration, secrets)
    extension.check(data, Path(path))
    safety = guards.spec_from(data)
    text = plan_mod.render(data, plan_mod.build(data), safety=safety, recovery=spec_from(data),
                           load=background_load.spec_from(data),
                           rollback_strategy=options.rollback_strategy or str(((data.get("runtime") or {}).get("rollbacks") or {})
                                                                             .get("strategy") or "default"))
    try:
        guards.preflight(data, safety, max_duration)
    except guards.GuardRefused as exc:
        return text + f"\n\nREFUSED by a pre-flight guard: {exc.message}", int(ExitCode.GATE_FAILED)
    return text + "\n\nPre-flight guards: the run would start (the lock and the steady state are checked at run time).", 0
