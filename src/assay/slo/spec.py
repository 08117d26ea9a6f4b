"""The SLO file (`assay schema slo`): objectives, criteria, comparison and total-score thresholds.

The shape follows Keptn's slo.yaml (objectives with pass/warning criteria, weights, key
SLIs, a comparison block, total_score) with assay's additions: priorities P0/P1/P2, SLIs
drawn from a RunResult metric, a PromQL query or a derived ratio. Criteria are checked
when the file loads, so a malformed one is a located config error (exit 64).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from assay.config import StrictModel
from assay.results import parse_metric_name
from assay.slo.criteria import Criterion, parse_criterion

Priority = Literal["P0", "P1", "P2"]

EXAMPLE_OBJECTIVE = "objectives: [{sli: http_req_failed, pass: ['<0.01']}]"


class CriteriaGroup(StrictModel):
    """Keptn's `{criteria: [...]}`: every string must hold (AND); groups of a list are ORed."""

    criteria: list[str] = Field(min_length=1)

    @field_validator("criteria")
    @classmethod
    def _check(cls, value: list[str]) -> list[str]:
        for text in value:
            parse_criterion(text)
        return value

    def parsed(self) -> list[Criterion]:
        return [parse_criterion(t) for t in self.criteria]


def _normalise_criteria(value: Any) -> Any:
    """Accept `"<350"`, `["<350", ">10"]` (one AND group) or Keptn's `[{criteria: [...]}, ...]`."""
    if value is None:
        return None
    if isinstance(value, str):
        return [{"criteria": [value]}]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return [{"criteria": list(value)}]
    return value


class Operand(StrictModel):
    """One side of a derived ratio: a RunResult metric with an aggregation, or a PromQL query."""

    sli: str | None = None
    aggregation: str | None = None
    promql: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"sli": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one_source(self) -> Operand:
        if (self.sli is None) == (self.promql is None):
            raise ValueError("give exactly one of 'sli' (a metric name) or 'promql' (a query)")
        if self.sli is not None:
            parse_metric_name(self.sli)
        return self

    def label(self) -> str:
        if self.promql is not None:
            return f"promql({self.promql})"
        return f"{self.sli} {self.aggregation}" if self.aggregation else str(self.sli)


class Ratio(StrictModel):
    """A derived SLI: numerator / denominator (e.g. 503 responses over all requests)."""

    numerator: Operand
    denominator: Operand


class Objective(StrictModel):
    """One objective: an SLI, Keptn pass/warning criteria, a priority, a weight and a key flag."""

    name: str | None = Field(default=None, description="Stable id; defaults to the SLI and aggregation.")
    display_name: str | None = Field(
        default=None,
        validation_alias=AliasChoices("display_name", "displayName"),
        description="The title in reports. With a '%' in it (or in 'name'), rates and ratios print in percent (10.25%).",
    )
    sli: str | None = Field(
        default=None, description="A RunResult metric, e.g. http_req_duration{name:read}, http_req_failed, checks."
    )
    aggregation: str | None = Field(
        default=None,
        description="k6 aggregation: avg, min, max, med, p(N), count, rate, value, passes, fails. "
        "Defaults: rate for rates, count for counters, value for gauges; required for trends.",
    )
    promql: str | None = Field(
        default=None,
        description="A PromQL query run at the end of the run window; $DURATION_SECONDS, $START, $END "
        "and $<filter key> are substituted.",
    )
    prometheus: str | None = Field(default=None, description="Prometheus URL for this objective's query.")
    ratio: Ratio | None = None
    pass_: list[CriteriaGroup] | None = Field(default=None, alias="pass")
    warning: list[CriteriaGroup] | None = None
    priority: Priority = "P1"
    weight: int = Field(default=1, ge=0)
    key: bool = Field(default=False, validation_alias=AliasChoices("key", "key_sli"))

    @field_validator("pass_", "warning", mode="before")
    @classmethod
    def _criteria_shapes(cls, value: Any) -> Any:
        return _normalise_criteria(value)

    @field_validator("sli")
    @classmethod
    def _metric_name(cls, value: str | None) -> str | None:
        if value is not None:
            parse_metric_name(value)
        return value

    @model_validator(mode="after")
    def _one_source(self) -> Objective:
        given = [k for k in ("sli", "promql", "ratio") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "an objective needs exactly one SLI source: 'sli' (a result metric), 'promql' (a query) "
                f"or 'ratio' (numerator/denominator); got {', '.join(given) or 'none'}"
            )
        return self

    @property
    def id(self) -> str:
        if self.name:
            return self.name
        if self.sli is not None:
            return f"{self.sli} {self.aggregation}" if self.aggregation else self.sli
        if self.promql is not None:
            return self.display_name or self.promql
        assert self.ratio is not None
        return self.display_name or f"{self.ratio.numerator.label()} / {self.ratio.denominator.label()}"

    @property
    def title(self) -> str:
        return self.display_name or self.id

    @property
    def written_in_percent(self) -> bool:
        """`display_name: "errors < 0.1%"`: the author reads this SLI in percent, so reports print it so."""
        return "%" in (self.display_name or "") or "%" in (self.name or "")

    def pass_groups(self) -> list[list[Criterion]]:
        return [g.parsed() for g in self.pass_ or []]

    def warning_groups(self) -> list[list[Criterion]]:
        return [g.parsed() for g in self.warning or []]

    @property
    def informational(self) -> bool:
        """Keptn: an objective without pass criteria is shown but scores nothing."""
        return not self.pass_


class Comparison(StrictModel):
    """Keptn's comparison block: which earlier runs form the baseline and how they are aggregated.

    Without a block: one previous result. With a block that leaves `compare_with` out: three.
    `include_result_with_score` defaults to `pass` (Keptn's is `all`): the baseline is built
    from passing runs only, so a bad run cannot lower the bar for the next one.
    """

    compare_with: Literal["single_result", "several_results"] | None = None
    include_result_with_score: Literal["pass", "pass_or_warn", "all"] = "pass"
    number_of_comparison_results: int | None = Field(default=None, ge=1)
    aggregate_function: Literal["avg", "p50", "p90", "p95"] = "avg"

    def count(self) -> int:
        if self.compare_with == "single_result":
            return 1
        if self.compare_with == "several_results":
            return self.number_of_comparison_results or 3
        return 3


class TotalScore(StrictModel):
    """Score thresholds in percent; Keptn writes them as `"90%"`, plain numbers work too."""

    pass_: float = Field(default=90.0, alias="pass", ge=0, le=100)
    warning: float = Field(default=75.0, ge=0, le=100)

    @field_validator("pass_", "warning", mode="before")
    @classmethod
    def _percent(cls, value: Any) -> Any:
        if isinstance(value, str):
            return value.strip().removesuffix("%").strip()
        return value


class PrometheusSource(StrictModel):
    url: str
    timeout_s: float = Field(default=10.0, gt=0)


class SloFile(StrictModel):
    """An SLO file: objectives and total-score thresholds (plus optional comparison and Prometheus)."""

    spec_version: str | None = None
    name: str | None = None
    filter: dict[str, str] = Field(default_factory=dict)
    comparison: Comparison | None = None
    prometheus: PrometheusSource | None = None
    objectives: list[Objective]
    total_score: TotalScore = Field(default_factory=TotalScore)

    @field_validator("objectives")
    @classmethod
    def _some_objectives(cls, value: list[Objective]) -> list[Objective]:
        # Keptn fails an evaluation without objectives; a gate that can only fail is a mistake in the file.
        if not value:
            raise PydanticCustomError("no_objectives", "an SLO needs at least one objective, e.g. {example}", {"example": EXAMPLE_OBJECTIVE})
        return value

    @model_validator(mode="after")
    def _unique_ids(self) -> SloFile:
        seen: set[str] = set()
        for obj in self.objectives:
            if obj.id in seen:
                raise ValueError(f"two objectives are both named {obj.id!r}; give one a 'name'")
            seen.add(obj.id)
        return self

    def comparison_count(self) -> int:
        return 1 if self.comparison is None else self.comparison.count()

    def comparison_settings(self) -> Comparison:
        return self.comparison or Comparison(compare_with="single_result")
