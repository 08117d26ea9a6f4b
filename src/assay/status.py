"""The one status vocabulary: how a run ended, how a gate judged it, and the verdict baselines keep.

Three words sets exist because three audiences read them, and each maps to the others here
and nowhere else:

- `RunStatus` (`passed|warning|failed|error|aborted`): how a run ended, in every RunResult
  (DESIGN.md's spine);
- `GateStatus` (`PASS|WARNING|FAIL|CRITICAL`): an SLO gate's verdict as Keptn writes it, with
  CRITICAL for a failed P0 or key objective; `ObjectiveStatus` adds INFO for an objective that
  is only informational;
- `Verdict` (`pass|warning|fail`): the three-way verdict a baseline is filtered on (Keptn's
  score status, the trends store, `extra.slo.status` on a judged result).

The exit code of each follows DESIGN.md: 0 passed, 1 passed with warnings, 2 a gate failed.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Literal

from assay.errors import ExitCode


class RunStatus(StrEnum):
    """How a run ended (RunResult.status)."""

    PASSED = "passed"
    WARNING = "warning"
    FAILED = "failed"
    ERROR = "error"
    ABORTED = "aborted"


GateStatus = Literal["PASS", "WARNING", "FAIL", "CRITICAL"]
ObjectiveStatus = Literal["PASS", "WARNING", "FAIL", "INFO"]
Verdict = Literal["pass", "warning", "fail"]

# worst last: the status of several is the worst of them
_RUN_ORDER = [RunStatus.PASSED, RunStatus.WARNING, RunStatus.FAILED, RunStatus.ABORTED, RunStatus.ERROR]
_GATE_ORDER: list[str] = ["PASS", "WARNING", "FAIL", "CRITICAL"]

GATE_EXIT_CODES: dict[str, int] = {
    "PASS": ExitCode.OK,
    "WARNING": ExitCode.WARNING,
    "FAIL": ExitCode.GATE_FAILED,
    "CRITICAL": ExitCode.GATE_FAILED,
}


def worst_status(statuses: Iterable[RunStatus]) -> RunStatus:
    """The worst of several run statuses (PASSED for none)."""
    worst = RunStatus.PASSED
    for s in statuses:
        if _RUN_ORDER.index(s) > _RUN_ORDER.index(worst):
            worst = s
    return worst


def worst_gate(statuses: Iterable[str]) -> GateStatus:
    """The worst of several gate statuses (PASS for none)."""
    out = "PASS"
    for s in statuses:
        if _GATE_ORDER.index(s) > _GATE_ORDER.index(out):
            out = s
    return out  # type: ignore[return-value]


def verdict_of_gate(status: str) -> Verdict:
    """A gate status (either case) as the three-way verdict: CRITICAL and anything unknown are a fail."""
    return {"pass": "pass", "warning": "warning"}.get(status.lower(), "fail")  # type: ignore[return-value]


def verdict_of_run(status: RunStatus) -> Verdict:
    """A run status as the three-way verdict: error and aborted runs are a fail."""
    if status is RunStatus.PASSED:
        return "pass"
    if status is RunStatus.WARNING:
        return "warning"
    return "fail"
