"""What a step runs with and what the runner learns from it: the context a step's command is
built from (directories, `${...}` values, earlier results), the command itself, and what its
files said (status, gates, details, results, tests)."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assay.plan.outcome import Gate, TestCase
from assay.plan.substitute import expand

ASSAY = [sys.executable, "-m", "assay"]


@dataclass
class StepContext:
    """What a step may refer to: directories, `${...}` values, earlier steps' results."""

    plan_name: str
    plan_dir: Path
    run_dir: Path
    step_dir: Path
    stage: str
    stage_key: str
    values: dict[str, str]
    env: dict[str, str]
    store_url: str | None
    results: dict[str, list[Path]]  # "stage.step" (and "stage[key].step") -> RunResult files
    stage_steps: list[str]  # names of the steps of this stage that ran before this one
    labels: dict[str, str] = field(default_factory=dict)
    quarantine: list[str] = field(default_factory=list)
    stage_timeout: float | None = None
    sampled: list[str] = field(default_factory=list)  # services declared `sample: true` running for this step

    def x(self, value: str) -> str:
        return expand(value, self.values)

    def path(self, value: str) -> str:
        """A plan-relative path (URLs and absolute paths as they are)."""
        text = self.x(value)
        if "://" in text or Path(text).is_absolute():
            return text
        return str((self.plan_dir / text).resolve())

    def out(self, name: str) -> Path:
        return self.step_dir / name


@dataclass
class Invocation:
    argv: list[str]
    cwd: Path
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class Ingested:
    """What the runner learns from a finished step's exit code and files."""

    status: str
    gates: list[Gate] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    results: list[Path] = field(default_factory=list)
    tests: list[TestCase] = field(default_factory=list)
    reason: str = ""
    scenarios: list[str] = field(default_factory=list)  # acceptance scenario ids the step's own files name


__all__ = ["ASSAY", "Ingested", "Invocation", "StepContext"]
