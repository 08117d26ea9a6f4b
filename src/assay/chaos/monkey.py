"""`assay chaos monkey`: at each interval, with a probability, one random fault from an allowed
catalogue on one random allowed target, held for its duration, then reverted.

Every safety guard applies: business hours only if asked (9-17 on weekdays in a timezone), the
blast radius (a fault whose level or reach exceeds it is never picked), the per-target lock (a
target another experiment holds is skipped), the steady state (the guard probe must pass before
a fault goes in) and the guard probe while it is in (a miss reverts at once and stops the
monkey, exit 2). The choices come from one `random.Random(seed)`: the same seed and clock give
the same faults on the same targets. Ctrl-C / SIGTERM revert what is in and stop.

A fault the monkey tried and could not inject (the target is gone, the proxy API is down, no
permission) is outcome `failed`; a fault that was due but held back for safety is `unsteady` (the
steady-state probe failed), `locked` (another experiment holds the target) or `refused` (no fault
fits the blast radius). None of them tested anything. A run in which every due fault ended so
tested nothing, so it must not look like success: exit 2, as `assay chaos run` exits for an
experiment that failed or was aborted (64 is for a mistake found before anything runs, 70 for a
bug in assay; a refused injection is neither). A run with some faults injected and some not exits
1 (passed with warnings): it tested something, but less than it was asked to. The summary line
gives the counts, each reason apart. A run in which no fault was due (every roll missed, closed
hours) or a dry run exits 0.

    interval: 5m            # one decision per interval
    probability: 0.05       # chance a decision injects
    business_hours: {timezone: Europe/Paris}        # 09:00-17:00, Monday-Friday unless given
    blast_radius: {level: SINGLE_SERVICE, max_targets: 1}
    targets: {worker: "pattern:courier-worker", db: "proxy:db"}
    guard: {type: probe, name: ready, tolerance: true, provider: {type: assay, func: http, arguments: {url: ...}}}
    faults:
      - {name: pause worker, fault: process.pause, targets: [worker], duration: 20s}
      - {name: slow db, toxic: latency, targets: [db], attributes: {latency: 1500}, duration: 30s}
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from datetime import time as dtime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator, model_validator

from assay.chaos import blast
from assay.chaos.assay_provider import AssayContext, run_assay
from assay.chaos.providers import ActivityFailed, run_provider
from assay.chaos.tolerance import within
from assay.config import StrictModel, load_config
from assay.errors import ExitCode
from assay.faults.model import Seconds

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_STOP = threading.Event()


# A fault was due and did not go in: the outcome and how the summary counts it.
NOT_INJECTED = {
    "failed": "injection(s) failed",
    "unsteady": "held back: steady state not met",
    "locked": "held back: target locked",
    "refused": "refused: none fits the blast radius",
}


def _real_clock() -> datetime:
    return datetime.now(UTC)


def _real_sleep(seconds: float) -> bool:
    return _STOP.wait(seconds)


def stop() -> None:
    """Ask a running monkey (in this process) to stop at its next wait (a signal handler calls it)."""
    _STOP.set()


class BusinessHours(StrictModel):
    timezone: str = "UTC"
    start: dtime = dtime(9, 0)
    end: dtime = dtime(17, 0)
    days: list[str] = Field(default_factory=lambda: ["mon", "tue", "wed", "thu", "fri"])

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except Exception:
            raise ValueError(f"not a known timezone: {value!r}") from None
        return value

    @field_validator("days")
    @classmethod
    def _days(cls, value: list[str]) -> list[str]:
        bad = [d for d in value if d.lower()[:3] not in DAYS]
        if bad:
            raise ValueError(f"unknown day(s) {bad}; expected {', '.join(DAYS)}")
        return [d.lower()[:3] for d in value]

    def open_at(self, when: datetime) -> bool:
        local = when.astimezone(ZoneInfo(self.timezone))
        return DAYS[local.weekday()] in self.days and self.start <= local.time() < self.end


class CatalogueFault(StrictModel):
    name: str
    fault: str | None = Field(None, description="a fault type (assay fault types)")
    toxic: str | None = Field(None, description="a proxy toxic type")
    targets: list[str] = Field(min_length=1, description="names from the catalogue's targets")
    duration: Seconds = 30.0
    params: dict[str, Any] = Field(default_factory=dict, description="the fault's parameters")
    attributes: dict[str, Any] = Field(default_factory=dict, description="the toxic's attributes")
    api: str = "http://127.0.0.1:8474"

    @model_validator(mode="after")
    def _one_kind(self) -> CatalogueFault:
        if bool(self.fault) == bool(self.toxic):
            raise ValueError("give exactly one of fault (a fault type) or toxic (a proxy toxic type)")
        if self.fault:
            from assay.faults import registry
            from assay.faults.model import FaultError

            try:
                registry.get(self.fault)
            except FaultError as exc:  # as a located error, with the suggestion
                raise ValueError(exc.message) from None
        return self


class Catalogue(StrictModel):
    interval: Seconds = 300.0
    probability: float = Field(0.05, ge=0.0, le=1.0)
    business_hours: BusinessHours | None = None
    blast_radius: dict[str, Any] | str | None = None
    targets: dict[str, str] = Field(min_length=1)
    guard: dict[str, Any] | None = None
    guard_frequency: Seconds = 1.0
    faults: list[CatalogueFault] = Field(min_length=1)

    @model_validator(mode="after")
    def _known_targets(self) -> Catalogue:
        for f in self.faults:
            unknown = [t for t in f.targets if t not in self.targets]
            if unknown:
                raise ValueError(f"fault {f.name!r}: unknown target(s) {unknown}; known: {sorted(self.targets)}")
            if f.toxic and not all(self.targets[t].startswith("proxy:") for t in f.targets):
                raise ValueError(f"fault {f.name!r}: a toxic's targets must be proxy:NAME")
        return self

    def limit(self) -> blast.BlastLimit | None:
        return None if self.blast_radius is None else blast.BlastLimit.parse(self.blast_radius, "blast_radius")


def load_catalogue(path: str | Path) -> Catalogue:
    catalogue = load_config(path, Catalogue)
    catalogue.limit()  # a bad blast radius is an error before anything runs
    return catalogue


@dataclass
class Decision:
    at: datetime
    outcome: str  # closed | skipped | planned (--dry) | injected | refused | locked | unsteady | guard-tripped | failed
    fault: str | None = None
    target: str | None = None
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "outcome": self.outcome, "fault": self.fault, "target": self.target,
                "detail": self.detail}


@dataclass
class Monkey:
    """One monkey run; `clock` and `sleep` are injectable so tests need no real waiting."""

    catalogue: Catalogue
    seed: int | None = None
    clock: Callable[[], datetime] = _real_clock
    sleep: Callable[[float], bool] = _real_sleep  # returns True to stop
    dry: bool = False
    on_decision: Callable[[Decision], None] | None = None
    decisions: list[Decision] = field(default_factory=list)
    ctx: AssayContext = field(default_factory=AssayContext)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.limit = self.catalogue.limit()

    def _allowed(self) -> list[tuple[CatalogueFault, str]]:
        """(fault, target name) pairs within the blast radius."""
        pairs = []
        for f in self.catalogue.faults:
            for t in f.targets:
                target = self.catalogue.targets[t]
                level = blast.level_of("toxic" if f.toxic else "fault", f.fault, target, f.params)
                if self.limit is None or not blast.violations(self.limit, [(f.name, level, t)]):
                    pairs.append((f, t))
        return pairs

    def _record(self, decision: Decision) -> Decision:
        self.decisions.append(decision)
        if self.on_decision:
            self.on_decision(decision)
        return decision

    def _guard_ok(self) -> bool:
        probe = self.catalogue.guard
        if probe is None:
            return True
        try:
            output = run_provider(probe, {}, {}, self.ctx)
        except ActivityFailed:
            return False
        return within(probe.get("tolerance"), output, lambda t, v: False)

    def tick(self) -> Decision:
        """One decision: maybe inject one fault, hold it (watching the guard), revert it."""
        now = self.clock()
        hours = self.catalogue.business_hours
        if hours is not None and not hours.open_at(now):
            return self._record(Decision(now, "closed", detail="outside business hours"))
        roll = self.rng.random()
        if roll >= self.catalogue.probability:
            return self._record(Decision(now, "skipped", detail=f"roll {roll:.3f} >= {self.catalogue.probability}"))
        allowed = self._allowed()
        if not allowed:
            return self._record(Decision(now, "refused", detail="no fault of the catalogue fits the blast radius"))
        fault, target_name = self.rng.choice(allowed)
        target = self.catalogue.targets[target_name]
        label = fault.fault or f"toxic {fault.toxic}"
        if self.dry:
            return self._record(Decision(now, "planned", label, target, f"dry run: {fault.name} for {fault.duration:g}s not injected"))
        from assay.chaos.guards import GuardRefused, target_lock

        try:
            with target_lock(target_name):
                if not self._guard_ok():
                    return self._record(Decision(now, "unsteady", label, target, "steady state not met: nothing injected"))
                return self._hold(now, fault, target_name, target, label)
        except GuardRefused as exc:
            return self._record(Decision(now, "locked", label, target, exc.message))

    def _hold(self, now: datetime, fault: CatalogueFault, target_name: str, target: str, label: str) -> Decision:
        if fault.fault:
            provider = {"type": "assay", "func": "fault",
                        "arguments": {"fault": fault.fault, "target": target, "duration": fault.duration, **fault.params}}
        else:
            provider = {"type": "assay", "func": "toxic",
                        "arguments": {"api": fault.api, "proxy": target.split(":", 1)[1], "type": fault.toxic,
                                      "attributes": fault.attributes, "duration": fault.duration}}
        try:
            if fault.fault:
                blast.check_processes(self.limit, fault.fault, target)
            run_assay(provider, {}, {}, self.ctx)
        except (ActivityFailed, blast.BlastRadiusExceeded) as exc:
            self.ctx.revert_all()
            return self._record(Decision(now, "failed", label, target, str(exc)))
        try:
            left = fault.duration
            step = self.catalogue.guard_frequency if self.catalogue.guard else fault.duration
            while left > 0:
                if self.sleep(min(step, left)):
                    self.ctx.revert_all()
                    return self._record(Decision(now, "injected", label, target, f"{fault.name}: stopped early, reverted"))
                left -= step
                if self.catalogue.guard is not None and left > 0 and not self._guard_ok():
                    self.ctx.revert_all()
                    return self._record(Decision(now, "guard-tripped", label, target,
                                                 f"{fault.name}: the guard probe failed; reverted at once"))
        finally:
            self.ctx.revert_all()
        return self._record(Decision(now, "injected", label, target, f"{fault.name} for {fault.duration:g}s, reverted"))

    def run(self, *, ticks: int | None = None, until: datetime | None = None) -> int:
        """Decide every interval until `ticks` decisions, `until`, a stop, or a tripped guard; the exit code."""
        count = 0
        try:
            while ticks is None or count < ticks:
                if until is not None and self.clock() >= until:
                    break
                started = time.monotonic()
                decision = self.tick()
                count += 1
                if decision.outcome == "guard-tripped":
                    break
                if ticks is not None and count >= ticks:
                    break
                spent = time.monotonic() - started if self.clock is _real_clock else 0.0
                if self.sleep(max(0.0, self.catalogue.interval - spent)):
                    break
        finally:
            self.ctx.revert_all()
        return self.exit_code()

    def count(self, outcome: str) -> int:
        return sum(1 for d in self.decisions if d.outcome == outcome)

    def missed(self) -> int:
        """Decisions where a fault was due and none went in (failed, or held back for safety)."""
        return sum(self.count(outcome) for outcome in NOT_INJECTED)

    def exit_code(self) -> int:
        """2 a guard tripped or no due fault went in; 1 some did not; else 0 (module docstring)."""
        missed = self.missed()
        if self.count("guard-tripped") or (missed and not self.count("injected")):
            return int(ExitCode.GATE_FAILED)
        return int(ExitCode.WARNING if missed else ExitCode.OK)

    def summary(self) -> str:
        """The closing line: decisions, faults injected, those not injected and why, and why the exit code is not 0."""
        injected, missed, planned = self.count("injected"), self.missed(), self.count("planned")
        line = f"monkey: {len(self.decisions)} decisions, {injected} fault(s) injected and reverted"
        if planned:
            line += f", {planned} planned (dry run)"
        for outcome, words in NOT_INJECTED.items():
            if self.count(outcome):
                line += f", {self.count(outcome)} {words}"
        if self.count("guard-tripped"):
            return line + "; stopped by the guard"
        if missed and not injected:
            return line + "; no fault could be injected: nothing was tested"
        if missed:
            return line + f"; {missed} of {missed + injected} due fault(s) not injected"
        return line

