"""The night's pass rule, as the messaging team states it.

All gates pass, or only continue-on-error stages (and quarantined steps or tests) fail: the
night passes, with a warning for what failed. A regression found by a trend-detect step,
or data loss (messages_lost > 0 in any result), fails the night wherever it happens.
Exit 0 passed, 1 passed with warnings, 2 failed.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from assay.plan.outcome import FAILING, PlanReport, StepOutcome

LOST_KEYS = ("messages_lost", "lost")


def quarantined(key: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatch(key, p) for p in patterns)


def messages_lost(result_json: dict[str, Any]) -> int:
    """Messages a result says were lost: a `messages_lost` metric (count or value), or a
    `messages_lost` number anywhere in its `extra` (the delivery ledger's report)."""
    total = 0
    for name, metric in (result_json.get("metrics") or {}).items():
        base = name.split("{", 1)[0]
        if base == "messages_lost" or base.endswith("_messages_lost"):
            if "{" in name:
                continue  # sub-metrics repeat their parent's count
            total += int(_counter_value(metric))
    if total:
        return total
    return _lost_in(result_json.get("extra") or {})


def _counter_value(metric: dict[str, Any]) -> float:
    """A counter's value as k6 reports it (`count`): assay keeps it in `sum` (the ledger writes
    one sample whose value is the number lost); a gauge keeps it in `value`."""
    for key in ("sum", "value", "count"):
        value = metric.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return 0.0


def _lost_in(value: Any, depth: int = 0) -> int:
    if depth > 8:
        return 0
    if isinstance(value, dict):
        found = 0
        for key, item in value.items():
            if key == "messages_lost" and isinstance(item, int | float) and not isinstance(item, bool):
                found += int(item)
            else:
                found += _lost_in(item, depth + 1)
        return found
    if isinstance(value, list):
        return sum(_lost_in(v, depth + 1) for v in value)
    return 0


def step_data_loss(step: StepOutcome, run_dir: Path) -> int:
    import json

    lost = 0
    for rel in step.results:
        try:
            lost += messages_lost(json.loads((run_dir / rel).read_text()))
        except (OSError, ValueError):
            continue
    return lost


def decide(report: PlanReport, continue_on_error: dict[str, bool]) -> None:
    """Set the report's status, exit code and reasons from its stages and steps."""
    failed: list[str] = []
    warnings: list[str] = []
    for svc in report.services:
        if svc.status == "failed":
            failed.append(f"service {svc.name}{' (stage ' + svc.stage + ')' if svc.stage else ''}: {svc.error.splitlines()[0] if svc.error else 'failed'}")
    for stage in report.stages:
        coe = continue_on_error.get(stage.name, False)
        if stage.status in FAILING and not any(s.status in FAILING for s in stage.steps):
            (warnings if coe else failed).append(f"stage {stage.key}: {stage.reason}")
        for step in stage.steps:
            where = f"{stage.key}.{step.name}"
            gate = step.deciding_gate
            why = f"{where} {step.status}" + (f" at gate '{gate.name}'" if gate else "") + (f": {step.reason}" if step.reason else "")
            if step.messages_lost > 0:
                failed.append(f"data loss: {where} lost {step.messages_lost} message(s)")
                if where not in report.data_loss:
                    report.data_loss.append(where)
            if step.status in FAILING:
                if step.quarantined:
                    warnings.append(f"quarantined: {why}")
                elif step.kind == "trend-detect" and step.status == "failed":
                    failed.append(f"regression: {why}")
                    report.regressions.extend(
                        r for r in step.details.get("regressed", []) if r not in report.regressions
                    )
                elif coe:
                    warnings.append(f"continue-on-error: {why}")
                else:
                    failed.append(why)
            elif step.status == "warning":
                warnings.append(why)
            quarantined_tests = [t for t in step.tests if t.quarantined and t.status in ("failed", "error")]
            for t in quarantined_tests:
                warnings.append(f"quarantined test {t.classname + '.' if t.classname else ''}{t.name} failed in {where}")
    if report.interrupted:
        report.status = "aborted"
    elif failed:
        report.status = "failed"
    elif warnings:
        report.status = "warning"
    else:
        report.status = "passed"
    report.reasons = (["interrupted: the night did not finish"] if report.interrupted else []) + failed + warnings
    report.exit_code = {"passed": 0, "warning": 1}.get(report.status, 2)


__all__ = ["decide", "messages_lost", "quarantined", "step_data_loss"]
