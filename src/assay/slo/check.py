"""The outcome of one `assay slo check`: one verdict per result, and the exit code of the whole."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, Field, PrivateAttr

from assay.results import RunResult
from assay.slo.evaluate import EXIT_CODES, GateStatus, SloReport
from assay.slo.history import History
from assay.slo.spec import SloFile

_ORDER: list[str] = ["PASS", "WARNING", "FAIL", "CRITICAL"]


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


def worst(statuses: Sequence[str]) -> GateStatus:
    out = "PASS"
    for s in statuses:
        if _ORDER.index(s) > _ORDER.index(out):
            out = s
    return out  # type: ignore[return-value]


def check(
    slo: SloFile, results: Sequence[RunResult], *, history: History | None = None, slo_name: str | None = None
) -> SloCheck:
    """Evaluate every result against the SLO; the results checked together never baseline each other."""
    from assay.slo.evaluate import evaluate
    from assay.slo.history import identities

    together = frozenset().union(*(identities(r) for r in results)) if results else frozenset()
    reports = [evaluate(slo, r, history=history, slo_name=slo_name, exclude=together) for r in results]
    status = worst([r.status for r in reports])
    out = SloCheck(slo=slo_name or slo.name or "slo", status=status, exit_code=EXIT_CODES[status], evaluations=reports)
    out._results = list(results)
    return out
