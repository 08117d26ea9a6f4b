"""k6's `options` as a model: the top-level keys, thresholds, and each scenario as the union of the
executors' own option models (assay.load.executors), chosen by `executor`.

YAML files are validated with it (inside assay.load.spec.ScenarioFile); Python and k6 files are
checked against the same fields by assay.load.options, so both paths take the same keys. It
imports no config reader, so a Python scenario does not pay for the YAML parser.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Union

from pydantic import Discriminator, Field, Tag, field_validator

from assay.load.executors import EXECUTORS
from assay.load.executors.base import Duration, K6Model, ScenarioSpec, StageSpec, check_duration
from assay.load.limits import MAX_BODY_LIMIT


def _executor_tag(value: Any) -> str | None:
    """Which executor's options model a scenario mapping is validated with (None: no such executor)."""
    name = value.get("executor") if isinstance(value, dict) else getattr(value, "executor", None)
    cls = EXECUTORS.get(name) if isinstance(name, str) else None
    return cls.Options.__name__ if cls is not None else None


# One k6 scenario: the discriminated union of the executors' own option models (each declared in
# its executor's file, assay.load.executors), chosen by `executor`.
if TYPE_CHECKING:
    ScenarioOptions = ScenarioSpec
else:
    ScenarioOptions = Annotated[
        Union[tuple(Annotated[cls.Options, Tag(cls.Options.__name__)] for cls in EXECUTORS.values())],  # noqa: UP007
        Discriminator(
            _executor_tag,
            custom_error_type="invalid_executor",
            custom_error_message=f"executor must be one of {', '.join(EXECUTORS)}",
        ),
    ]


class ThresholdObject(K6Model):
    threshold: str
    abortOnFail: bool = False
    delayAbortEval: Duration | None = None


ThresholdEntry = str | ThresholdObject


class Options(K6Model):
    """k6's `options`: the same keys a Python scenario's `options` dict takes (assay.load.options
    checks a Python file's keys against these fields, so the two cannot drift)."""

    scenarios: dict[str, ScenarioOptions] | None = None
    thresholds: dict[str, ThresholdEntry | list[ThresholdEntry]] | None = None
    tags: dict[str, str] | None = None
    vus: int | None = Field(default=None, ge=0)
    duration: Duration | None = None
    iterations: int | None = Field(default=None, ge=0)
    stages: list[StageSpec] | None = None
    insecureSkipTLSVerify: bool | None = None
    summaryTrendStats: list[str] | None = None
    maxRedirects: int | None = Field(default=None, ge=0)
    userAgent: str | None = None
    discardResponseBodies: bool | None = None
    timeout: Duration | None = None
    headers: dict[str, str] | None = None
    setupTimeout: Duration | None = None
    teardownTimeout: Duration | None = None
    noConnectionReuse: bool | None = None
    maxResponseBodySize: int | None = Field(default=None, ge=0, le=MAX_BODY_LIMIT)
    # k6's global requests-per-second cap (0: none), and assay's warm-up kept out of gates and the
    # service's Prometheus metrics scraped into the result (assay.load.engine_options)
    rps: float | None = Field(default=None, ge=0)
    warmup: Duration | None = None
    scrape: str | list[str] | dict[str, Any] | None = None

    _check_duration = field_validator("duration", "timeout", "setupTimeout", "teardownTimeout", "warmup")(check_duration)
