"""A plan traced: one trace with the plan, its stages (run on a pool of threads) and their steps."""

from __future__ import annotations

from pathlib import Path

import pytest

from assay.observe.tracing import TRACING
from assay.plan.runner import PlanRunner, RunOptions
from assay.plan.validate import load_plan

PLAN = """\
name: traced
stages:
  left:
    steps: [{name: a, kind: run, command: "true"}]
  right:
    steps: [{name: b, kind: run, command: "true"}]
  after:
    needs: [left, right]
    steps: [{name: c, kind: run, command: "true"}, {name: d, kind: run, command: "true"}]
"""


def test_plan_stages_and_steps_are_spans_of_one_trace(tmp_path: Path) -> None:
    pytest.importorskip("opentelemetry.sdk")
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN)
    exporter = InMemorySpanExporter()
    TRACING.configure(exporter=exporter)
    try:
        report = PlanRunner(load_plan(plan), RunOptions(artifacts=tmp_path / "out", record=False, notify=False)).run()
    finally:
        TRACING.shutdown()
    assert report.status == "passed"
    spans = exporter.get_finished_spans()
    [root] = [s for s in spans if s.name == "plan.run"]
    stages = {dict(s.attributes or {})["stage"]: s for s in spans if s.name == "plan.stage"}
    steps = {dict(s.attributes or {})["step"]: s for s in spans if s.name == "plan.step"}
    assert set(stages) == {"left", "right", "after"} and set(steps) == {"a", "b", "c", "d"}
    assert all(s.context.trace_id == root.context.trace_id for s in spans)  # one trace, though stages ran on threads
    assert all(s.parent is not None and s.parent.span_id == root.context.span_id for s in stages.values())
    for step, stage in (("a", "left"), ("b", "right"), ("c", "after"), ("d", "after")):
        assert steps[step].parent is not None and steps[step].parent.span_id == stages[stage].context.span_id


def test_without_tracing_a_plan_makes_no_spans(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN)
    assert not TRACING.enabled
    report = PlanRunner(load_plan(plan), RunOptions(artifacts=tmp_path / "out", record=False, notify=False)).run()
    assert report.status == "passed" and not TRACING.enabled
