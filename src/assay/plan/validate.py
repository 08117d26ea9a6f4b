"""Read a plan file and find every mistake before anything runs, each with its line.

Beyond the schema (unknown keys and kinds, bad durations) this checks what needs the
whole plan: `needs` naming no stage, cycles in `needs`, conditions and step references
naming nothing, `${services.X}` naming no service, and time budgets that cannot fit (a
stage's steps planned longer than its timeout; a step longer than its own timeout).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assay.config import (
    ConfigError,
    ConfigIssue,
    KeyPath,
    detect_format,
    key_positions,
    parse_data,
    read_text,
    validate_data,
)
from assay.errors import UsageError
from assay.load.durations import format_duration
from assay.plan.model import (
    STEP_KINDS,
    STEP_MODELS,
    LoadStep,
    Plan,
    SampledStep,
    Service,
    SloStep,
    Stage,
    StepBase,
    TrendRecordStep,
    is_service_name,
)

_REF = re.compile(r"\$\{([^}]*)\}")
REF_ROOTS = ("services", "env", "matrix", "run", "steps")
Say = Callable[[KeyPath, str], None]


@dataclass
class LoadedPlan:
    """A validated plan with where it came from (for located errors at run time too)."""

    plan: Plan
    source: str
    text: str
    positions: dict[KeyPath, tuple[int, int]]

    @property
    def directory(self) -> Path:
        return Path(self.source).resolve().parent


def load_plan(path: str | Path) -> LoadedPlan:
    """Parse, validate and cross-check a plan file; ConfigError (exit 64) lists every problem."""
    p = Path(path)
    text = read_text(p)
    fmt = detect_format(p)
    data = parse_data(text, source=str(p), fmt=fmt)
    if data is None:
        data = {}
    positions = key_positions(text, fmt)
    try:
        plan = validate_data(data, Plan, source=str(p), positions=positions)
    except ConfigError as exc:
        raise ConfigError([_untagged(i, positions) for i in exc.issues]) from None
    loaded = LoadedPlan(plan, str(p), text, positions)
    issues = problems(loaded)
    if issues:
        raise ConfigError(issues)
    return loaded


_TAG = re.compile(r"Input tag '(.*)' found using 'kind' does not match any of the expected tags")


def _untagged(issue: ConfigIssue, positions: dict[KeyPath, tuple[int, int]]) -> ConfigIssue:
    """pydantic puts the step's kind into error paths (steps[0].run.typo); drop it, and say
    an unknown kind plainly with the closest one."""
    path = issue.path
    message = issue.message
    for i in range(len(path) - 2):
        if path[i] == "steps" and isinstance(path[i + 1], int) and path[i + 2] in STEP_KINDS:
            kind = str(path[i + 2])
            path = (*path[: i + 2], *path[i + 3 :])
            if message.startswith("unknown key"):
                key = str(path[-1])
                known = list(STEP_MODELS[kind].model_fields)
                close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
                message = f"unknown key {key!r} for a {kind} step" + (
                    f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(known)}")
            break
    m = _TAG.search(message)
    if m:
        path = (*path, "kind")
        message = f"unknown step kind {m.group(1)!r}{_hint(m.group(1), STEP_KINDS)}; expected one of {', '.join(STEP_KINDS)}"
    line, col = _position(path, positions)
    if line is None:
        line, col = issue.line, issue.column
    return ConfigIssue(issue.source, line, col, path, message)


def problems(loaded: LoadedPlan) -> list[ConfigIssue]:
    plan = loaded.plan
    out: list[ConfigIssue] = []

    def issue(path: KeyPath, message: str) -> None:
        line, col = _position(path, loaded.positions)
        out.append(ConfigIssue(loaded.source, line, col, path, message))

    for sname, svc in plan.services.items():
        _sampled_service(("services", sname), svc, issue)
    stages = plan.stages
    for name, stage in stages.items():
        for i, need in enumerate(stage.needs):
            if need not in stages:
                issue(("stages", name, "needs", i), f"needs {need!r}, which is no stage{_hint(need, stages)}")
            elif need == name:
                issue(("stages", name, "needs", i), "a stage cannot need itself")
        if stage.if_ is not None:
            for other in stage.if_.statuses():
                if other not in stages:
                    issue(("stages", name, "if", "status", other), f"no stage {other!r}{_hint(other, stages)}")
        _steps(plan, name, stage, issue)
        _samples(plan, name, stage, issue)
        _budget(name, stage, issue, loaded.directory)
        out += _declared_scenarios(name, stage, loaded.directory, issue)
    for cycle in _cycles(stages):
        issue(("stages", cycle[0], "needs"), "a cycle in needs: " + " -> ".join([*cycle, cycle[0]]))
    _references(loaded, issue)
    return out


def _steps(plan: Plan, name: str, stage: Stage, issue: Say) -> None:
    say = issue  # (path, message)
    seen: dict[str, int] = {}
    known = _step_names(plan)
    for i, step in enumerate(stage.steps):
        path: KeyPath = ("stages", name, "steps", i)
        if step.name in seen:
            say((*path, "name"), f"step {step.name!r} repeats step #{seen[step.name] + 1} of this stage")
        seen[step.name] = i
        if isinstance(step, SloStep | TrendRecordStep):
            for j, ref in enumerate(step.results):
                if not _looks_like_file(ref) and ref not in known and f"{name}.{ref}" not in known:
                    say((*path, "results", j), f"{ref!r} names no step (stage.step) and is not a file{_hint(ref, known)}")
        if isinstance(step, LoadStep) and step.rate is not None and step.iterations is not None:
            say((*path, "rate"), "rate and iterations cannot be combined")


def _samples(plan: Plan, name: str, stage: Stage, issue: Say) -> None:
    """`sample` must name services the plan starts: a url-only service has no process it knows."""
    for sname, svc in stage.services.items():
        _sampled_service(("stages", name, "services", sname), svc, issue)
    in_scope = {**plan.services, **stage.services}
    for i, step in enumerate(stage.steps):
        if not isinstance(step, SampledStep):
            continue
        for j, entry in enumerate(step.sample):
            path: KeyPath = ("stages", name, "steps", i, "sample", j)
            if not entry.strip():
                issue(path, "expected a service name, NAME=PID or re:PATTERN")
            elif is_service_name(entry):
                found = in_scope.get(entry.strip())
                if found is None:
                    issue(path, f"sample {entry!r}: no service {entry!r} runs during this stage"
                          + (_hint(entry, in_scope) or "; expected a service name, NAME=PID or re:PATTERN"))
                elif found.command is None:
                    issue(path, f"sample {entry!r}: the service is only checked by url, the plan has no process to "
                          "sample; use re:PATTERN or NAME=PID")
            elif "${" not in entry:
                from assay.observe.sampler import parse_target

                try:
                    parse_target(entry)
                except UsageError as exc:
                    issue(path, str(exc).replace("--sample", "sample"))


def _sampled_service(path: KeyPath, svc: Service, issue: Say) -> None:
    if svc.sample and svc.command is None:
        issue((*path, "sample"), "a service only checked by url has no process the plan knows to sample; "
              "sample it from a step instead: sample: ['re:PATTERN'] or ['NAME=PID']")


def _declared_scenarios(name: str, stage: Stage, plan_dir: Path, issue: Say) -> list[ConfigIssue]:
    """A load step's file that is missing, unreadable, or whose `scenario` declaration is not
    acceptance ids: found before the night (the step would fail with it at run time, exit 64)."""
    from assay.acceptance import load_file_scenarios

    out: list[ConfigIssue] = []
    for i, step in enumerate(stage.steps):
        if isinstance(step, LoadStep) and "${" not in step.target and "://" not in step.target:
            path = plan_dir / step.target
            if not path.is_file():
                issue(("stages", name, "steps", i, "target"), f"no such scenario file: {path}")
                continue
            try:
                load_file_scenarios(path)
            except ConfigError as exc:
                out += exc.issues
            except UsageError as exc:
                issue(("stages", name, "steps", i, "target"), str(exc))
    return out


def _looks_like_file(ref: str) -> bool:
    return "/" in ref or ref.endswith((".json", ".ndjson", ".csv", ".gz", ".xml"))


def _step_names(plan: Plan) -> set[str]:
    return {f"{s}.{step.name}" for s, stage in plan.stages.items() for step in stage.steps}


def planned_seconds(stage: Stage, plan_dir: Path | None = None) -> float:
    """What the stage's steps are planned to take: each step's `duration` (for a load step
    without one, what its YAML/JSON scenario file runs), times its attempts."""
    total = 0.0
    for step in stage.steps:
        if getattr(step, "background", False):
            continue
        attempts = step.retry.attempts if step.retry else 1
        total += step_seconds(step, plan_dir) * attempts
    return total


def step_seconds(step: StepBase, plan_dir: Path | None = None) -> float:
    if step.duration is not None:
        return step.duration
    if isinstance(step, LoadStep) and plan_dir is not None and "${" not in step.target and "://" not in step.target:
        return scenario_file_seconds(plan_dir / step.target)
    return 0.0


def scenario_file_seconds(path: Path) -> float:
    """How long a YAML/JSON load scenario runs by its own options (k6's: scenarios with startTime
    and duration or stages, else options.duration or options.stages); 0 when it cannot tell."""
    from assay.load.durations import parse_duration

    if path.suffix.lower() not in (".yaml", ".yml", ".json") or not path.is_file():
        return 0.0
    try:
        data = parse_data(read_text(path), source=str(path), fmt=detect_format(path))
        options = (data or {}).get("options") or {}

        def run_of(spec: dict[str, Any]) -> float:
            if spec.get("duration") is not None:
                return parse_duration(spec["duration"])
            return sum(parse_duration(s.get("duration", 0)) for s in spec.get("stages") or [])

        scenarios = options.get("scenarios") or {}
        if scenarios:
            return max(parse_duration(sc.get("startTime", 0)) + run_of(sc) for sc in scenarios.values())
        return run_of(options)
    except (ValueError, AttributeError, TypeError, UsageError):
        return 0.0  # the load step itself reports a bad file, with its line


def _budget(name: str, stage: Stage, issue: Say, plan_dir: Path | None = None) -> None:
    say = issue
    for i, step in enumerate(stage.steps):
        if step.duration is not None and step.timeout is not None and step.duration > step.timeout:
            say(("stages", name, "steps", i, "timeout"),
                f"step {step.name!r} runs {format_duration(step.duration)} but its timeout is {format_duration(step.timeout)}")
    if stage.timeout is None:
        return
    total = planned_seconds(stage, plan_dir)
    if total > stage.timeout:
        parts = ", ".join(
            f"{s.name} {format_duration(step_seconds(s, plan_dir) * (s.retry.attempts if s.retry else 1))}"
            for s in stage.steps if step_seconds(s, plan_dir) and not getattr(s, "background", False)
        )
        say(("stages", name, "timeout"),
            f"the steps take {format_duration(total)} ({parts}) but the stage's timeout is {format_duration(stage.timeout)}: "
            "the budget cannot fit")


def _cycles(stages: dict[str, Stage]) -> list[list[str]]:
    """Each cycle once, starting at its first stage in file order."""
    found: list[list[str]] = []
    seen_sets: set[frozenset[str]] = set()
    state: dict[str, int] = {}  # 1 visiting, 2 done
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for need in stages[node].needs:
            if need not in stages or need == node:
                continue
            if state.get(need) == 1:
                cycle = stack[stack.index(need):]
                key = frozenset(cycle)
                if key not in seen_sets:
                    seen_sets.add(key)
                    found.append(cycle)
            elif state.get(need) is None:
                visit(need)
        stack.pop()
        state[node] = 2

    for name in stages:
        if state.get(name) is None:
            visit(name)
    return found


def _references(loaded: LoadedPlan, issue: Say) -> None:
    """`${services.NAME...}`, `${matrix.KEY}` and `${steps.X}` must name something that exists."""
    plan = loaded.plan
    say = issue
    global_services = set(plan.services)

    def check(value: object, path: KeyPath, services: set[str], matrix: set[str]) -> None:
        if isinstance(value, str):
            for m in _REF.finditer(value):
                parts = m.group(1).strip().split(".")
                root = parts[0]
                if root not in REF_ROOTS:
                    say(path, f"${{{m.group(1)}}}: unknown reference; expected one of {', '.join(REF_ROOTS)}")
                elif root == "services" and (len(parts) < 2 or parts[1] not in services):
                    svc = parts[1] if len(parts) > 1 else ""
                    say(path, f"${{{m.group(1)}}}: no service {svc!r}{_hint(svc, services)}")
                elif root == "services" and len(parts) > 2 and parts[2] not in ("url", "port", "host", "log", "pid"):
                    say(path, f"${{{m.group(1)}}}: a service has url, port, host, pid and log")
                elif root == "matrix" and (len(parts) < 2 or parts[1] not in matrix):
                    say(path, f"${{{m.group(1)}}}: the stage has no matrix key {parts[1] if len(parts) > 1 else ''!r}")
        elif isinstance(value, dict):
            for k, v in value.items():
                check(v, (*path, k), services, matrix)
        elif isinstance(value, list):
            for i, v in enumerate(value):
                check(v, (*path, i), services, matrix)

    for name, svc in plan.services.items():
        check(svc.model_dump(by_alias=True), ("services", name), global_services, set())
    for sname, stage in plan.stages.items():
        matrix = set(stage.matrix or {})
        services = global_services | set(stage.services)
        for name, svc in stage.services.items():
            check(svc.model_dump(by_alias=True), ("stages", sname, "services", name), services, matrix)
        for i, step in enumerate(stage.steps):
            check(step.model_dump(by_alias=True, exclude_defaults=True), ("stages", sname, "steps", i), services, matrix)
    for i, note in enumerate(plan.notifications):
        check(note.model_dump(by_alias=True), ("notifications", i), global_services, set())


def _hint(name: str, known: object) -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)  # type: ignore[call-overload]
    return f"; did you mean {close[0]!r}?" if close else ""


def _position(path: KeyPath, positions: dict[KeyPath, tuple[int, int]]) -> tuple[int | None, int | None]:
    for n in range(len(path), -1, -1):
        if path[:n] in positions:
            return positions[path[:n]]
    return None, None


__all__ = ["LoadedPlan", "load_plan", "planned_seconds", "problems"]
