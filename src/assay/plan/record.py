"""The night in the trend store: every step's results (so trends compare nights) and one
summary run of kind `plan` whose checks are the steps (so the flake report sees each step's
pass/fail history and which passed only on retry)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from assay.plan.outcome import PlanReport
from assay.results import Check, Metric, RunResult, RunStatus, SourceInfo

PLAN_KIND = "plan"


def summary_result(report: PlanReport) -> RunResult:
    """The night as one RunResult: a check per step, a gauge of failed steps and the duration."""
    checks: list[Check] = []
    steps = []
    tests = []
    for step in report.steps():
        if step.status == "skipped":
            continue
        ok = step.status in ("passed", "warning")
        checks.append(Check(name=step.key, path=f"::{step.stage}::{step.name}", passes=int(ok), fails=int(not ok)))
        steps.append({"key": step.key, "kind": step.kind, "status": step.status, "attempts": len(step.attempts),
                      "passed_on_retry": ok and len(step.attempts) > 1, "quarantined": step.quarantined})
        for t in step.tests:
            tests.append({"name": f"{t.classname}.{t.name}" if t.classname else t.name, "status": t.status,
                          "step": step.key})
    failed = sum(1 for c in checks if c.fails)
    status = {"passed": RunStatus.PASSED, "warning": RunStatus.WARNING, "aborted": RunStatus.ABORTED}.get(
        report.status, RunStatus.FAILED)
    return RunResult(
        name=f"plan {report.plan}",
        kind=PLAN_KIND,
        status=status,
        started_at=report.started_at,
        finished_at=report.finished_at,
        duration_s=report.duration_s,
        labels={**report.labels, "plan": report.plan, "plan_run": report.run_id, "scenario": f"plan:{report.plan}"},
        metrics={
            "plan_steps_failed": Metric.new("gauge", value=float(failed), min=float(failed), max=float(failed)),
            "plan_duration_s": Metric.new("gauge", value=report.duration_s, min=report.duration_s, max=report.duration_s),
        },
        checks=checks,
        source=SourceInfo(format="assay-plan", path=report.source),
        extra={"steps": steps, "tests": tests, "exit_code": report.exit_code, "reasons": report.reasons[:50]},
    )


def record_night(report: PlanReport, run_dir: Path, results: Iterable[Path], already: set[Path],
                 store_url: str | None) -> str:
    """Record what no trend-record step recorded yet, then the summary; returns the store's URL."""
    from assay.formats import load_result
    from assay.trends.store import open_store

    with open_store(store_url) as store:
        seen: set[Path] = set()
        for path in results:
            if path in already or path in seen or not path.is_file():
                continue
            seen.add(path)
            try:
                store.record(load_result(path))
            except Exception:  # already recorded (same id) or unreadable: the file stays in the artifacts
                continue
        store.record(summary_result(report))
        return store.url


__all__ = ["PLAN_KIND", "record_night", "summary_result"]
