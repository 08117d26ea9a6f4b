"""What a night produced: per step, stage and service, and the night's verdict.

One model (`PlanReport`, schema `assay.plan/1`) is what the runner returns, what
report.json holds, and what the HTML, Markdown and JUnit renderers, the notifications and
the flake report read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA = "assay.plan/1"
Status = Literal["passed", "warning", "failed", "error", "skipped", "aborted", "pending", "running"]
FAILING = ("failed", "error", "aborted")


class Gate(BaseModel):
    """One pass/fail decision inside a step: a threshold, an SLO, a hypothesis, a contract, a test."""

    name: str
    status: Literal["passed", "warning", "failed", "error", "skipped"]
    detail: str = ""


class Attempt(BaseModel):
    number: int
    status: Status
    exit_code: int | None = None
    duration_s: float = 0.0
    reason: str = ""


class TestCase(BaseModel):
    """A test the step ran (from its JUnit XML)."""

    __test__ = False  # not a pytest test class
    name: str
    classname: str = ""
    status: Literal["passed", "failed", "error", "skipped"]
    duration_s: float = 0.0
    message: str = ""
    scenarios: list[str] = Field(default_factory=list)
    quarantined: bool = False


class StepOutcome(BaseModel):
    stage: str
    name: str
    kind: str
    status: Status = "pending"
    reason: str = ""
    started_at: datetime | None = None
    duration_s: float = 0.0
    exit_code: int | None = None
    attempts: list[Attempt] = Field(default_factory=list)
    gates: list[Gate] = Field(default_factory=list)
    artifacts: list[str] = Field(default_factory=list, description="Paths relative to the run's directory")
    results: list[str] = Field(default_factory=list, description="RunResult files (relative) this step produced")
    tests: list[TestCase] = Field(default_factory=list)
    details: dict[str, Any] = Field(default_factory=dict)
    scenarios: list[str] = Field(default_factory=list)
    critical: bool = False
    quarantined: bool = False
    messages_lost: int = 0

    @property
    def key(self) -> str:
        return f"{self.stage}.{self.name}"

    @property
    def deciding_gate(self) -> Gate | None:
        """The gate that decided the step's status: the first failed one, else the first warning."""
        for wanted in ("failed", "error", "warning"):
            for gate in self.gates:
                if gate.status == wanted:
                    return gate
        return None

    @property
    def retried(self) -> bool:
        return len(self.attempts) > 1


class ServiceOutcome(BaseModel):
    name: str
    stage: str | None = None
    status: Literal["ready", "failed", "stopped", "checked"]
    url: str | None = None
    log: str | None = None
    ready_after_s: float | None = None
    exit_code: int | None = None
    error: str = ""
    resources: str | None = Field(default=None, description="With sample: true, its night-long RunResult (relative path)")
    peaks: dict[str, float] = Field(default_factory=dict, description="Highest reading per resource over the night")
    leaks: list[str] = Field(default_factory=list, description="Resources judged leaking over the night")


class StageOutcome(BaseModel):
    name: str
    key: str = Field(description="name, or name[mode=standalone] for a matrix entry")
    matrix: dict[str, Any] = Field(default_factory=dict)
    status: Status = "pending"
    reason: str = ""
    continue_on_error: bool = False
    started_at: datetime | None = None
    duration_s: float = 0.0
    steps: list[StepOutcome] = Field(default_factory=list)


class Notice(BaseModel):
    channel: str
    sent: bool
    error: str = ""
    kinds: list[str] = Field(default_factory=list)


class PlanReport(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    schema_: Literal["assay.plan/1"] = Field(default="assay.plan/1", alias="schema")
    plan: str
    description: str | None = None
    source: str
    run_id: str
    started_at: datetime
    finished_at: datetime | None = None
    duration_s: float = 0.0
    status: Literal["passed", "warning", "failed", "error", "aborted", "running"] = "running"
    exit_code: int = 0
    reasons: list[str] = Field(default_factory=list, description="Why the night is not green, one line each")
    services: list[ServiceOutcome] = Field(default_factory=list)
    stages: list[StageOutcome] = Field(default_factory=list)
    quarantined: list[str] = Field(default_factory=list)
    regressions: list[str] = Field(default_factory=list)
    data_loss: list[str] = Field(default_factory=list)
    notifications: list[Notice] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)
    artifacts_dir: str = ""
    trend_store: str | None = None
    interrupted: bool = False

    def steps(self) -> list[StepOutcome]:
        return [s for st in self.stages for s in st.steps]

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True, indent=2)


__all__ = ["FAILING", "SCHEMA", "Attempt", "Gate", "Notice", "PlanReport", "ServiceOutcome", "StageOutcome", "Status",
           "StepOutcome", "TestCase"]
