"""Safety guards around an experiment (issue 13's list, its numbers as defaults):

- one experiment at a time per target: an flock on a file named after the target
  (released by the kernel if assay dies, so a SIGKILL never leaves a stale lock);
- the planned duration (pauses plus fault durations) below a cap, 30 minutes unless overridden;
- during the method, a guard probe run at a frequency: when availability (share of probes
  within tolerance) falls below `min_availability` or the error rate exceeds `max_error_rate`,
  the run is aborted and every injected fault reverted at once;
- the same limits, plus `max_p95` (latency), on the background load's segments during the
  method (each judged once it holds `min_requests` requests);
- a declared blast radius (blast.py) that the planned faults must not exceed.

Declared in the experiment's assay extension (Chaos Toolkit ignores it):

    "extensions": [{"name": "assay", "safety": {"target": "courier", "max_duration": "30m",
        "min_availability": 0.5, "max_error_rate": 0.5, "min_samples": 4, "frequency": 1,
        "probe": {"type": "probe", "name": "health", "tolerance": 200, "provider": {...}}}}]
"""

from __future__ import annotations

import fcntl
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assay.chaos.blast import BlastLimit, violations
from assay.errors import AssayError, ExitCode, UsageError

DEFAULT_MAX_DURATION_S = 30 * 60.0


class GuardRefused(AssayError):
    """A pre-flight guard refused to start the experiment (exit 2, nothing injected)."""

    exit_code = ExitCode.GATE_FAILED


@dataclass
class SafetySpec:
    target: str | None = None
    max_duration: float = DEFAULT_MAX_DURATION_S
    min_availability: float = 0.5
    max_error_rate: float = 0.5
    min_samples: int = 4
    frequency: float = 1.0
    probe: dict[str, Any] | None = None
    max_p95_ms: float | None = None
    min_requests: int = 20
    blast: BlastLimit | None = None
    declared: bool = False  # a safety block is in the experiment: the load guard acts on its limits

    KEYS = ("target", "max_duration", "min_availability", "max_error_rate", "min_samples", "frequency", "probe",
            "max_p95", "min_requests", "blast_radius")


def _seconds(value: Any, key: str) -> float:
    from assay.faults.model import parse_duration

    try:
        seconds = float(parse_duration(value))
    except Exception:
        seconds = -1.0
    if not 0 < seconds < float("inf"):
        raise UsageError(f"extensions.assay.safety.{key}: expected seconds or a duration such as 30m, got {value!r}")
    return seconds


def _count(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise UsageError(f"extensions.assay.safety.{key}: expected a whole number, 0 or more, got {value!r}")
    return value


def spec_from(experiment: Mapping[str, Any]) -> SafetySpec:
    spec = SafetySpec()
    for ext in experiment.get("extensions") or []:
        if isinstance(ext, dict) and ext.get("name") == "assay" and isinstance(ext.get("safety"), dict):
            raw = ext["safety"]
            spec.declared = True
            unknown = set(raw) - set(SafetySpec.KEYS)
            if unknown:
                raise UsageError(f"extensions.assay.safety: unknown keys {sorted(unknown)}; "
                                 f"expected {', '.join(SafetySpec.KEYS)}")
            if "max_p95" in raw:
                spec.max_p95_ms = _seconds(raw["max_p95"], "max_p95") * 1000
            if "min_requests" in raw:
                spec.min_requests = _count(raw["min_requests"], "min_requests")
            if "blast_radius" in raw:
                spec.blast = BlastLimit.parse(raw["blast_radius"], "extensions.assay.safety.blast_radius")
            for key in ("max_duration", "frequency"):
                if key in raw:
                    setattr(spec, key, _seconds(raw[key], key))
            for key in ("min_availability", "max_error_rate"):
                if key in raw:
                    value = raw[key]
                    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
                        raise UsageError(f"extensions.assay.safety.{key}: expected a share between 0 and 1, got {value!r}")
                    setattr(spec, key, float(value))
            if "min_samples" in raw:
                spec.min_samples = _count(raw["min_samples"], "min_samples")
            if "target" in raw:
                spec.target = str(raw["target"])
            if "probe" in raw:
                if not isinstance(raw["probe"], dict) or "tolerance" not in raw["probe"]:
                    raise UsageError("extensions.assay.safety.probe: expected a probe with a tolerance")
                spec.probe = dict(raw["probe"])
    return spec


def planned_duration(experiment: Mapping[str, Any]) -> float:
    """Pauses plus the durations of assay faults and toxics: what the experiment means to take at least."""
    from assay.faults.model import parse_duration

    total = 0.0
    for section in ("method", "rollbacks"):
        for act in experiment.get(section) or []:
            if not isinstance(act, dict):
                continue
            for value in (act.get("pauses") or {}).values():
                if isinstance(value, (int, float)):
                    total += float(value)
            provider = act.get("provider") or {}
            if provider.get("type") == "assay" and "duration" in (provider.get("arguments") or {}):
                try:
                    total += float(parse_duration(provider["arguments"]["duration"]))
                except Exception:
                    pass
    return total


def lock_dir() -> Path:
    path = Path(os.environ.get("ASSAY_CHAOS_LOCK_DIR") or f"/tmp/assay-chaos-{os.getuid()}")
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


@contextmanager
def target_lock(target: str, directory: Path | None = None) -> Iterator[Path]:
    """Hold the target's lock for the run; refuse at once if another experiment holds it."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", target)[:100] or "target"
    path = (directory or lock_dir()) / f"{safe}.lock"
    fh = open(path, "a+")  # noqa: SIM115 - held open for the lock's lifetime
    try:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            raise GuardRefused(f"target {target!r} is locked by another experiment ({holder}); one experiment at a time per target") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}")
        fh.flush()
        yield path
    finally:
        fh.close()


def preflight(experiment: Mapping[str, Any], spec: SafetySpec, max_duration_override: float | None = None) -> None:
    cap = max_duration_override if max_duration_override is not None else spec.max_duration
    planned = planned_duration(experiment)
    if planned > cap:
        raise GuardRefused(f"planned duration {planned:.0f}s exceeds the cap of {cap:.0f}s "
                           "(raise it with --max-duration or extensions.assay.safety.max_duration)")
    if spec.blast is not None:
        from assay.chaos import plan as plan_mod

        problems = violations(spec.blast, plan_mod.blast_items(plan_mod.build(experiment)))
        if problems:
            raise GuardRefused("blast radius: " + "; ".join(problems) + " (nothing was injected)")


@dataclass
class LoadGuard:
    """Judges the background load's segments during the method; `tripped` says why it aborted."""

    spec: SafetySpec
    pending: list[Any] = field(default_factory=list)
    windows: int = 0
    tripped: str | None = None
    first_error_at: float | None = None

    def feed(self, phase: str, result: Any) -> str | None:
        """One finished load segment; returns the reason to abort, once."""
        from assay.chaos.background_load import availability
        from assay.results import merge_results

        if self.tripped or phase != "during":
            return None
        stats = availability(result)
        if stats["error_rate"] and self.first_error_at is None:
            self.first_error_at = result.finished_at.timestamp() if result.finished_at else time.time()
        self.pending.append(result)
        merged = merge_results(self.pending, name="guard window") if len(self.pending) > 1 else result
        stats = availability(merged)
        if (stats["requests"] or 0) < self.spec.min_requests:
            return None
        self.pending = []
        self.windows += 1
        if stats["availability"] is not None and stats["availability"] < self.spec.min_availability:
            self.tripped = f"background load availability {stats['availability']:.0%} below {self.spec.min_availability:.0%}"
        elif stats["error_rate"] is not None and stats["error_rate"] > self.spec.max_error_rate:
            self.tripped = f"background load error rate {stats['error_rate']:.0%} above {self.spec.max_error_rate:.0%}"
        elif self.spec.max_p95_ms is not None and stats["p95_ms"] is not None and stats["p95_ms"] > self.spec.max_p95_ms:
            self.tripped = f"background load p95 {stats['p95_ms']:.0f} ms above {self.spec.max_p95_ms:.0f} ms"
        return self.tripped


@dataclass
class Watch:
    """The guard probe's tally during the method; `tripped` says why the run was aborted."""

    passes: int = 0
    fails: int = 0
    tripped: str | None = None
    samples: list[bool] = field(default_factory=list)
    first_fail_at: float | None = None
    timeline: list[tuple[float, bool]] = field(default_factory=list)

    @property
    def availability(self) -> float:
        total = self.passes + self.fails
        return self.passes / total if total else 1.0

    def record(self, ok: bool, spec: SafetySpec) -> str | None:
        now = time.time()
        self.samples.append(ok)
        self.timeline.append((now, ok))
        if not ok and self.first_fail_at is None:
            self.first_fail_at = now
        self.passes += int(ok)
        self.fails += int(not ok)
        if self.passes + self.fails < spec.min_samples:
            return None
        if self.availability < spec.min_availability:
            self.tripped = f"availability {self.availability:.0%} below {spec.min_availability:.0%}"
        elif 1 - self.availability > spec.max_error_rate:
            self.tripped = f"error rate {1 - self.availability:.0%} above {spec.max_error_rate:.0%}"
        return self.tripped


def watch(spec: SafetySpec, check: Callable[[], bool], stop: threading.Event, on_trip: Callable[[str], None]) -> Watch:
    """Run in a thread: probe at the frequency until `stop`, calling `on_trip` once when a limit is crossed."""
    tally = Watch()
    while not stop.is_set():
        try:
            ok = check()
        except Exception:
            ok = False
        reason = tally.record(ok, spec)
        if reason:
            on_trip(reason)
            break
        stop.wait(spec.frequency)
    return tally
