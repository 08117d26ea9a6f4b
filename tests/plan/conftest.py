"""The plan tests' fixture: `run_plan(yaml_text, *args)` in its own folder, artifacts and trend store."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from plan_helpers import PlanRun, assay, latest_run


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
