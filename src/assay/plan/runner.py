"""Run a plan: services up, stages in dependency order (independent ones in parallel), steps
with timeouts and retries, services down, the verdict, the reports, the notifications.

Whatever happens (a service that never becomes ready, a step that hangs, Ctrl-C or
SIGTERM), every started process is stopped, every fault reverted and the report written.
The runner prints nothing: it emits events (`on_event`) and keeps `report` current, and
the CLI decides how progress looks.
"""

from __future__ import annotations

import shlex
import shutil
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from croniter import croniter

from assay.harness.ports import free_port
from assay.observe.tracing import carry_context, span
from assay.plan.context import StepContext
from assay.plan.model import WEEKDAYS, FaultStep, Service, Stage, StepBase, TrendRecordStep
from assay.plan.outcome import FAILING, Attempt, Gate, PlanReport, ServiceOutcome, StageOutcome, StepOutcome
from assay.plan.process import StepProcess
from assay.plan.services import RunningService, ServiceNotReady, start_service
from assay.plan.steps import ingest, invocation, slo_inputs
from assay.plan.substitute import expand
from assay.plan.validate import LoadedPlan
from assay.plan.verdict import decide, quarantined, step_data_loss

Event = Callable[[str, dict[str, Any]], None]
DONE = ("passed", "warning", "failed", "error", "skipped", "aborted")


@dataclass
class RunOptions:
    now: datetime | None = None  # the night's date for `if: weekday/schedule` (default: now)
    run_id: str | None = None
    artifacts: Path | None = None  # overrides the plan's `artifacts`
    store_url: str | None = None  # overrides the plan's trends.store
    record: bool | None = None  # overrides trends.record
    notify: bool = True
    on_event: Event | None = None
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class StageInstance:
    name: str
    key: str
    stage: Stage
    matrix: dict[str, Any]
    outcome: StageOutcome


class PlanRunner:
    def __init__(self, loaded: LoadedPlan, options: RunOptions | None = None) -> None:
        self.loaded = loaded
        self.plan = loaded.plan
        self.options = options or RunOptions()
        self.now = self.options.now or datetime.now().astimezone()
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        self.run_id = self.options.run_id or f"{stamp}-{uuid.uuid4().hex[:6]}"
        root = self.options.artifacts or Path(self.plan.artifacts)
        self.run_dir = (root / self.plan.name / self.run_id).resolve()
        self.stop_event = threading.Event()
        self.stop_reason = ""
        from assay.trends.store import store_url

        self.store_url = absolute_sqlite(store_url(self.options.store_url or self.plan.trends.store))
        self.record = self.plan.trends.record if self.options.record is None else self.options.record
        self.lock = threading.Lock()
        self.results: dict[str, list[Path]] = {}
        self.recorded: set[Path] = set()
        self.services: list[RunningService] = []
        self.values: dict[str, str] = {"run.id": self.run_id, "run.dir": str(self.run_dir),
                                       "run.plan_dir": str(loaded.directory)}
        from assay.results import detect_labels

        self.labels = {**detect_labels(cwd=loaded.directory), **self.options.labels}
        self.report = PlanReport(
            plan=self.plan.name, description=self.plan.description, source=loaded.source, run_id=self.run_id,
            started_at=datetime.now(UTC), artifacts_dir=str(self.run_dir), labels=self.labels,
            quarantined=list(self.plan.quarantine),
        )
        self.instances = self._expand()
        self.report.stages = [i.outcome for i in self.instances]
        self.env = self._base_env()

    # -- public ---------------------------------------------------------------------------------

    def request_stop(self, reason: str) -> None:
        """Stop the night (Ctrl-C, SIGTERM): running steps are interrupted, the rest skipped."""
        if not self.stop_event.is_set():
            self.stop_reason = reason
            self.report.interrupted = True
            self.stop_event.set()
            self._emit("stopping", reason=reason)

    def run(self) -> PlanReport:
        with span("plan.run", plan=self.plan.name, run_id=self.run_id):
            return self._run()

    def _run(self) -> PlanReport:
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            (self.run_dir / ("plan" + Path(self.loaded.source).suffix)).write_text(self.loaded.text)
        except OSError as exc:
            from assay.errors import UsageError

            raise UsageError(f"cannot write the artifacts to {self.run_dir}: {exc.strerror or exc}") from None
        started = time.monotonic()
        self._emit("started", run_id=self.run_id, dir=str(self.run_dir))
        try:
            if self._start_services(self.plan.services, None, self.values, self.services):
                self._schedule()
            else:
                for inst in self.instances:
                    self._skip_stage(inst, "a service did not start")
        finally:
            try:
                for inst in self.instances:  # whatever never got to run
                    if inst.outcome.status in ("pending", "running"):
                        self._skip_stage(inst, "interrupted" if self.stop_event.is_set() else "not reached")
                self.report.finished_at = datetime.now(UTC)
                self.report.duration_s = time.monotonic() - started
                decide(self.report, {n: s.continue_on_error for n, s in self.plan.stages.items()})
                try:
                    self._finish_nights(self.services)  # their resources are results the store records
                finally:
                    self._record_and_notify()  # while the services still run: a local webhook sink may be one
            finally:
                self._stop_services(self.services)
                self._write()
        return self.report

    # -- expansion ------------------------------------------------------------------------------

    def _expand(self) -> list[StageInstance]:
        out = []
        for name, stage in self.plan.stages.items():
            for key, combo in stage.instances(name):
                outcome = StageOutcome(name=name, key=key, matrix=combo, continue_on_error=stage.continue_on_error,
                                       steps=[StepOutcome(stage=key, name=s.name, kind=s.kind, scenarios=s.scenarios(),
                                                          critical=s.critical,
                                                          quarantined=quarantined(f"{name}.{s.name}", self.plan.quarantine)
                                                          or quarantined(f"{key}.{s.name}", self.plan.quarantine))
                                              for s in stage.steps])
                out.append(StageInstance(name, key, stage, combo, outcome))
        return out

    def _base_env(self) -> dict[str, str]:
        import os

        env = dict(os.environ)
        # `assay` and `python` in a plan mean this installation's, also when its bin/ is not on PATH
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        env["ASSAY_PLAN"] = self.plan.name
        env["ASSAY_RUN_ID"] = self.run_id
        env["ASSAY_RUN_DIR"] = str(self.run_dir)
        if self.store_url:
            env["ASSAY_DB_URL"] = self.store_url
        for k, v in self.plan.env.items():
            env[k] = expand(v, self.values)
        return env

    # -- services -------------------------------------------------------------------------------

    def _start_services(self, services: dict[str, Service], stage: str | None, values: dict[str, str],
                        running: list[RunningService]) -> bool:
        for name, svc in services.items():
            if self.stop_event.is_set():
                return False
            port: int | None = free_port() if svc.port == "auto" else (svc.port if isinstance(svc.port, int) else None)
            if port is not None:
                values[f"services.{name}.port"] = str(port)
            url = expand(svc.url, values) if svc.url else (f"http://127.0.0.1:{port}" if port else None)
            if svc.url is None and url is None and svc.ready and svc.ready.http:
                from urllib.parse import urlsplit

                parts = urlsplit(expand(svc.ready.http, values))
                url = f"{parts.scheme}://{parts.netloc}"
            if url:
                values[f"services.{name}.url"] = url
                values[f"services.{name}.host"] = "127.0.0.1"
            where = f"{stage}/" if stage else ""
            log = self.run_dir / "services" / f"{where}{name}.log".replace("[", "_").replace("]", "_")
            values[f"services.{name}.log"] = str(log)
            outcome = ServiceOutcome(name=name, stage=stage, status="checked" if svc.command is None else "ready",
                                     url=url, log=str(log.relative_to(self.run_dir)) if svc.command else None)
            self.report.services.append(outcome)
            self._emit("service", name=name, stage=stage, status="starting")
            ready = svc.ready.model_copy() if svc.ready else None
            if ready is not None:
                for attr in ("http", "tcp"):
                    if getattr(ready, attr):
                        setattr(ready, attr, expand(getattr(ready, attr), values))
                if isinstance(ready.command, str):
                    ready.command = expand(ready.command, values)
                elif ready.command:
                    ready.command = [expand(a, values) for a in ready.command]
            svc_x = svc.model_copy(update={"ready": ready})
            command = None
            if svc.command is not None:
                command = (shlex.split(expand(svc.command, values)) if isinstance(svc.command, str)
                           else [expand(a, values) for a in svc.command])
                log.parent.mkdir(parents=True, exist_ok=True)
            env = {**self.env, **{k: expand(v, values) for k, v in svc.env.items()}}
            cwd = Path(expand(svc.cwd, values)) if svc.cwd else self.loaded.directory
            if not cwd.is_absolute():
                cwd = self.loaded.directory / cwd
            try:
                rs = start_service(name, svc_x, command=command, url=url, port=port, env=env, cwd=cwd, log_path=log,
                                   stop_requested=self.stop_event.is_set)
            except (ServiceNotReady, OSError) as exc:
                outcome.status, outcome.error = "failed", str(exc)
                self._emit("service", name=name, stage=stage, status="failed", error=str(exc))
                return False
            running.append(rs)
            if rs.process is not None and rs.process.proc is not None:
                values[f"services.{name}.pid"] = str(rs.process.proc.pid)
                if svc.sample:
                    from assay.plan.resources import NightWatch

                    rs.night = NightWatch(name, rs.process.proc.pid)
            outcome.ready_after_s = rs.ready_after_s
            self._emit("service", name=name, stage=stage, status=outcome.status, url=url)
        return True

    def _finish_nights(self, running: list[RunningService]) -> None:
        """End each sampled service's whole-night watch: its result is written, labelled like a
        step's and kept with the night's results, so the trend store records it with them."""
        for rs in running:
            night, rs.night = rs.night, None
            if night is None or rs.log is None:
                continue
            log = str(rs.log.relative_to(self.run_dir))
            for out in self.report.services:
                if out.name == rs.name and out.status == "ready" and out.log == log:  # a matrix stage starts one per entry
                    where = f"{out.stage}.services.{rs.name}" if out.stage else f"services.{rs.name}"
                    labels = {**self.labels, "plan": self.plan.name, "plan_run": self.run_id, "service": rs.name,
                              "scenario": f"{self.plan.name}.{where}"}
                    path = rs.log.with_suffix(".resources.json")
                    try:
                        night.finish(path, out, self.run_dir, labels)
                    except OSError as exc:  # the night's report and the other services' results still get written
                        self.report.reasons.append(f"note: {rs.name}'s resources not written: {exc}")
                        continue
                    with self.lock:
                        self.results.setdefault(where, []).append(path)
                    break

    def _stop_services(self, running: list[RunningService]) -> None:
        try:
            self._finish_nights(running)  # before the services stop: their exit is no vanished process
        finally:
            for rs in reversed(running):
                self._stop_service(rs)
        running.clear()

    def _stop_service(self, rs: RunningService) -> None:
        mine = [out for out in self.report.services if out.name == rs.name and out.status == "ready"]
        code = rs.stop()
        for out in mine:
            if rs.process is not None:
                out.status, out.exit_code = "stopped", code
        self._emit("service", name=rs.name, status="stopped")

    # -- scheduling -----------------------------------------------------------------------------

    def _schedule(self) -> None:
        by_name: dict[str, list[StageInstance]] = {}
        for inst in self.instances:
            by_name.setdefault(inst.name, []).append(inst)
        pending = list(self.instances)
        futures: dict[Future[None], StageInstance] = {}
        with ThreadPoolExecutor(max_workers=max(1, len(self.instances)), thread_name_prefix="stage") as pool:
            while pending or futures:
                progressed = False
                for inst in list(pending):
                    needs = [i for n in inst.stage.needs for i in by_name.get(n, [])]
                    if any(i.outcome.status not in DONE for i in needs):
                        continue
                    pending.remove(inst)
                    progressed = True
                    why = self._why_not(inst, needs)
                    if why:
                        self._skip_stage(inst, why)
                        continue
                    inst.outcome.status = "running"
                    futures[pool.submit(carry_context(self._run_stage), inst)] = inst
                if not futures:
                    if not progressed and pending:  # validate prevents cycles; be safe anyway
                        for inst in pending:
                            self._skip_stage(inst, "its needs never finished")
                        pending.clear()
                    continue
                done, _ = wait(list(futures), timeout=0.2, return_when=FIRST_COMPLETED)
                for fut in done:
                    inst = futures.pop(fut)
                    exc = fut.exception()
                    if exc is not None:
                        inst.outcome.status, inst.outcome.reason = "error", f"internal error: {exc!r}"
                        for step in inst.outcome.steps:
                            if step.status in ("pending", "running"):
                                step.status, step.reason = "error", inst.outcome.reason
                        self._emit("stage", key=inst.key, status="error", reason=inst.outcome.reason)

    def _why_not(self, inst: StageInstance, needs: list[StageInstance]) -> str:
        """Why a stage does not run ('' when it does)."""
        if self.stop_event.is_set():
            return f"interrupted ({self.stop_reason})"
        cond = inst.stage.if_
        if cond is not None and cond.weekday is not None:
            today = WEEKDAYS[self.now.weekday()]
            if today not in cond.weekday:
                return f"runs on {', '.join(cond.weekday)}; today is {today}"
        if cond is not None and cond.schedule is not None and not fires_on(cond.schedule, self.now):
            return f"its schedule {cond.schedule!r} does not fire on {self.now:%a %Y-%m-%d}"
        if cond is not None and cond.status is not None:
            for other, wanted in cond.statuses().items():
                got = [self._stage_status(i.outcome) for i in self.instances if i.name == other]
                if not got or not any(g in wanted for g in got):
                    return f"runs when {other} is {'/'.join(wanted)}; it is {'/'.join(got) or 'absent'}"
            return ""
        if cond is not None and cond.always:
            return ""
        for need in needs:
            st = need.outcome
            if st.status == "skipped":
                return f"needs {st.key}, which was skipped"
            if st.status in FAILING and not st.continue_on_error:
                return f"needs {st.key}, which {st.status}"
        return ""

    @staticmethod
    def _stage_status(outcome: StageOutcome) -> str:
        return "failed" if outcome.status in ("error", "aborted") else outcome.status

    def _skip_stage(self, inst: StageInstance, reason: str) -> None:
        inst.outcome.status, inst.outcome.reason = "skipped", reason
        for step in inst.outcome.steps:
            if step.status in ("pending", "running"):
                step.status, step.reason = "skipped", reason
        self._emit("stage", key=inst.key, status="skipped", reason=reason)

    # -- one stage ------------------------------------------------------------------------------

    def _run_stage(self, inst: StageInstance) -> None:
        with span("plan.stage", plan=self.plan.name, stage=inst.key):
            self._stage(inst)

    def _stage(self, inst: StageInstance) -> None:
        out = inst.outcome
        out.started_at = datetime.now(UTC)
        started = time.monotonic()
        deadline = started + inst.stage.timeout if inst.stage.timeout else None
        self._emit("stage", key=inst.key, status="running")
        values = dict(self.values)
        values.update({f"matrix.{k}": str(v) for k, v in inst.matrix.items()})
        running: list[RunningService] = []
        background: list[tuple[FaultStep, StepOutcome, StepProcess, StepContext]] = []
        stage_dir = self.run_dir / "stages" / _safe(inst.key)
        try:
            if not self._start_services(inst.stage.services, inst.key, values, running):
                out.status, out.reason = "error", "a stage service did not start"
                for step in out.steps:
                    step.status, step.reason = "skipped", out.reason
                return
            blocked = ""
            ran: list[str] = []
            for spec, step_out in zip(inst.stage.steps, out.steps, strict=True):
                if self.stop_event.is_set():
                    step_out.status, step_out.reason = "skipped", f"interrupted ({self.stop_reason})"
                    continue
                if blocked:
                    step_out.status, step_out.reason = "skipped", blocked
                    continue
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    step_out.status, step_out.reason = "skipped", "the stage's timeout passed"
                    blocked = step_out.reason
                    continue
                ctx = self._context(inst, spec, stage_dir, values, ran)
                if isinstance(spec, FaultStep) and spec.background:
                    proc = self._start_background(spec, step_out, ctx)
                    if proc is not None:
                        background.append((spec, step_out, proc, ctx))
                    ran.append(spec.name)
                    continue
                self._run_step(spec, step_out, ctx, left)
                ran.append(spec.name)
                if step_out.status in FAILING:
                    blocked = f"{spec.name} {step_out.status}"
                    if "stage's timeout" in step_out.reason:
                        blocked = "the stage's timeout passed"
        finally:
            for spec, step_out, proc, ctx in background:
                self._finish_background(spec, step_out, proc, ctx)
            self._stop_services(running)
            out.duration_s = time.monotonic() - started
            statuses = [s.status for s in out.steps if not (s.quarantined and s.status in FAILING)]
            if out.status not in ("error",):
                out.status = _worst(statuses) if statuses else "passed"
                if any(s.quarantined and s.status in FAILING for s in out.steps) and out.status == "passed":
                    out.status = "warning"
            if out.status in FAILING and not out.reason:
                first = next((s for s in out.steps if s.status in FAILING and not s.quarantined), None)
                out.reason = f"{first.name}: {first.reason}" if first else ""
            self._emit("stage", key=inst.key, status=out.status, reason=out.reason)

    def _context(self, inst: StageInstance, spec: StepBase, stage_dir: Path, values: dict[str, str],
                 ran: list[str]) -> StepContext:
        step_dir = stage_dir / _safe(spec.name)
        step_dir.mkdir(parents=True, exist_ok=True)
        step_values = {**values, "run.step_dir": str(step_dir)}
        env = {**self.env, **{k: expand(v, step_values) for k, v in spec.env.items()},
               "ASSAY_STEP_DIR": str(step_dir)}
        labels = {f"matrix_{k}": str(v) for k, v in inst.matrix.items()}
        labels["plan_run"] = self.run_id
        with self.lock:
            results = {k: list(v) for k, v in self.results.items()}
        return StepContext(plan_name=self.plan.name, plan_dir=self.loaded.directory, run_dir=self.run_dir,
                           step_dir=step_dir, stage=inst.name, stage_key=inst.key, values=step_values, env=env,
                           store_url=self.store_url, results=results, stage_steps=list(ran), labels=labels,
                           quarantine=list(self.plan.quarantine), stage_timeout=inst.stage.timeout,
                           sampled=[n for n, s in {**self.plan.services, **inst.stage.services}.items() if s.sample])

    def _run_step(self, spec: StepBase, out: StepOutcome, ctx: StepContext, stage_left: float | None) -> None:
        with span("plan.step", stage=ctx.stage_key, step=spec.name, kind=spec.kind):
            self._step(spec, out, ctx, stage_left)

    def _step(self, spec: StepBase, out: StepOutcome, ctx: StepContext, stage_left: float | None) -> None:
        out.status = "running"
        out.started_at = datetime.now(UTC)
        self._emit("step", key=f"{ctx.stage_key}.{spec.name}", status="running", kind=spec.kind)
        started = time.monotonic()
        attempts = spec.retry.attempts if spec.retry else 1
        from tenacity import RetryError, Retrying, retry_if_result, stop_after_attempt, wait_exponential

        def once() -> StepOutcome:
            n = len(out.attempts) + 1
            if n > 1:
                _keep_attempt(ctx.step_dir, n - 1)
            left = None if stage_left is None else stage_left - (time.monotonic() - started)
            self._attempt(spec, out, ctx, n, left)
            return out

        retrying = Retrying(
            stop=stop_after_attempt(attempts),
            wait=wait_exponential(multiplier=spec.retry.backoff if spec.retry else 1.0,
                                  max=spec.retry.max_backoff if spec.retry else 1.0),
            retry=retry_if_result(lambda o: o.status in FAILING and not self.stop_event.is_set()
                                  and "stage's timeout" not in o.reason),
            sleep=lambda s: None if self.stop_event.wait(s) else None,
        )
        try:
            retrying(once)
        except RetryError:
            pass  # the last attempt's outcome stands
        out.duration_s = time.monotonic() - started
        if out.retried and out.status == "passed":
            out.reason = f"passed on attempt {len(out.attempts)} of {attempts}"
        lost = step_data_loss(out, self.run_dir)
        out.messages_lost = lost
        self._emit("step", key=f"{ctx.stage_key}.{spec.name}", status=out.status, reason=out.reason,
                   duration_s=out.duration_s)

    def _attempt(self, spec: StepBase, out: StepOutcome, ctx: StepContext, n: int, stage_left: float | None) -> None:
        """One attempt: run the command (killed at its timeout), then read back its files."""
        timeout = spec.timeout
        by_stage = False
        if stage_left is not None and (timeout is None or stage_left < timeout):
            timeout, by_stage = max(0.1, stage_left), True
        try:
            inv = invocation(spec, ctx)
        except Exception as exc:  # a reference that does not resolve, a missing file: the step errors
            out.status, out.reason = "error", str(getattr(exc, "message", exc))
            out.attempts.append(Attempt(number=n, status="error", reason=out.reason))
            return
        proc = StepProcess(inv.argv, env={**ctx.env, **inv.env}, cwd=inv.cwd, log_path=ctx.out("step.log"),
                           timeout=timeout)
        done = proc.wait(self.stop_event)
        out.exit_code = done.exit_code
        if done.stopped and not done.timed_out:
            out.status, out.reason = "aborted", f"interrupted ({self.stop_reason})"
            # what it wrote while stopping (a journal, a partial result) is still worth reading
            self._ingest(spec, out, ctx, done.exit_code, keep_status=True)
        elif done.timed_out:
            limit = ctx.stage_timeout if by_stage else timeout
            what = "the stage's timeout" if by_stage else "its timeout"
            out.status, out.reason = "failed", f"killed at {what} ({limit:g}s)"
            self._ingest(spec, out, ctx, done.exit_code, keep_status=True)
            out.gates.insert(0, Gate(name=f"{'stage ' if by_stage else ''}timeout {limit:g}s", status="failed",
                                     detail=f"killed after {done.duration_s:.1f}s"))
        else:
            self._ingest(spec, out, ctx, done.exit_code, keep_status=False)
        out.attempts.append(Attempt(number=n, status=out.status, exit_code=done.exit_code, duration_s=done.duration_s,
                                    reason=out.reason))

    def _ingest(self, spec: StepBase, out: StepOutcome, ctx: StepContext, code: int, *, keep_status: bool) -> None:
        try:
            got = ingest(spec, ctx, code)
        except Exception as exc:  # unreadable output: the step errors, the night goes on
            if not keep_status:
                out.status, out.reason = "error", f"could not read the step's output: {exc}"
            return
        out.gates, out.details, out.tests = got.gates, got.details, got.tests
        out.scenarios = sorted(set(out.scenarios) | set(got.scenarios))
        out.results = [str(p.relative_to(self.run_dir)) for p in got.results]
        out.artifacts = sorted(str(p.relative_to(self.run_dir)) for p in ctx.step_dir.rglob("*") if p.is_file())
        if not keep_status:
            out.status, out.reason = got.status, got.reason  # type: ignore[assignment]
        with self.lock:
            self.results[f"{ctx.stage_key}.{spec.name}"] = list(got.results)
            if ctx.stage_key != ctx.stage:
                self.results.setdefault(f"{ctx.stage}.{spec.name}", []).extend(got.results)
            if isinstance(spec, TrendRecordStep) and got.status == "passed":
                self.recorded.update(slo_inputs(spec, ctx))

    def _start_background(self, spec: FaultStep, out: StepOutcome, ctx: StepContext) -> StepProcess | None:
        out.status, out.started_at = "running", datetime.now(UTC)
        self._emit("step", key=f"{ctx.stage_key}.{spec.name}", status="running", kind=spec.kind)
        try:
            inv = invocation(spec, ctx)
        except Exception as exc:
            out.status, out.reason = "error", str(getattr(exc, "message", exc))
            return None
        return StepProcess(inv.argv, env={**ctx.env, **inv.env}, cwd=inv.cwd, log_path=ctx.out("step.log"),
                           timeout=spec.timeout)

    def _finish_background(self, spec: FaultStep, out: StepOutcome, proc: StepProcess, ctx: StepContext) -> None:
        if proc.running():
            proc.stop()  # SIGINT: `assay fault inject` reverts on it
        done = proc.wait()
        out.exit_code = done.exit_code
        out.duration_s = done.duration_s
        self._ingest(spec, out, ctx, done.exit_code, keep_status=False)
        out.attempts.append(Attempt(number=1, status=out.status, exit_code=done.exit_code, duration_s=done.duration_s))
        self._emit("step", key=f"{ctx.stage_key}.{spec.name}", status=out.status, reason=out.reason,
                   duration_s=out.duration_s)

    # -- the end --------------------------------------------------------------------------------

    def _record_and_notify(self) -> None:
        from assay.plan import record as recording

        if self.record:
            try:
                with self.lock:
                    results = [p for paths in self.results.values() for p in paths]
                self.report.trend_store = recording.record_night(self.report, self.run_dir, results, self.recorded,
                                                                 self.store_url)
            except Exception as exc:  # the store is down: the night's report still gets written
                self.report.reasons.append(f"note: results not recorded in the trend store: {exc}")
        if self.options.notify and self.plan.notifications:
            from assay.plan.notify import send_all

            self.report.notifications = send_all(self.plan, self.report, self.run_dir, self.store_url, self.now,
                                                self.values)

    def _write(self) -> None:
        from assay.plan.reports import write_reports

        write_reports(self.report, self.run_dir, self.store_url)
        self._emit("finished", status=self.report.status, exit_code=self.report.exit_code,
                   report=str(self.run_dir / "report.html"))

    def _emit(self, event: str, **data: Any) -> None:
        if self.options.on_event is not None:
            try:
                self.options.on_event(event, data)
            except Exception:  # a broken progress display never stops the night
                pass


def absolute_sqlite(url: str | None) -> str | None:
    """A relative SQLite path is relative to where `assay plan run` was started, not to each
    step's directory: make it absolute before steps run elsewhere."""
    prefix = "sqlite:///"
    if url is None or not url.startswith(prefix) or url.startswith(prefix + "/") or url == prefix + ":memory:":
        return url
    return prefix + str(Path(url[len(prefix):]).resolve())


def fires_on(expression: str, when: datetime) -> bool:
    """Whether a cron expression fires at some minute of `when`'s day."""
    start = when.replace(hour=0, minute=0, second=0, microsecond=0)
    nxt = croniter(expression, start.replace(microsecond=0) - _minute()).get_next(datetime)
    return bool(nxt.date() == start.date())


def _minute() -> Any:
    from datetime import timedelta

    return timedelta(seconds=1)


_ORDER = ["passed", "skipped", "warning", "failed", "aborted", "error"]


def _worst(statuses: list[Any]) -> Any:
    ranked = [s for s in statuses if s in _ORDER]
    if not ranked:
        return "passed"
    worst = max(ranked, key=_ORDER.index)
    if worst == "skipped" and all(s == "skipped" for s in ranked):
        return "skipped"
    return "passed" if worst == "skipped" else worst


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_.=," else "_" for c in name)


def _keep_attempt(step_dir: Path, n: int) -> None:
    """Move an earlier attempt's files aside (attempt-N/) so the last attempt's are the step's."""
    target = step_dir / f"attempt-{n}"
    target.mkdir(exist_ok=True)
    for item in step_dir.iterdir():
        if item.name.startswith("attempt-"):
            continue
        shutil.move(str(item), str(target / item.name))


def run_plan(loaded: LoadedPlan, options: RunOptions | None = None) -> PlanReport:
    return PlanRunner(loaded, options).run()


__all__ = ["PlanRunner", "RunOptions", "fires_on", "run_plan"]
