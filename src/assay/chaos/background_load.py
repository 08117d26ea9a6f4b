"""Background load across the whole experiment, with one RunResult per phase.

The load engine runs in short back-to-back segments (1 s by default) in a thread; each segment's
RunResult is filed under its phase, or under "transition" when a phase change fell inside it (the
engine checks its stop flag once a second, so shorter segments give sharper phase boundaries) (steady state before, during the
fault, recovery, after) and the segments of a phase are merged exactly (results.merge_results).
Configured in the experiment's assay extension, so Chaos Toolkit ignores it:

    "extensions": [{"name": "assay", "load": {"url": "http://127.0.0.1:8080/health", "rate": 20}}]
    "extensions": [{"name": "assay", "load": {"scenario": "load.yaml", "vus": 5, "segment": "2s"}}]
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assay.errors import UsageError
from assay.results import RunResult, merge_results
from assay.status import RunStatus

TRANSITION = "transition"
PHASES = {"hypothesis before": "before", "method": "during", "recovery": "recovery",
          "hypothesis after": "after", "rollbacks": "after"}


@dataclass
class LoadSpec:
    target: str
    rate: float | None = None
    vus: int | None = None
    segment: str = "1s"


def spec_from(experiment: Mapping[str, Any], base: Path | None = None) -> LoadSpec | None:
    """The assay extension's `load`; a relative scenario path is read beside the experiment (`base`)
    when it is there, else from the working folder."""
    for ext in experiment.get("extensions") or []:
        if isinstance(ext, dict) and ext.get("name") == "assay" and isinstance(ext.get("load"), dict):
            raw = ext["load"]
            unknown = set(raw) - {"url", "scenario", "rate", "vus", "segment"}
            if unknown:
                raise UsageError(f"extensions.assay.load: unknown keys {sorted(unknown)}; expected url or scenario, rate, vus, segment")
            target = raw.get("url") or raw.get("scenario")
            if not isinstance(target, str) or bool(raw.get("url")) == bool(raw.get("scenario")):
                raise UsageError("extensions.assay.load: give exactly one of url (quick mode) or scenario (a load file)")
            if raw.get("scenario") and base is not None and not Path(target).is_absolute() and (base / target).exists():
                target = str(base / target)
            spec = LoadSpec(target=target, rate=raw.get("rate"), vus=raw.get("vus"), segment=str(raw.get("segment", "1s")))
            if spec.rate is None and spec.vus is None and raw.get("url"):
                spec.vus = 1
            return spec
    return None


class BackgroundLoad:
    def __init__(self, spec: LoadSpec) -> None:
        from assay.faults.model import parse_duration
        from assay.load.api import LoadRequest, is_url, prepare

        self.spec = spec
        try:
            self.segment_s = float(parse_duration(spec.segment))
        except ValueError:
            raise UsageError(f"extensions.assay.load.segment: {spec.segment!r} is not a duration (e.g. 1s, 500ms)") from None
        if self.segment_s <= 0:
            raise UsageError(f"extensions.assay.load.segment: expected a positive duration, got {spec.segment!r}")
        # A scenario file keeps its own executors (a --duration would replace them by one VU, as in k6):
        # its segments are cut by the clock instead. --vus/--rate given here override it, as on the command line.
        self.own_executors = not is_url(spec.target) and spec.rate is None and spec.vus is None
        duration = None if self.own_executors else spec.segment
        self.request = LoadRequest(target=spec.target, rate=spec.rate, vus=spec.vus, duration=duration, no_thresholds=True)
        try:
            prepare(self.request)  # validate before any traffic (exit 64 on a bad target)
        except UsageError as exc:
            raise UsageError(f"extensions.assay.load: {exc}") from None
        self.phase = "before"
        self.segments: list[tuple[str, RunResult]] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._segment_stop = threading.Event()
        self._changes = 0
        self._thread = threading.Thread(target=self._loop, name="chaos-load", daemon=True)
        self.on_segment: Callable[[str, RunResult], None] | None = None  # e.g. the load guard
        self._lock = threading.Lock()

    def set_phase(self, event: str) -> None:
        """A new phase ends the running segment at once, so no segment straddles two phases."""
        if event in PHASES and PHASES[event] != self.phase:
            self.phase = PHASES[event]
            self._changes += 1
            self._segment_stop.set()

    def start(self) -> BackgroundLoad:
        self._thread.start()
        return self

    def _loop(self) -> None:
        from assay.load.api import prepare
        from assay.load.coordinator import run_load

        while not self._stop.is_set():
            self._segment_stop = segment_stop = threading.Event()
            phase, changes = self.phase, self._changes
            timer = threading.Timer(self.segment_s, segment_stop.set) if self.own_executors else None
            try:
                loaded, plan = prepare(self.request)
                if timer is not None:
                    timer.daemon = True
                    timer.start()
                result = run_load(loaded, plan, workers=1, stop=segment_stop, run_name=f"chaos load ({phase})")
            except Exception as exc:  # the experiment goes on; the report says the load failed
                self.errors.append(f"{type(exc).__name__}: {exc}")
                self._stop.wait(0.5)
                continue
            finally:
                if timer is not None:
                    timer.cancel()
            _not_interrupted(result)
            # a segment that straddled a phase change belongs to neither phase
            filed = phase if changes == self._changes else TRANSITION
            with self._lock:
                self.segments.append((filed, result))
            if self.on_segment is not None:
                try:
                    self.on_segment(filed, result)
                except Exception as exc:  # a guard's bug must not stop the load
                    self.errors.append(f"segment hook: {type(exc).__name__}: {exc}")

    def current(self) -> RunResult | None:
        """The merged segments of the phase under way so far (for the slo probe), or None."""
        with self._lock:
            mine = [r for p, r in self.segments if p == self.phase]
        return merge_results(mine, name=f"chaos load ({self.phase})") if mine else None

    def timeline(self) -> list[dict[str, Any]]:
        """Per segment: start, end, phase, requests, error rate, p50/p95 (the HTML report's series)."""
        out = []
        with self._lock:
            segments = list(self.segments)
        for phase, r in segments:
            stats = availability(r)
            out.append({"phase": phase, "start": r.started_at.timestamp() if r.started_at else None,
                        "end": r.finished_at.timestamp() if r.finished_at else None,
                        "requests": stats["requests"], "error_rate": stats["error_rate"], "p95_ms": stats["p95_ms"],
                        "p50_ms": r.stat("http_req_duration", "p(50)") if r.metric("http_req_duration") else None})
        return out

    def stop(self) -> dict[str, RunResult]:
        self._stop.set()
        self._segment_stop.set()
        self._thread.join(timeout=30)
        phases: dict[str, list[RunResult]] = {}
        for phase, result in self.segments:
            phases.setdefault(phase, []).append(result)
        return {p: merge_results(rs, name=f"chaos load ({p})") for p, rs in phases.items()}


_INTERRUPTED = "interrupted (Ctrl-C or SIGTERM)"


def _not_interrupted(result: RunResult) -> None:
    """The engine marks a run ended by its stop flag as interrupted (aborted); here the flag is the
    segment's end, so the segment is judged as a run that finished (its thresholds, if any)."""
    if result.status != RunStatus.ABORTED or result.extra.get("script_aborted"):
        return
    if not any(note.startswith(_INTERRUPTED) for note in result.notes):
        return
    result.notes = [n for n in result.notes if not n.startswith(_INTERRUPTED)]
    crossed = any(t.ok is False for m in result.metrics.values() for t in m.thresholds)
    result.status = RunStatus.FAILED if crossed else RunStatus.PASSED


def availability(result: RunResult) -> dict[str, float | None]:
    """Requests, availability (share not failed), error rate and p95 latency of one phase."""
    failed = result.metric("http_req_failed")
    total = (failed.passes + failed.fails) if failed else 0
    error_rate = failed.passes / total if failed and total else None
    return {
        "requests": float(total),
        "availability": None if error_rate is None else 1 - error_rate,
        "error_rate": error_rate,
        "p95_ms": result.stat("http_req_duration", "p(95)"),
    }
