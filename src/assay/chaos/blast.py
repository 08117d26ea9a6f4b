"""Blast radius: how far a fault reaches, and the limit an experiment (or the monkey) declares.

Levels are the plan's four, ordered: SINGLE_REQUEST < SINGLE_SERVICE < SERVICE_CLUSTER <
ENTIRE_SYSTEM. Each fault has a level by what it touches: a proxy toxic or one process or one
namespace host is SINGLE_SERVICE, a command-line pattern is SERVICE_CLUSTER (it may match
several services), host-wide stress and disk fill are ENTIRE_SYSTEM (on one box every service
shares the host), an in-process fault has its own `blast_radius`.

A limit has a level, `max_targets` (distinct targets hit at once) and `max_fraction` (the share
of a declared `population` of targets hit at once). Pre-flight refuses an experiment whose planned
faults exceed it; at injection, a target that resolves to more processes than `max_targets`
is refused too (a pattern can match more than planned).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from assay.errors import UsageError

LEVELS = ("SINGLE_REQUEST", "SINGLE_SERVICE", "SERVICE_CLUSTER", "ENTIRE_SYSTEM")
HOST_WIDE = ("stress.cpu", "stress.memory", "stress.io", "memory.leak", "disk.fill", "clock.offset", "io.fault")


@dataclass
class BlastLimit:
    level: str = "ENTIRE_SYSTEM"
    max_targets: int | None = None
    max_fraction: float | None = None
    population: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, raw: Any, where: str) -> BlastLimit:
        """From `"SINGLE_SERVICE"` or `{level, max_targets, max_fraction, population}`."""
        if isinstance(raw, str):
            raw = {"level": raw}
        if not isinstance(raw, Mapping):
            raise UsageError(f"{where}: expected a level ({', '.join(LEVELS)}) or a mapping with level, max_targets, "
                             "max_fraction, population")
        unknown = set(raw) - {"level", "max_targets", "max_fraction", "population"}
        if unknown:
            raise UsageError(f"{where}: unknown keys {sorted(unknown)}; expected level, max_targets, max_fraction, population")
        level = str(raw.get("level", "ENTIRE_SYSTEM")).upper()
        if level not in LEVELS:
            raise UsageError(f"{where}.level: expected one of {', '.join(LEVELS)}, got {raw.get('level')!r}")
        limit = cls(level=level)
        if raw.get("max_targets") is not None:
            if not isinstance(raw["max_targets"], int) or isinstance(raw["max_targets"], bool) or raw["max_targets"] < 1:
                raise UsageError(f"{where}.max_targets: expected a whole number >= 1, got {raw['max_targets']!r}")
            limit.max_targets = raw["max_targets"]
        if raw.get("max_fraction") is not None:
            value = raw["max_fraction"]
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 < value <= 1:
                raise UsageError(f"{where}.max_fraction: expected a share in (0, 1], got {value!r}")
            limit.max_fraction = float(value)
            if not raw.get("population"):
                raise UsageError(f"{where}.population: max_fraction needs the list of targets it is a fraction of")
        if raw.get("population") is not None:
            if not isinstance(raw["population"], list) or not all(isinstance(t, str) for t in raw["population"]):
                raise UsageError(f"{where}.population: expected a list of target names")
            limit.population = list(raw["population"])
        return limit

    def as_dict(self) -> dict[str, Any]:
        return {"level": self.level, "max_targets": self.max_targets, "max_fraction": self.max_fraction,
                "population": self.population}


def level_of(kind: str, fault: str | None, target: Any, params: Mapping[str, Any]) -> str:
    """The blast-radius level of one planned injection."""
    if kind == "toxic":
        return "SINGLE_SERVICE"
    if fault == "inprocess":
        return str(params.get("blast_radius", "SINGLE_SERVICE")).upper()
    if fault in HOST_WIDE:
        return "ENTIRE_SYSTEM"
    if isinstance(target, str) and target.startswith("pattern:"):
        return "SERVICE_CLUSTER"
    return "SINGLE_SERVICE"


def rank(level: str) -> int:
    return LEVELS.index(level)


def violations(limit: BlastLimit, items: Iterable[tuple[str, str, str]]) -> list[str]:
    """Problems with planned injections `(label, level, target)` that may be active at once."""
    out: list[str] = []
    items = list(items)
    for label, level, _target in items:
        if rank(level) > rank(limit.level):
            out.append(f"{label}: blast radius {level} exceeds the declared {limit.level}")
    targets = {t for _label, _level, t in items}
    if limit.max_targets is not None and len(targets) > limit.max_targets:
        out.append(f"{len(targets)} distinct targets ({', '.join(sorted(targets))}) exceed max_targets {limit.max_targets}")
    if limit.max_fraction is not None and limit.population:
        share = len(targets & set(limit.population)) / len(limit.population)
        outside = targets - set(limit.population)
        if outside:
            out.append(f"targets outside the declared population: {', '.join(sorted(outside))}")
        if share > limit.max_fraction:
            out.append(f"{share:.0%} of the population targeted, above max_fraction {limit.max_fraction:.0%}")
    return out


def check_processes(limit: BlastLimit | None, fault: str, target: Any) -> None:
    """At injection: a process target must not resolve to more processes than max_targets."""
    if limit is None or limit.max_targets is None or not fault.startswith("process."):
        return
    from assay.faults.targets import resolve_processes

    try:
        count = len(resolve_processes(target))
    except Exception:
        return  # the fault itself reports a bad target
    if count > limit.max_targets:
        raise BlastRadiusExceeded(f"{fault} on {target}: matches {count} processes, above the blast radius's "
                                  f"max_targets {limit.max_targets}; refused")


class BlastRadiusExceeded(Exception):
    """An injection would reach further than the declared blast radius."""
