"""The executor interface (k6's lib/executor): one class per executor, one file each.

An executor owns *when* iterations start and *how many VUs* run them; everything else
(creating VUs, running one iteration, counting it, tags, errors) lives in the
`ScenarioContext` the runner hands it. That keeps every executor short, and lets a
different backend (processes now, Ray later) run the same executors unchanged.
"""

from __future__ import annotations

import asyncio
import math
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from assay.load.durations import config_duration_problem, parse_duration
from assay.load.limits import MAX_ITERATIONS, MAX_RATE_PER_S, MAX_VUS, number_problem
from assay.load.scenario import ScenarioError


def check_duration(value: Any) -> Any:
    """A pydantic field validator: `value` must be a k6 duration ('30s', '1m30s', '500ms', seconds)."""
    problem = config_duration_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


class K6Model(BaseModel):
    """The base of k6 option models: as assay.config.StrictModel (unknown keys are errors), without
    importing the config readers, which a Python scenario never needs."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)  # built on first use: a Python file never validates with it


Duration = Annotated[str | float | int, Field(description="k6 duration: '30s', '1m30s', '500ms', or seconds")]


class StageSpec(K6Model):
    """One stage of a ramping executor: reach `target` over `duration` (k6's target is a whole number)."""

    duration: Duration
    target: int = Field(ge=0)

    _check_duration = field_validator("duration")(check_duration)


class ScenarioSpec(K6Model):
    """The options every k6 scenario takes (k6's BaseConfig), with k6's names and defaults.

    Each executor subclasses it with its own options (`Executor.Options`); the YAML model is the
    discriminated union of those (assay.load.spec), and Python files are checked against the same
    fields (`check_keys`), so the two paths take the same keys.
    """

    executor: str
    startTime: Duration = "0s"
    gracefulStop: Duration = "30s"
    exec: str = Field(default="default", description="the flow to run: a key of `flows`, or 'default'")
    env: dict[str, str] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)
    options: dict[str, Any] | None = Field(default=None, description="k6's per-scenario options (e.g. browser); accepted, not used")

    _check_base_durations = field_validator("startTime", "gracefulStop")(check_duration)

    @model_validator(mode="before")
    @classmethod
    def _no_other_executors_keys(cls, data: Any) -> Any:
        """A key of another executor, named the way k6 users think of it (a key of none is an unknown key)."""
        if not isinstance(data, dict):
            return data
        from assay.load.executors import EXECUTORS

        own = set(cls.model_fields)
        elsewhere = set().union(*(c.Options.model_fields for c in EXECUTORS.values()))
        wrong = sorted({k for k, v in data.items() if v is not None and k in elsewhere} - own)
        if wrong:
            takes = ", ".join(sorted(own))
            raise PydanticCustomError("invalid_scenario", f"executor {data.get('executor')} does not take {', '.join(wrong)} (it takes: {takes})")
        return data

    @model_validator(mode="after")
    def _required_keys_given(self) -> ScenarioSpec:
        missing = sorted(k for k in required_keys(type(self)) if getattr(self, k) is None)
        if missing:
            raise PydanticCustomError("invalid_scenario", f"executor {self.executor} needs {', '.join(missing)}")
        return self


class FixedVUsSpec(ScenarioSpec):
    """The executors that run a fixed pool of VUs (constant-vus and the two iteration executors): k6's `vus`, default 1."""

    vus: int = Field(default=1, ge=0)


class IterationsSpec(FixedVUsSpec):
    """per-vu-iterations and shared-iterations, which k6 gives the same keys and defaults (1 VU, 1 iteration, 10m).

    The executors differ in what `iterations` counts (per VU, or shared by the pool), not in their options."""

    iterations: int = Field(default=1, ge=0)
    maxDuration: Duration = "10m"

    _check_iterations_durations = field_validator("maxDuration")(check_duration)


def required(**kwargs: Any) -> Any:
    """A k6 option without a default: None until given, and a located "needs" error when it is not."""
    return Field(default=None, json_schema_extra={"required_by_k6": True}, **kwargs)


def required_keys(model: type[BaseModel]) -> list[str]:
    """The options of `model` declared with `required()`."""
    return [k for k, f in model.model_fields.items() if isinstance(f.json_schema_extra, dict) and f.json_schema_extra.get("required_by_k6")]


COMMON_KEYS = frozenset(ScenarioSpec.model_fields)


@dataclass(frozen=True)
class Segment:
    """The share of the load one worker runs: worker `index` of `count` equal stripes.

    Integers (VUs, iterations) are split so the shares add up exactly; arrival-rate
    iterations are striped (global iteration i belongs to worker i % count), as k6's
    execution segments do, so a stall on one worker cannot shift another's schedule.
    """

    index: int = 0
    count: int = 1

    def scale(self, n: int) -> int:
        lo = (n * self.index) // self.count
        hi = (n * (self.index + 1)) // self.count
        return hi - lo

    def offset(self, n: int) -> int:
        """How many of `n` belong to workers before this one (for global VU ids)."""
        return (n * self.index) // self.count

    def owns(self, i: int) -> bool:
        return i % self.count == self.index

    def share_by(self, n: int, weight: int) -> tuple[int, int]:
        """(offset, count) of this worker's share of `n` in proportion to its share of `weight`
        (shared-iterations: iterations follow the VUs, so a worker without VUs gets none and
        drops none; shares still add up to `n` exactly)."""
        lo_w = self.offset(weight)
        hi_w = lo_w + self.scale(weight)
        lo = n * lo_w // weight
        return lo, n * hi_w // weight - lo

    def stripe(self, n: int) -> tuple[int, int] | None:
        """(first, step) of the global iterations this worker starts when only the workers that
        hold some of `n` VUs take stripes (arrival-rate with fewer VUs than workers); None when this
        one holds none (it would otherwise drop every iteration of its stripe)."""
        owners = [j for j in range(self.count) if Segment(j, self.count).scale(n) > 0]
        if self.index not in owners:
            return None
        return owners.index(self.index), len(owners)

    @property
    def full(self) -> bool:
        return self.count == 1


@dataclass
class Stage:
    duration: float
    target: float


@dataclass
class ExecutorConfig:
    """Options common to every executor, plus the executor's own (already validated)."""

    name: str
    executor: str
    start_time: float = 0.0
    graceful_stop: float = 30.0
    exec: str = "default"
    env: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)


class VUHandle(Protocol):
    """What executors see of a VU (assay.load.vu.VU)."""

    id: int
    iteration: int
    lateness: float


class ScenarioContext(Protocol):
    """What the runner gives an executor."""

    name: str
    segment: Segment

    @property
    def aborted(self) -> bool: ...

    def now(self) -> float:
        """Seconds since this scenario started (perf_counter based)."""
        ...

    def acquire_vu(self, *, create: bool = True) -> Any:
        """A free VU of this scenario (a new one while under max_vus), or None."""
        ...

    def release_vu(self, vu: Any) -> None: ...

    async def run_iteration(self, vu: Any, *, lateness: float = -1.0) -> bool:
        """Run one iteration on `vu`; False if it raised (already counted)."""
        ...

    async def iterate(self, vu: Any, end: float, flags: dict[str, bool] | None = None) -> None:
        """Run iterations on `vu` back to back until scenario time `end`, an abort, or `flags["stop"]`."""
        ...

    def dropped(self, n: int = 1) -> None: ...

    async def wait_abort(self, timeout: float) -> bool:
        """Sleep up to `timeout` s; True if the run was aborted meanwhile."""
        ...


class Executor(ABC):
    """One k6 executor. Subclasses set `name` and `Options` (their k6 options), parse their params and implement `run`."""

    name: ClassVar[str]
    # the executor's k6 options (names, types, defaults): the one declaration YAML and Python files are checked against
    Options: ClassVar[type[ScenarioSpec]] = ScenarioSpec

    def __init__(self, config: ExecutorConfig, segment: Segment) -> None:
        self.config = config
        self.segment = segment

    @classmethod
    def keys(cls) -> frozenset[str]:
        """Every option name this executor takes besides the common ones."""
        return frozenset(cls.Options.model_fields) - COMMON_KEYS

    @classmethod
    def default(cls, key: str) -> Any:
        """k6's default for one of this executor's options (None: the option is required)."""
        return cls.Options.model_fields[key].get_default(call_default_factory=True)

    @classmethod
    @abstractmethod
    def parse_params(cls, raw: Mapping[str, Any], where: str) -> dict[str, Any]:
        """Validate the executor's own keys; defaults as in k6."""

    @abstractmethod
    def max_vus(self) -> int:
        """VUs this worker's share may use at most (initialised up front where k6 does)."""

    def initial_vus(self) -> int:
        return self.max_vus()

    @abstractmethod
    def duration(self) -> float:
        """Planned seconds, without startTime and without gracefulStop (0 if open-ended)."""

    @abstractmethod
    async def run(self, ctx: ScenarioContext) -> None:
        """Start iterations until done; return once every iteration it started has ended."""

    # -- shared helpers ---------------------------------------------------------------------------------

    async def finish(self, ctx: ScenarioContext, tasks: set[asyncio.Task[Any]], end: float) -> None:
        """Give running iterations until `end + gracefulStop`, then interrupt the rest."""
        if tasks:
            hard = end + self.config.graceful_stop
            while tasks:
                remaining = hard - ctx.now()
                if ctx.aborted:
                    remaining = min(remaining, ABORT_GRACE)
                if remaining <= 0:
                    break
                done, _ = await asyncio.wait(tasks, timeout=min(remaining, 0.25))
                tasks.difference_update(done)
                if ctx.aborted and hard - ctx.now() > ABORT_GRACE:
                    hard = ctx.now() + ABORT_GRACE
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)


ABORT_GRACE = 3.0


def sleep_until(ctx: ScenarioContext, t: float) -> Awaitable[bool]:
    return ctx.wait_abort(max(0.0, t - ctx.now()))


# -- parsing helpers ------------------------------------------------------------------------------------


def check_keys(raw: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    """A located error for the first key neither the executor nor every scenario takes."""
    from difflib import get_close_matches

    for key in raw:
        if key not in allowed and key not in COMMON_KEYS:
            near = get_close_matches(key, sorted(allowed | COMMON_KEYS), n=1)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            raise ScenarioError(f"{where}: unknown option {key!r} for executor {raw.get('executor')!r}{hint}")


_VU_KEYS = {"vus", "preAllocatedVUs", "maxVUs", "startVUs"}


def get_int(raw: Mapping[str, Any], key: str, default: int | None, where: str, *, minimum: int = 0) -> int:
    value = raw.get(key, default)
    if value is None:
        raise ScenarioError(f"{where}.{key}: required (a whole number)")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or int(value) != value:
        raise ScenarioError(f"{where}.{key}: expected a whole number, got {value!r}")
    if value < minimum:
        raise ScenarioError(f"{where}.{key}: must be at least {minimum}, got {value!r}")
    maximum = MAX_VUS if key in _VU_KEYS else MAX_ITERATIONS
    if value > maximum:
        raise ScenarioError(f"{where}.{key}: {int(value)} is above the limit of {maximum}")
    return int(value)


def get_number(
    raw: Mapping[str, Any], key: str, default: float | None, where: str, *, minimum: float = 0.0, maximum: float = MAX_RATE_PER_S
) -> float:
    value = raw.get(key, default)
    if value is None:
        raise ScenarioError(f"{where}.{key}: required (a number)")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScenarioError(f"{where}.{key}: expected a number, got {value!r}")
    problem = number_problem(float(value), what=f"{where}.{key}", minimum=minimum, maximum=maximum)
    if problem:
        raise ScenarioError(problem)
    return float(value)


def get_duration(raw: Mapping[str, Any], key: str, default: str | float | None, where: str, *, minimum: float = 0.0) -> float:
    value = raw.get(key, default)
    if value is None:
        raise ScenarioError(f"{where}.{key}: required (a duration such as '30s')")
    try:
        seconds = parse_duration(value, what=f"{where}.{key}")
    except ValueError as exc:
        raise ScenarioError(str(exc)) from None
    if seconds < minimum:
        raise ScenarioError(f"{where}.{key}: must be at least {minimum:g}s, got {value!r}")
    return seconds


def get_stages(raw: Mapping[str, Any], where: str, *, required: bool = True) -> list[Stage]:
    stages = raw.get("stages")
    if stages is None:
        if required:
            raise ScenarioError(f"{where}.stages: required (a list of {{duration, target}})")
        return []
    if not isinstance(stages, list) or (required and not stages):
        raise ScenarioError(f"{where}.stages: expected a non-empty list of {{duration, target}}")
    out: list[Stage] = []
    for i, st in enumerate(stages):
        w = f"{where}.stages[{i}]"
        if not isinstance(st, Mapping):
            raise ScenarioError(f"{w}: expected {{duration, target}}, got {st!r}")
        extra = set(st) - {"duration", "target"}
        if extra:
            raise ScenarioError(f"{w}: unknown key {sorted(extra)[0]!r}; a stage has duration and target")
        target = get_number(st, "target", None, w, maximum=math.inf)
        if target != int(target):
            # k6's stage target is an integer (VUs, or iterations per timeUnit): 2.5 is rejected there too
            raise ScenarioError(f"{w}.target: expected a whole number, got {target!r}")
        out.append(Stage(get_duration(st, "duration", None, w), target))
    return out


def stages_duration(stages: list[Stage]) -> float:
    return sum(s.duration for s in stages)


def interpolate(stages: list[Stage], start: float, t: float) -> float:
    """The stage target at time t (linear within each stage, from `start` at t=0)."""
    prev = start
    elapsed = 0.0
    for st in stages:
        if t <= elapsed + st.duration:
            if st.duration <= 0:
                return st.target
            frac = (t - elapsed) / st.duration
            return prev + (st.target - prev) * frac
        elapsed += st.duration
        prev = st.target
    return prev


Clock = Callable[[], float]
perf = time.perf_counter
