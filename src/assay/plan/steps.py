"""Each step kind as two halves: the command that runs it, and how its files are read back.

Every kind runs as a subprocess (the `assay` command for engine steps, the user's own
command for `run`), so the runner kills, times out and interrupts them all the same way.
What a step wrote (RunResult JSON, k6 summaries, journals, SLO verdicts, JUnit XML) is
read back here into gates: the pass/fail decisions the report shows.
"""

from __future__ import annotations

import glob
import json
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assay.plan.context import ASSAY, Ingested, Invocation, StepContext
from assay.plan.model import (
    CanIDeployStep,
    ChaosStep,
    ContractVerifyStep,
    FaultStep,
    LoadStep,
    PublishStep,
    RunStep,
    SampledStep,
    SloStep,
    StepBase,
    TrendDetectStep,
    TrendRecordStep,
    is_service_name,
)
from assay.plan.outcome import Gate
from assay.plan.outputs import (
    chaos_timeline,
    label_result,
    last_json_object,
    load_details,
    read_junit,
)


def invocation(step: StepBase, ctx: StepContext) -> Invocation:
    build = _BUILDERS[type(step)]
    return build(step, ctx)


def ingest(step: StepBase, ctx: StepContext, exit_code: int) -> Ingested:
    read = _READERS[type(step)]
    out = read(step, ctx, exit_code)
    for path in out.results:
        label_result(path, ctx, step)
    return out


# --- builders ----------------------------------------------------------------------------------


def _load(step: LoadStep, ctx: StepContext) -> Invocation:
    argv = [*ASSAY, "load", "run", ctx.path(step.target) if "://" not in step.target else ctx.x(step.target)]
    for flag, value in (("--vus", step.vus), ("--rate", step.rate), ("--iterations", step.iterations), ("--profile", step.profile)):
        if value is not None:
            argv += [flag, str(value)]
    if step.duration is not None:
        argv += ["--duration", f"{step.duration:g}s"]
    for t in step.thresholds:
        argv += ["--threshold", ctx.x(t)]
    for key, value in step.env.items():
        argv += ["--env", f"{key}={ctx.x(value)}"]
    argv += ["--workers", str(step.workers), "--name", step.name,
             "--summary-export", str(ctx.out("summary-export.json")), "--result", str(ctx.out("result.json"))]
    argv += _sample_args(step, ctx)
    argv += [ctx.x(a) for a in step.args]
    return Invocation(argv, ctx.plan_dir)


def _sample_args(step: SampledStep, ctx: StepContext) -> list[str]:
    """`--sample NAME=PID` for each service followed (declared `sample: true`, or named by the
    step), and the step's NAME=PID / re:PATTERN entries as written (expanded)."""
    argv: list[str] = []
    seen: set[str] = set()
    for entry in [*ctx.sampled, *step.sample]:
        text = ctx.x(entry.strip())
        if text in seen:
            continue
        seen.add(text)
        pid = ctx.values.get(f"services.{text}.pid") if is_service_name(text) else None
        argv += ["--sample", f"{text}={pid}" if pid else text]
    return argv


def _chaos(step: ChaosStep, ctx: StepContext) -> Invocation:
    argv = [*ASSAY, "chaos", "run", ctx.path(step.experiment), "--journal-path", str(ctx.out("journal.json")),
            "--result", str(ctx.out("result.json")), "--junit", str(ctx.out("junit.xml")),
            "--markdown", str(ctx.out("chaos.md"))]
    for key, value in step.vars.items():
        argv += ["--var", f"{key}={ctx.x(value)}"]
    argv += _sample_args(step, ctx)
    argv += [ctx.x(a) for a in step.args]
    return Invocation(argv, ctx.plan_dir)


def _fault(step: FaultStep, ctx: StepContext) -> Invocation:
    argv = [*ASSAY, "fault", "inject", step.type, "--json"]
    if step.target:
        argv += ["--target", ctx.x(step.target)]
    for key, value in step.attributes.items():
        argv += ["--attribute", f"{key}={ctx.x(str(value))}"]
    if step.duration is not None:
        argv += ["--duration", f"{step.duration:g}s"]
    return Invocation(argv, ctx.plan_dir)


def _verify(step: ContractVerifyStep, ctx: StepContext) -> Invocation:
    argv = [*ASSAY, "contract", "verify", "--provider", ctx.x(step.provider),
            "--junit", str(ctx.out("junit.xml")), "--markdown", str(ctx.out("contracts.md")),
            "--out", str(ctx.out("result.json"))]
    if step.provider_base_url:
        argv += ["--provider-base-url", ctx.x(step.provider_base_url)]
    for pact in step.pacts:
        argv += ["--pact", ctx.path(pact)]
    if step.broker:
        argv += ["--broker", ctx.x(step.broker)]
    if step.state_handlers:
        handler = ctx.x(step.state_handlers)
        where, sep, obj = handler.rpartition(":")
        if sep and where.endswith(".py"):
            handler = f"{ctx.path(where)}:{obj}"
        argv += ["--state-handlers", handler]
    if step.publish:
        argv += ["--publish"]
    if step.provider_version:
        argv += ["--provider-version", ctx.x(step.provider_version)]
    if step.branch:
        argv += ["--branch", ctx.x(step.branch)]
    argv += [ctx.x(a) for a in step.args]
    return Invocation(argv, ctx.plan_dir)


def _publish(step: PublishStep, ctx: StepContext) -> Invocation:
    argv = [*ASSAY, "broker", "publish", *[ctx.path(p) for p in step.pacts], "--version", ctx.x(step.version),
            "--broker-base-url", ctx.x(step.broker)]
    if step.branch:
        argv += ["--branch", ctx.x(step.branch)]
    for tag in step.tags:
        argv += ["--tag", ctx.x(tag)]
    return Invocation(argv, ctx.plan_dir)


def _can_i_deploy(step: CanIDeployStep, ctx: StepContext) -> Invocation:
    # the JSON answer is written by a shell redirect-free wrapper: stdout goes to the step log,
    # so ask for JSON and let the reader find it there
    argv = [*ASSAY, "broker", "can-i-deploy", "--pacticipant", ctx.x(step.pacticipant), "--output", "json",
            "--broker-base-url", ctx.x(step.broker)]
    if step.version:
        argv += ["--version", ctx.x(step.version)]
    if step.to_environment:
        argv += ["--to-environment", ctx.x(step.to_environment)]
    if step.branch:
        argv += ["--branch", ctx.x(step.branch)]
    return Invocation(argv, ctx.plan_dir)


def _slo(step: SloStep, ctx: StepContext) -> Invocation:
    files = [str(p) for p in slo_inputs(step, ctx)]
    argv = [*ASSAY, "slo", "check", *files, "--slo", ctx.path(step.slo), "--format", "json",
            "--output", str(ctx.out("slo.json"))]
    if step.baseline:
        argv += ["--baseline", ctx.x(step.baseline)]
    return Invocation(argv, ctx.plan_dir)


def slo_inputs(step: SloStep | TrendRecordStep, ctx: StepContext) -> list[Path]:
    """The result files a slo/trend-record step names, or by default: this stage's results so far
    (slo: its load steps' results; trend-record: everything the night has produced so far)."""
    if step.results:
        out: list[Path] = []
        for ref in step.results:
            key = ref if ref in ctx.results else f"{ctx.stage_key}.{ref}"
            if key in ctx.results:
                out += ctx.results[key]
            elif f"{ctx.stage}.{ref}" in ctx.results:
                out += ctx.results[f"{ctx.stage}.{ref}"]
            else:
                out.append(Path(ctx.path(ref)))
        return out
    if isinstance(step, SloStep):
        return [p for name in ctx.stage_steps for p in ctx.results.get(f"{ctx.stage_key}.{name}", [])
                if p.name == "result.json" and _kind_of(p) == "load"]
    seen: set[Path] = set()
    return [p for paths in ctx.results.values() for p in paths if not (p in seen or seen.add(p))]  # type: ignore[func-returns-value]


def _kind_of(path: Path) -> str | None:
    try:
        return str(json.loads(path.read_text()).get("kind"))
    except (OSError, ValueError, AttributeError):
        return None


def _trend_record(step: TrendRecordStep, ctx: StepContext) -> Invocation:
    files = [str(p) for p in slo_inputs(step, ctx)]
    argv = [*ASSAY, "trend", "record", *files]
    for key, value in step.labels.items():
        argv += ["--label", f"{key}={ctx.x(value)}"]
    if ctx.store_url:
        argv += ["--store", ctx.store_url]
    if not files:  # nothing to record: an explicit no-op the log explains
        argv = [sys.executable, "-c", "print('no results to record yet')"]
    return Invocation(argv, ctx.plan_dir)


def _trend_detect(step: TrendDetectStep, ctx: StepContext) -> Invocation:
    argv = [*ASSAY, "trend", "detect", "--min-runs", str(step.min_runs), "--recent", str(step.recent),
            "--json", str(ctx.out("trend.json")), "--html", str(ctx.out("trend.html")),
            "--label", f"plan={ctx.plan_name}"]
    if step.trend_scenario:
        argv += ["--scenario", ctx.x(step.trend_scenario)]
    for rule in step.rules:
        argv += ["--rule", rule]
    if ctx.store_url:
        argv += ["--store", ctx.store_url]
    argv += [ctx.x(a) for a in step.args]
    return Invocation(argv, ctx.plan_dir)


def _run(step: RunStep, ctx: StepContext) -> Invocation:
    if isinstance(step.command, str):
        argv = ["bash", "-c", ctx.x(step.command)]
    else:
        argv = [ctx.x(a) for a in step.command]
    cwd = Path(ctx.path(step.cwd)) if step.cwd else ctx.plan_dir
    return Invocation(argv, cwd)


_BUILDERS: dict[type, Callable[[Any, StepContext], Invocation]] = {
    LoadStep: _load, ChaosStep: _chaos, FaultStep: _fault, ContractVerifyStep: _verify, PublishStep: _publish,
    CanIDeployStep: _can_i_deploy, SloStep: _slo, TrendRecordStep: _trend_record, TrendDetectStep: _trend_detect,
    RunStep: _run,
}


# --- readers -----------------------------------------------------------------------------------


def _exit_status(code: int) -> str:
    return {0: "passed", 1: "warning", 2: "failed", 99: "failed"}.get(code, "error")


def _usage(code: int) -> str:
    return {64: "a usage or config error (exit 64; see the step's log)", 70: "an internal error (exit 70; see the log)"}.get(
        code, f"exit {code}; see the step's log"
    )


def _results(*paths: Path) -> list[Path]:
    return [p for p in paths if p.is_file()]


def _read_load(step: LoadStep, ctx: StepContext, code: int) -> Ingested:
    from assay.formats import load_result

    out = Ingested(_exit_status(code), results=_results(ctx.out("result.json")), scenarios=_load_file_scenarios(step, ctx))
    if not out.results:
        out.status = "error"
        out.reason = f"no result written: {_usage(code)}"
        return out
    from assay.report.console import observed_text

    result = load_result(out.results[0])
    if result.source is not None and result.source.scenarios is not None:  # what the file declared when the run began
        out.scenarios = list(result.source.scenarios)
    for metric, t in result.thresholds():
        out.gates.append(Gate(name=f"threshold {metric}: {t.source}",
                              status="passed" if t.ok is not False else "failed",
                              detail="" if t.ok is not False else f"crossed (observed {observed_text(result, metric, t)})"
                              if t.observed is not None else "crossed"))
    if code not in (0, 99):
        out.status = "error"
        out.reason = _usage(code)
    elif code == 99:
        failed = [g.name for g in out.gates if g.status == "failed"]
        out.reason = "thresholds crossed: " + "; ".join(failed)
    out.details = load_details(result)
    return out


def _load_file_scenarios(step: LoadStep, ctx: StepContext) -> list[str]:
    """The acceptance scenarios the step's load scenario file declares (`scenario:`), so the
    report's step carries them as a chaos step carries its experiment's tags; the step's result,
    when written, says what the file declared when the run began instead. A bad declaration
    already failed the step (the loader refuses it, exit 64): none then."""
    from assay.acceptance import load_file_scenarios
    from assay.errors import UsageError

    target = ctx.path(step.target)
    if "://" in target:
        return []
    try:
        return load_file_scenarios(Path(target))
    except UsageError:
        return []


def _read_chaos(step: ChaosStep, ctx: StepContext, code: int) -> Ingested:
    out = Ingested(_exit_status(code), results=_results(ctx.out("result.json")))
    journal_path = ctx.out("journal.json")
    if not journal_path.is_file():
        out.status = "error"
        out.reason = f"no journal written: {_usage(code)}"
        return out
    journal = json.loads(journal_path.read_text())
    status = journal.get("status")
    deviated = bool(journal.get("deviated"))
    ssh = journal.get("steady_states") or {}
    for phase in ("before", "after"):
        state = ssh.get(phase)
        if state is not None:
            met = bool(state.get("steady_state_met"))
            out.gates.append(Gate(name=f"steady-state hypothesis {phase}", status="passed" if met else "failed",
                                  detail="" if met else "not met"))
    recovery = (journal.get("x-assay") or {}).get("recovery")
    if recovery:
        within = bool(recovery.get("within_target"))
        ttr = recovery.get("time_to_recover_s")
        out.gates.append(Gate(name="recovery within target", status="passed" if within else "failed",
                              detail=f"recovered in {ttr:.1f}s" if isinstance(ttr, int | float) else "did not recover"))
    # a Chaos Toolkit experiment's tags may name the acceptance scenarios it covers (US1-AS2)
    from assay.acceptance import is_scenario_id

    out.scenarios = [t for t in (journal.get("experiment") or {}).get("tags") or [] if is_scenario_id(t)]
    out.details = {"status": status, "deviated": deviated, "recovery": recovery,
                   "load": (journal.get("x-assay") or {}).get("load") or {},
                   "timeline": chaos_timeline(journal), "title": (journal.get("experiment") or {}).get("title")}
    if code == 0 and status == "completed" and not deviated:
        out.status = "passed"
    elif code in (0, 1, 2) or status in ("failed", "aborted", "interrupted") or deviated:
        out.status = "failed"
        out.reason = f"experiment {status}" + (", deviated" if deviated else "")
    else:
        out.status, out.reason = "error", _usage(code)
    return out


def _read_fault(step: FaultStep, ctx: StepContext, code: int) -> Ingested:
    if code == 0 or (code in (130, -2) and step.background):
        return Ingested("passed", gates=[Gate(name=f"fault {step.type} injected and reverted", status="passed")])
    return Ingested("error", gates=[Gate(name=f"fault {step.type}", status="error", detail=_usage(code))], reason=_usage(code))


def _read_verify(step: ContractVerifyStep, ctx: StepContext, code: int) -> Ingested:
    out = Ingested(_exit_status(code), results=_results(ctx.out("result.json")))
    junit = ctx.out("junit.xml")
    if junit.is_file():
        out.tests = read_junit(junit, ctx.quarantine)
        for t in out.tests:
            out.gates.append(Gate(name=f"contract {t.name}", status="passed" if t.status in ("passed", "skipped") else "failed",
                                  detail=t.message[:300]))
    if code == 2:
        out.reason = "contract verification failed: " + ", ".join(g.name for g in out.gates if g.status == "failed")
    elif code not in (0, 1):
        out.reason = _usage(code)
    md = ctx.out("contracts.md")
    if md.is_file():
        out.details["markdown"] = md.read_text(errors="replace")[:20_000]
    return out


def _read_publish(step: PublishStep, ctx: StepContext, code: int) -> Ingested:
    status = "passed" if code == 0 else "error"
    return Ingested(status, gates=[Gate(name="pacts published", status="passed" if code == 0 else "error",
                                        detail="" if code == 0 else _usage(code))], reason="" if code == 0 else _usage(code))


def _read_can_i_deploy(step: CanIDeployStep, ctx: StepContext, code: int) -> Ingested:
    answer = last_json_object(ctx.out("step.log"))
    summary = (answer or {}).get("summary") or {}
    deployable = summary.get("deployable")
    reason = summary.get("reason") or ""
    if answer is not None:
        (ctx.out("can-i-deploy.json")).write_text(json.dumps(answer, indent=2))
    if code == 0:
        status = "passed"
    elif code == 2:
        status = "failed"
    else:
        status = "error"
    gate = Gate(name=f"can-i-deploy {step.pacticipant}" + (f" to {step.to_environment}" if step.to_environment else ""),
                status="passed" if status == "passed" else ("failed" if status == "failed" else "error"), detail=reason)
    return Ingested(status, gates=[gate], details={"deployable": deployable, "reason": reason,
                                                   "matrix": (answer or {}).get("matrix", [])[:50]},
                    reason="" if status == "passed" else f"can-i-deploy: {reason or _usage(code)}")


def _objective_value(o: dict[str, Any]) -> str:
    """An objective's value as `assay slo check` prints it (`19.6 MiB`, `27.2%`, `381 ms`); empty for none."""
    from pydantic import ValidationError

    from assay.slo.report import ObjectiveResult

    value = o.get("value")
    if not isinstance(value, int | float):
        return ""
    try:
        return ObjectiveResult.model_validate(o).show(value)
    except ValidationError:  # a verdict file of another shape: its number as written
        return f"{value:.4g}"


def _read_slo(step: SloStep, ctx: StepContext, code: int) -> Ingested:
    out = Ingested(_exit_status(code))
    path = ctx.out("slo.json")
    if not path.is_file():
        return Ingested("error", reason=f"no SLO verdict written: {_usage(code)}")
    data = json.loads(path.read_text())
    scores = []
    for ev in data.get("evaluations", []):
        result_name = (ev.get("result") or {}).get("name") or "result"
        scores.append({"result": result_name, "status": ev.get("status"), "score": ev.get("score"),
                       "score_status": ev.get("score_status"),
                       "objectives": [{"id": o.get("id"), "title": o.get("title"), "code": o.get("code") or o.get("status"),
                                       "value": o.get("value"), "shown": _objective_value(o), "target": o.get("target"),
                                       "unit": o.get("unit")} for o in ev.get("objectives", [])]})
        for o in ev.get("objectives", []):
            code_ = str(o.get("code") or o.get("status") or "INFO")
            status = {"PASS": "passed", "WARNING": "warning", "FAIL": "failed", "CRITICAL": "failed"}.get(code_)
            if status is None:
                continue
            out.gates.append(Gate(name=f"SLO {o.get('id')}: {o.get('title')}", status=status,  # type: ignore[arg-type]
                                  detail=f"{_objective_value(o)} {code_}".strip()))
    out.details = {"slo": data.get("slo"), "status": data.get("status"), "scores": scores}
    if code == 2:
        out.reason = "SLO failed: " + ", ".join(g.name for g in out.gates if g.status == "failed")
    elif code not in (0, 1):
        out.status, out.reason = "error", _usage(code)
    return out


def _read_trend_record(step: TrendRecordStep, ctx: StepContext, code: int) -> Ingested:
    return Ingested("passed" if code == 0 else "error", reason="" if code == 0 else _usage(code),
                    gates=[Gate(name="results recorded", status="passed" if code == 0 else "error")])


def _read_trend_detect(step: TrendDetectStep, ctx: StepContext, code: int) -> Ingested:
    path = ctx.out("trend.json")
    if not path.is_file():
        return Ingested("error", reason=f"no detection written: {_usage(code)}")
    data = json.loads(path.read_text())
    out = Ingested("passed" if code == 0 else ("failed" if code == 2 else "error"))
    regressions = []
    for series in data.get("series", []):
        open_alarms = [a for a in series.get("alarms", []) if a.get("open") or a.get("regression")]
        name = f"{series.get('scenario')}: {series.get('series')}"
        if open_alarms:
            regressions.append(name)
        out.gates.append(Gate(name=f"trend {name}", status="failed" if open_alarms else "passed",
                              detail="; ".join(str(a.get("summary") or a.get("kind") or "") for a in open_alarms)[:300]))
    out.details = {"regressions": data.get("regressions", 0), "series": data.get("series", [])[:40],
                   "regressed": regressions, "notes": data.get("notes", [])}
    if code == 2:
        out.reason = f"{data.get('regressions', 0)} regression(s): " + ", ".join(regressions[:5])
    elif code != 0:
        out.reason = _usage(code)
    return out


def _read_run(step: RunStep, ctx: StepContext, code: int) -> Ingested:
    from assay.formats import load_result

    out = Ingested("passed" if code == 0 else "failed")
    if code != 0:
        out.reason = f"{' '.join(shlex.quote(a) for a in _run(step, ctx).argv)[:200]} exited {code}"
    out.gates.append(Gate(name="command exit code", status="passed" if code == 0 else "failed", detail=f"exit {code}"))
    for pattern in step.ingest:
        base = ctx.x(pattern)
        full = base if Path(base).is_absolute() else str(ctx.step_dir / base)
        for name in sorted(glob.glob(full)):
            path = Path(name)
            if path.suffix == ".xml":
                tests = read_junit(path, ctx.quarantine)
                out.tests += tests
                failing = [t for t in tests if t.status in ("failed", "error") and not t.quarantined]
                out.gates.append(Gate(name=f"tests in {path.name}", status="failed" if failing else "passed",
                                      detail=f"{len(tests)} tests, {len(failing)} failing"
                                      + (": " + ", ".join(t.name for t in failing[:5]) if failing else "")))
                if failing and out.status == "passed":
                    out.status = "failed"
                    out.reason = f"{len(failing)} failing test(s) in {path.name}"
                continue
            try:
                result = load_result(path)
            except Exception as exc:  # a file the command wrote that no reader understands
                out.gates.append(Gate(name=f"ingest {path.name}", status="error", detail=str(exc)[:300]))
                out.status = "error"
                continue
            if path.name != "result.json" or path.parent != ctx.step_dir:
                saved = ctx.out(f"result-{len(out.results) + 1}.json")
                result.save(saved)
                path = saved
            out.results.append(path)
            for metric, t in result.thresholds():
                ok = t.ok is not False
                out.gates.append(Gate(name=f"threshold {metric}: {t.source}", status="passed" if ok else "failed"))
                if not ok and out.status == "passed":
                    out.status, out.reason = "failed", f"threshold {metric}: {t.source} crossed"
    return out


_READERS: dict[type, Callable[[Any, StepContext, int], Ingested]] = {
    LoadStep: _read_load, ChaosStep: _read_chaos, FaultStep: _read_fault, ContractVerifyStep: _read_verify,
    PublishStep: _read_publish, CanIDeployStep: _read_can_i_deploy, SloStep: _read_slo,
    TrendRecordStep: _read_trend_record, TrendDetectStep: _read_trend_detect, RunStep: _read_run,
}


# --- shared ------------------------------------------------------------------------------------


__all__ = ["ingest", "invocation", "slo_inputs"]
