"""Baseline windows: which earlier runs a run is compared with.

`last 7 runs`, `last 7 days` and `same weekday` (the last N runs on the same weekday,
for services whose load follows the week). A pinned run is a window of one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from assay.errors import UsageError
from assay.trends.store import StoredRun

WindowKind = Literal["runs", "days", "weekday"]

_FORMS = [
    (re.compile(r"^(?:last\s+)?(\d+)\s*(?:runs?|nights?)$"), "runs"),
    (re.compile(r"^runs?[:=](\d+)$"), "runs"),
    (re.compile(r"^(?:last\s+)?(\d+(?:\.\d+)?)\s*(?:d|days?)$"), "days"),
    (re.compile(r"^days?[:=](\d+(?:\.\d+)?)$"), "days"),
    (re.compile(r"^same[\s_-]+weekday(?:\s+(?:x\s*)?(\d+))?$"), "weekday"),
    (re.compile(r"^weekday[:=](\d+)$"), "weekday"),
]

WINDOW_HELP = "'last N runs', 'last N days' (or 'Nd'), 'same weekday [N]'"


@dataclass(frozen=True)
class Window:
    kind: WindowKind
    size: float

    @classmethod
    def parse(cls, text: str) -> Window:
        cleaned = " ".join(text.lower().split())
        for pattern, kind in _FORMS:
            match = pattern.match(cleaned)
            if match:
                size = float(match.group(1)) if match.group(1) else 4.0
                if size <= 0:
                    break
                return cls(kind, size)  # type: ignore[arg-type]
        raise UsageError(f"window {text!r}: expected {WINDOW_HELP}")

    def __str__(self) -> str:
        if self.kind == "runs":
            return f"last {self.size:g} runs"
        if self.kind == "days":
            return f"last {self.size:g} days"
        return f"same weekday {self.size:g}"

    def indices(self, runs: Sequence[StoredRun], i: int) -> list[int]:
        """Indices of the runs before `runs[i]` that form its baseline (runs are oldest first)."""
        if self.kind == "runs":
            return list(range(max(0, i - int(self.size)), i))
        target = runs[i].at
        if self.kind == "days":
            start = target - timedelta(days=self.size)
            return [j for j in range(i) if start <= runs[j].at < target]
        same = [j for j in range(i) if runs[j].at.weekday() == target.weekday()]
        return same[-int(self.size) :]
