"""The pass rule on its own: warnings for continue-on-error and quarantine; regressions and data
loss fail the night wherever they happen."""

from __future__ import annotations

from datetime import UTC, datetime

from assay.plan.outcome import Gate, PlanReport, StageOutcome, StepOutcome
from assay.plan.runner import absolute_sqlite, fires_on
from assay.plan.verdict import decide, messages_lost


def _report(*stages: StageOutcome) -> PlanReport:
    return PlanReport(plan="p", source="p.yaml", run_id="r", started_at=datetime.now(UTC), stages=list(stages))


def _stage(name: str, *steps: StepOutcome, coe: bool = False) -> StageOutcome:
    return StageOutcome(name=name, key=name, status="passed", continue_on_error=coe, steps=list(steps))


def test_a_regression_fails_the_night_even_in_a_continue_on_error_stage() -> None:
    detect = StepOutcome(stage="trends", name="compare", kind="trend-detect", status="failed",
                         gates=[Gate(name="trend s: p95", status="failed")], details={"regressed": ["s: http_req_duration p(95)"]})
    report = _report(_stage("trends", detect, coe=True))
    decide(report, {"trends": True})
    assert report.status == "failed" and report.exit_code == 2
    assert report.reasons == ["regression: trends.compare failed at gate 'trend s: p95'"]
    assert report.regressions == ["s: http_req_duration p(95)"]


def test_only_continue_on_error_failures_and_warnings_pass_with_exit_1() -> None:
    chaos = StepOutcome(stage="chaos", name="x", kind="chaos", status="failed")
    slo = StepOutcome(stage="load", name="slo", kind="slo", status="warning", gates=[Gate(name="SLO p95", status="warning")])
    report = _report(_stage("chaos", chaos, coe=True), _stage("load", slo))
    decide(report, {"chaos": True, "load": False})
    assert (report.status, report.exit_code) == ("warning", 1)
    assert report.reasons == ["continue-on-error: chaos.x failed", "load.slo warning at gate 'SLO p95'"]


def test_lost_messages_are_found_in_metrics_or_in_the_ledger_report() -> None:
    assert messages_lost({"metrics": {"messages_lost": {"count": 2}, "messages_lost{broker:redis}": {"count": 2}}}) == 2
    # the delivery ledger's shape: one sample whose value (sum) is the number lost; a measured 0 is 0
    assert messages_lost({"metrics": {"messages_lost": {"type": "counter", "count": 1, "sum": 7.0}}}) == 7
    assert messages_lost({"metrics": {"messages_lost": {"type": "counter", "count": 1, "sum": 0.0}}}) == 0
    assert messages_lost({"metrics": {}, "extra": {"ledger": {"redis": {"messages_lost": 1}, "nats": {"messages_lost": 4}}}}) == 5
    assert messages_lost({"metrics": {"http_reqs": {"count": 9}}, "extra": {}}) == 0


def test_schedules_fire_on_their_days() -> None:
    monday = datetime(2026, 12, 7, 23, 0).astimezone()
    assert fires_on("0 3 * * mon", monday) and not fires_on("0 3 * * tue", monday)
    assert fires_on("30 1 7 * *", monday) and not fires_on("0 0 1 * *", monday)


def test_relative_sqlite_stores_become_absolute() -> None:
    assert absolute_sqlite("sqlite:///out/t.db", ).startswith("sqlite:////")  # type: ignore[union-attr]
    assert absolute_sqlite("sqlite:////tmp/t.db") == "sqlite:////tmp/t.db"
    assert absolute_sqlite("postgresql://u@h/db") == "postgresql://u@h/db"
