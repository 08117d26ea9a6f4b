"""The plan file: services, stages and steps of one night, as strict pydantic models.

Every key is checked (a typo is an error naming the closest key), every duration parses,
and step kinds are a discriminated union on `kind`, so `assay plan validate` can point at
the exact line of a mistake before anything runs. Cross-field rules that need the whole
plan (cycles in `needs`, time budgets) live in `assay.plan.validate`.
"""

from __future__ import annotations

from itertools import product
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, WithJsonSchema, field_validator, model_validator

from assay.acceptance import ScenarioIds, as_list
from assay.config import StrictModel
from assay.load.durations import parse_duration

# seconds, parsed from "30s", "1m30s", "500ms" or a number (the JSON Schema says both forms)
Duration = Annotated[float, WithJsonSchema({"anyOf": [{"type": "number", "minimum": 0}, {"type": "string"}],
                                            "description": "seconds, or a duration such as 30s, 1m30s, 500ms"})]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
STEP_KINDS = (
    "load", "chaos", "fault", "contract-verify", "can-i-deploy", "publish",
    "slo", "trend-record", "trend-detect", "run",
)


def _seconds(value: Any, what: str) -> float | None:
    if value is None:
        return None
    try:
        return parse_duration(value, what=what)
    except ValueError as exc:
        raise ValueError(str(exc)) from None


class _Durations(StrictModel):
    """Parses every field listed in `_DURATIONS` from k6 duration strings to seconds."""

    _DURATIONS: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="before")
    @classmethod
    def _parse_durations(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            for key in cls._DURATIONS:
                if key in data and data[key] is not None and not isinstance(data[key], bool):
                    data[key] = _seconds(data[key], key)
        return data


# --- services ----------------------------------------------------------------------------------


class Readiness(_Durations):
    """How to tell a service is ready: an HTTP URL answering 2xx, a TCP port accepting, or a
    command exiting 0 (e.g. `pg_isready`). The teams' habit: 3 s interval, 3 s timeout, 20 retries."""

    _DURATIONS: ClassVar[tuple[str, ...]] = ("interval", "timeout", "start_period")
    http: str | None = None
    tcp: str | None = Field(default=None, description="host:port, or :port for 127.0.0.1")
    command: list[str] | str | None = None
    retries: int = Field(default=20, ge=1, le=10_000)
    interval: Duration = 3.0
    timeout: Duration = 3.0
    start_period: Duration = 0.0

    @model_validator(mode="after")
    def _one_check(self) -> Readiness:
        given = [k for k in ("http", "tcp", "command") if getattr(self, k)]
        if len(given) > 1:
            raise ValueError(f"readiness takes one of http, tcp or command, not {' and '.join(given)}")
        return self


class Service(_Durations):
    """A process the plan starts (and always stops), or an existing service only health-checked."""

    _DURATIONS: ClassVar[tuple[str, ...]] = ("stop_timeout",)
    command: list[str] | str | None = None
    url: str | None = Field(default=None, description="An existing service: only health-checked, never started")
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None
    port: int | Literal["auto"] | None = Field(
        default=None, description="The port it listens on; 'auto' picks a free one (${services.NAME.port})"
    )
    ready: Readiness | None = None
    stop_timeout: Duration = 10.0
    sample: bool = Field(
        default=False, description="Follow its process (RSS, USS, CPU, threads, fds, TCP) during every load and chaos "
        "step that runs while it does: proc_* gauges tagged proc:NAME in the step's result",
    )

    @model_validator(mode="after")
    def _command_or_url(self) -> Service:
        if (self.command is None) == (self.url is None):
            raise ValueError("a service has either a command (started by the plan) or a url (only checked)")
        return self


# --- conditions --------------------------------------------------------------------------------

StageStatus = Literal["passed", "warning", "failed", "error", "skipped"]


class Condition(StrictModel):
    """When a stage runs. Without `if`, a stage runs when every stage it needs succeeded."""

    always: bool = Field(default=False, description="Run even when a needed stage failed or was skipped")
    weekday: list[str] | None = Field(default=None, description="Only on these days: mon..sun")
    schedule: str | None = Field(default=None, description="Only on days this cron expression fires")
    status: dict[str, list[StageStatus] | StageStatus] | None = Field(
        default=None, description="Only when these stages ended so: {stage: failed}"
    )

    @field_validator("weekday")
    @classmethod
    def _weekdays(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        out = []
        for day in value:
            d = str(day).strip().lower()[:3]
            if d not in WEEKDAYS:
                raise ValueError(f"unknown weekday {day!r}; expected one of {', '.join(WEEKDAYS)}")
            out.append(d)
        return out

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from croniter import croniter

        if not croniter.is_valid(value):
            raise ValueError(f"{value!r} is not a cron expression (e.g. '0 3 * * mon')")
        return value

    def statuses(self) -> dict[str, list[str]]:
        return {k: [v] if isinstance(v, str) else list(v) for k, v in (self.status or {}).items()}


def _condition(value: Any) -> Any:
    if value == "always":
        return {"always": True}
    if value in ("success", None):
        return None
    return value


# --- steps -------------------------------------------------------------------------------------


class Retry(_Durations):
    """Retries for a known flaky step, with exponential backoff (tenacity); every attempt is recorded."""

    _DURATIONS: ClassVar[tuple[str, ...]] = ("backoff", "max_backoff")
    attempts: int = Field(default=2, ge=1, le=20, description="Total attempts, the first included")
    backoff: Duration = 1.0
    max_backoff: Duration = 30.0


class StepBase(_Durations):
    kind: str
    _DURATIONS: ClassVar[tuple[str, ...]] = ("timeout", "duration")
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    timeout: Duration | None = Field(default=None, description="Killed after this long")
    duration: Duration | None = Field(default=None, description="How long it runs (load, fault) or is expected to")
    retry: Retry | None = None
    critical: bool = Field(default=False, description="A failure alerts notifications with when: critical")
    scenario: ScenarioIds | None = Field(default=None, description="Acceptance scenario ids this step covers (US1-AS2)")
    env: dict[str, str] = Field(default_factory=dict)

    def scenarios(self) -> list[str]:
        return as_list(self.scenario)


class SampledStep(StepBase):
    """A step that can follow processes while it runs (`assay load run` / `chaos run --sample`)."""

    sample: list[str] = Field(
        default_factory=list,
        description="Processes to follow while the step runs: a service the plan starts (by name), "
        "NAME=PID, or re:PATTERN (a command line); proc_* gauges tagged proc:NAME in the step's result",
    )


def is_service_name(entry: str) -> bool:
    """A step's `sample` entry naming a plan service (not NAME=PID, a PID or re:PATTERN)."""
    text = entry.strip()
    return "=" not in text and not text.startswith("re:") and not text.isdigit() and "${" not in text


class LoadStep(SampledStep):
    kind: Literal["load"]
    target: str = Field(description="A scenario file (.py, .yaml, k6 .js) or a URL")
    vus: int | None = Field(default=None, ge=1)
    rate: float | None = Field(default=None, gt=0)
    iterations: int | None = Field(default=None, ge=1)
    profile: str | None = None
    thresholds: list[str] = Field(default_factory=list, description="METRIC:EXPR, as --threshold")
    workers: int = Field(default=1, ge=1, le=64)
    args: list[str] = Field(default_factory=list, description="More `assay load run` arguments")


class ChaosStep(SampledStep):
    kind: Literal["chaos"]
    experiment: str
    vars: dict[str, str] = Field(default_factory=dict)
    args: list[str] = Field(default_factory=list, description="More `assay chaos run` arguments")


class FaultStep(StepBase):
    kind: Literal["fault"]
    type: str = Field(description="A fault type (see `assay fault types`)")
    target: str | None = None
    attributes: dict[str, str | int | float] = Field(default_factory=dict)
    background: bool = Field(
        default=False, description="Keep the fault on while the stage's next steps run; reverted when the stage ends"
    )


class ContractVerifyStep(StepBase):
    kind: Literal["contract-verify"]
    provider: str
    provider_base_url: str | None = None
    pacts: list[str] = Field(default_factory=list)
    broker: str | None = None
    state_handlers: str | None = Field(default=None, description="module:obj or file.py:obj (plan-relative) seeding provider states")
    publish: bool = False
    provider_version: str | None = None
    branch: str | None = None
    args: list[str] = Field(default_factory=list)


class PublishStep(StepBase):
    kind: Literal["publish"]
    pacts: list[str]
    broker: str
    version: str
    branch: str | None = None
    tags: list[str] = Field(default_factory=list)


class CanIDeployStep(StepBase):
    kind: Literal["can-i-deploy"]
    pacticipant: str
    broker: str
    version: str | None = None
    to_environment: str | None = None
    branch: str | None = None


class SloStep(StepBase):
    kind: Literal["slo"]
    slo: str
    results: list[str] = Field(
        default_factory=list, description="Steps (stage.step or step) or files whose results are gated; default: the stage's load steps"
    )
    baseline: str | None = None


class TrendRecordStep(StepBase):
    kind: Literal["trend-record"]
    results: list[str] = Field(default_factory=list, description="Steps whose results are recorded; default: all so far")
    labels: dict[str, str] = Field(default_factory=dict)


class TrendDetectStep(StepBase):
    kind: Literal["trend-detect"]
    trend_scenario: str | None = Field(default=None, description="Only this trend-store scenario")
    rules: list[str] = Field(default_factory=list)
    min_runs: int = Field(default=3, ge=3)
    recent: int = Field(default=1, ge=1)
    args: list[str] = Field(default_factory=list)


class RunStep(StepBase):
    kind: Literal["run"]
    command: list[str] | str
    cwd: str | None = None
    ingest: list[str] = Field(
        default_factory=list,
        description="Files the command writes (globs; relative to the step's directory): JUnit XML, k6 summaries, assay results",
    )


STEP_MODELS: dict[str, type[StepBase]] = {
    "load": LoadStep, "chaos": ChaosStep, "fault": FaultStep, "contract-verify": ContractVerifyStep,
    "publish": PublishStep, "can-i-deploy": CanIDeployStep, "slo": SloStep, "trend-record": TrendRecordStep,
    "trend-detect": TrendDetectStep, "run": RunStep,
}

Step = Annotated[
    LoadStep | ChaosStep | FaultStep | ContractVerifyStep | PublishStep | CanIDeployStep
    | SloStep | TrendRecordStep | TrendDetectStep | RunStep,
    Field(discriminator="kind"),
]


# --- stages and the plan -----------------------------------------------------------------------


class Stage(_Durations):
    _DURATIONS: ClassVar[tuple[str, ...]] = ("timeout",)
    needs: list[str] = Field(default_factory=list)
    timeout: Duration | None = None
    continue_on_error: bool = Field(default=False, alias="continue-on-error")
    if_: Condition | None = Field(default=None, alias="if")
    matrix: dict[str, list[str | int | float | bool]] | None = Field(
        default=None, description="Run the stage once per combination: {mode: [standalone, integrated]}"
    )
    services: dict[str, Service] = Field(default_factory=dict, description="Started for this stage (per matrix entry)")
    steps: list[Step] = Field(min_length=1)

    @field_validator("if_", mode="before")
    @classmethod
    def _if(cls, value: Any) -> Any:
        return _condition(value)

    @field_validator("needs", mode="before")
    @classmethod
    def _needs(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    def instances(self, name: str) -> list[tuple[str, dict[str, Any]]]:
        """Each run of the stage: its key (`name`, or `name[mode=standalone]` per matrix entry) and matrix values."""
        combos: list[dict[str, Any]] = [{}]
        if self.matrix:
            keys = list(self.matrix)
            combos = [dict(zip(keys, values, strict=True)) for values in product(*(self.matrix[k] for k in keys))]
        return [(name + (f"[{','.join(f'{k}={v}' for k, v in combo.items())}]" if combo else ""), combo) for combo in combos]


NotifyWhen = Literal["always", "failure", "regression", "critical"]
NotifyWhat = Literal["summary", "failures", "regressions", "digest"]


class Smtp(StrictModel):
    host: str = "127.0.0.1"
    port: int = 25
    sender: str = Field(default="assay@localhost", alias="from")
    to: list[str] = Field(min_length=1)
    starttls: bool = False
    username: str | None = None
    password_env: str | None = Field(default=None, description="The environment variable holding the password")


class Notification(StrictModel):
    """One channel: where, when to send, and what."""

    type: Literal["slack", "webhook", "email"]
    name: str | None = None
    url: str | None = Field(default=None, description="The webhook URL (slack, webhook); ${env.X} expands")
    smtp: Smtp | None = None
    when: list[NotifyWhen] = Field(default_factory=lambda: ["failure"])  # type: ignore[arg-type]
    what: list[NotifyWhat] = Field(default_factory=lambda: ["summary", "failures", "regressions"])  # type: ignore[arg-type]
    digest_weekday: str = Field(default="mon", description="The weekly digest goes out on this day")
    critical_steps: list[str] = Field(
        default_factory=list, description="For when: critical, these steps (stage.step, globs) instead of those marked critical"
    )

    @model_validator(mode="after")
    def _where(self) -> Notification:
        if self.type == "email" and self.smtp is None:
            raise ValueError("an email notification needs smtp: {host, port, from, to}")
        if self.type != "email" and not self.url:
            raise ValueError(f"a {self.type} notification needs url")
        return self

    @field_validator("when", "what", mode="before")
    @classmethod
    def _listify(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class Trends(StrictModel):
    store: str | None = Field(default=None, description="Trend store URL (default: $ASSAY_DB_URL or .assay/trends.db)")
    record: bool = Field(default=True, description="Record every step's results and the night's summary")


class Plan(StrictModel):
    """One night: services, stages and what to tell people."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    description: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    services: dict[str, Service] = Field(default_factory=dict)
    stages: dict[str, Stage] = Field(min_length=1)
    notifications: list[Notification] = Field(default_factory=list)
    quarantine: list[str] = Field(
        default_factory=list, description="Steps (stage.step) or test names (globs) that run but cannot fail the night"
    )
    trends: Trends = Field(default_factory=Trends)
    artifacts: str = Field(default="out/plans", description="Where out/plans/<plan>/<run-id>/ goes")


__all__ = [
    "STEP_KINDS", "CanIDeployStep", "ChaosStep", "Condition", "ContractVerifyStep", "FaultStep", "LoadStep",
    "Notification", "Plan", "PublishStep", "Readiness", "Retry", "RunStep", "Service", "SloStep", "Smtp",
    "Stage", "Step", "StepBase", "TrendDetectStep", "TrendRecordStep", "Trends",
]
