"""The SLO verdict models: one run's `SloReport`, one `assay slo check`'s `SloCheck` (JSON `assay.slo/1`).

Models only, so evaluate (which builds them), recommend (which adds to them), history and
the report renderers (which read them) all import from here and never from each other.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field, PrivateAttr

from assay.results import RunResult
from assay.slo.criteria import format_percent, format_quantity, format_value
from assay.status import GateStatus, ObjectiveStatus, Verdict

SCHEMA = "assay.slo/1"



class CriterionResult(BaseModel):
    criterion: str
    target: float | None = None
    relative: bool = False
    met: bool
    note: str | None = None


class ObjectiveResult(BaseModel):
    """One objective's verdict, with the numbers a reviewer needs to trust it."""

    id: str
    title: str
    sli: str
    aggregation: str | None = None
    metric: str | None = None
    unit: str | None = None
    priority: str
    weight: int
    key: bool
    value: float | None = None
    baseline: float | None = None
    baseline_runs: int = 0
    delta: float | None = None
    delta_pct: float | None = None
    status: ObjectiveStatus
    critical: bool = False
    score: float = 0.0
    target: str = ""
    pass_criteria: list[list[CriterionResult]] = Field(default_factory=list)
    warning_criteria: list[list[CriterionResult]] = Field(default_factory=list)
    reason: str | None = None
    notes: list[str] = Field(default_factory=list)
    percent: bool = Field(default=False, description="value and baseline are fractions that reports print in percent")

    @property
    def code(self) -> str:
        """The status people read: CRITICAL for a failed P0/key objective."""
        return "CRITICAL" if self.critical else self.status

    def show(self, value: float | None) -> str:
        """A value of this SLI as people read it: `10.25%` for an objective written in percent, `381 ms`, `12.5/s`."""
        if value is None:
            return "no value"
        if self.percent:
            return format_percent(value)
        return format_quantity(value, self.unit)

    def show_change(self, delta: float) -> str:
        """A difference of two values: percentage points for a percent objective or a percent gauge
        (CPU %), a size or a time for bytes and seconds."""
        sign = "+" if delta >= 0 else ""
        if self.percent:
            return f"{sign}{format_value(delta * 100)} pp"
        if self.unit == "%":
            return f"{sign}{format_value(delta)} pp"
        return f"{sign}{format_quantity(delta, self.unit) if self.unit in ('B', 's') else format_value(delta)}"


class Recommendation(BaseModel):
    rule: str
    title: str
    hint: str
    evidence: list[str] = Field(default_factory=list)
    objectives: list[str] = Field(default_factory=list)


class ResultRef(BaseModel):
    id: str
    name: str
    source: str | None = None
    format: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_s: float = 0.0


class ComparisonInfo(BaseModel):
    compare_with: str
    include_result_with_score: str
    number_of_comparison_results: int
    aggregate_function: str
    runs: list[str] = Field(default_factory=list)


class SloReport(BaseModel):
    """The verdict of one run against one SLO file (JSON schema `assay.slo/1`)."""

    schema_: Literal["assay.slo/1"] = Field(default="assay.slo/1", alias="schema")
    slo: str
    result: ResultRef
    status: GateStatus
    exit_code: int
    score: float
    achieved: float
    max_score: float
    score_status: Verdict
    total_score: dict[str, float]
    objectives: list[ObjectiveResult]
    comparison: ComparisonInfo
    recommendations: list[Recommendation] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    evaluated_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    model_config = {"populate_by_name": True}

    def counts(self) -> dict[str, int]:
        out = {"PASS": 0, "WARNING": 0, "FAIL": 0, "CRITICAL": 0, "INFO": 0}
        for o in self.objectives:
            out[o.code] += 1
        return out




class SloCheck(BaseModel):
    """The JSON report (`assay.slo/1`): overall status and exit code, then each result's verdict."""

    schema_: Literal["assay.slo/1"] = Field(default="assay.slo/1", alias="schema")
    slo: str
    status: GateStatus
    exit_code: int
    evaluations: list[SloReport]

    model_config = {"populate_by_name": True}
    _results: list[RunResult] = PrivateAttr(default_factory=list)

    @property
    def results(self) -> list[RunResult]:
        """The RunResults behind the verdicts (for charts), in the same order."""
        return self._results

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True, indent=2)
