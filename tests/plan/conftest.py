"""Helpers for the plan tests: write a plan, run `assay plan` as a real subprocess, read its report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


@dataclass
class PlanRun:
    code: int
    out: str
    err: str
    report: dict[str, Any] | None
    run_dir: Path | None

    def step(self, key: str) -> dict[str, Any]:
        assert self.report is not None, self.err
        for stage in self.report["stages"]:
            for step in stage["steps"]:
                if f"{stage['key']}.{step['name']}" == key:
                    return dict(step)
        raise KeyError(key)

    def stage(self, key: str) -> dict[str, Any]:
        assert self.report is not None, self.err
        return next(dict(s) for s in self.report["stages"] if s["key"] == key)


def assay(*args: str, cwd: Path | None = None, timeout: float = 240, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "assay", *args], capture_output=True, text=True, timeout=timeout,
                          cwd=cwd, env={**os.environ, **(env or {})})


def latest_run(artifacts: Path) -> Path | None:
    runs = sorted(p for p in artifacts.glob("*/*") if (p / "report.json").is_file())
    return runs[-1] if runs else None


@pytest.fixture
def run_plan(tmp_path: Path) -> Callable[..., PlanRun]:
    """`run_plan(yaml_text, *extra_args)`: run the plan in tmp_path (own artifacts and trend store)."""
    counter = {"n": 0}

    def run(text: str, *extra: str, name: str = "plan.yaml") -> PlanRun:
        counter["n"] += 1
        plan = tmp_path / name
        plan.write_text(text)
        artifacts = tmp_path / "out"
        proc = assay("plan", "run", str(plan), "--artifacts", str(artifacts), "--store",
                     f"sqlite:///{tmp_path / 'trends.db'}", "--run-id", f"run{counter['n']:02d}", *extra, cwd=tmp_path)
        run_dir = latest_run(artifacts)
        report = json.loads((run_dir / "report.json").read_text()) if run_dir else None
        return PlanRun(proc.returncode, proc.stdout, proc.stderr, report, run_dir)

    return run
