"""The fault model: one small interface every fault type implements, its events and errors.

A fault type turns validated parameters and a target into a *revert record*: plain JSON
that is enough, on its own, to undo the fault. The record is what lets a separate
watchdog process revert a fault after its owner died (even by SIGKILL), so every
`revert` must work from the record alone and be harmless when run twice.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator

from assay.config import StrictModel
from assay.errors import AssayError, ExitCode, UsageError
from assay.faults.events import EventKind, FaultEvent  # noqa: F401 - re-exported

__all__ = ["EventKind", "FaultEvent"]

class FaultError(UsageError):
    """Bad parameters, a bad target or a missing capability: exit 64, nothing applied."""


class FaultRefused(FaultError):
    """A target the runner must never touch (PID 1, itself, another user's process)."""


class RevertFailed(AssayError):
    """A fault could not be undone; the message carries the command that undoes it by hand."""

    exit_code = ExitCode.INTERNAL


_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_GO_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")


def parse_duration(value: Any) -> float:
    """Seconds from a number or a Go/k6 duration string ('1m30s', '250ms', '2.5s')."""
    if isinstance(value, bool):
        raise ValueError("expected a duration like '30s' or a number of seconds")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = str(value).strip()
        try:
            seconds = float(text)
        except ValueError:
            parts = _GO_PART.findall(text)
            if not text or "".join(n + u for n, u in parts) != text:
                raise ValueError(f"expected a duration like '30s', '1m30s' or '250ms', got {text!r}") from None
            seconds = sum(float(n) * _GO_UNITS[u] for n, u in parts)
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


def format_duration(seconds: float) -> str:
    """A Go duration string (what Chaos Mesh and `assay fault list` show)."""
    if seconds == int(seconds):
        return f"{int(seconds)}s"
    ms = seconds * 1000
    return f"{int(ms)}ms" if ms == int(ms) else f"{int(ms * 1000)}us"


Seconds = Annotated[float, BeforeValidator(parse_duration)]


class FaultParams(StrictModel):
    """Base of every fault type's parameters: unknown keys are errors with a suggestion."""


class FaultType(ABC):
    """One kind of fault: validate, inject (returning a revert record), revert, describe."""

    name: ClassVar[str]
    summary: ClassVar[str]
    Params: ClassVar[type[BaseModel]]
    target_help: ClassVar[str] = "none"
    # Faults that are an action (a restart) rather than a state have nothing to hold or revert.
    instant: ClassVar[bool] = False

    def check(self, params: Any, target: Any) -> None:  # noqa: B027 - optional hook
        """Raise FaultError/FaultRefused before anything is touched (capabilities, safety)."""

    @abstractmethod
    def inject(self, params: Any, target: Any, ttl: float | None = None) -> dict[str, Any]:
        """Apply the fault; return the JSON revert record. `ttl` lets a tool expire by itself too."""

    @abstractmethod
    def revert(self, record: dict[str, Any]) -> None:
        """Undo the fault from its record alone; a second call does nothing."""

    def describe(self, params: Any, target: Any) -> str:
        shown = ", ".join(f"{k}={v}" for k, v in params.model_dump(exclude_defaults=True).items())
        return f"{self.name} on {target_label(target)}" + (f" ({shown})" if shown else "")

    def manual_revert(self, record: dict[str, Any]) -> str:
        """The shell command a person runs when revert failed."""
        return f"assay fault revert {record.get('fault_id', 'ID')}"


def target_label(target: Any) -> str:
    if target is None:
        return "this host"
    name = getattr(target, "name", None)
    return str(name) if isinstance(name, str) else str(target)
