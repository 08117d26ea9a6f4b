"""The outcome of one `assay slo check`: one verdict per result, and the exit code of the whole."""

from __future__ import annotations

from collections.abc import Sequence

from assay.results import RunResult
from assay.slo.evaluate import evaluate
from assay.slo.history import History, identities
from assay.slo.report import SloCheck
from assay.slo.spec import SloFile
from assay.status import GATE_EXIT_CODES, worst_gate


def check(
    slo: SloFile, results: Sequence[RunResult], *, history: History | None = None, slo_name: str | None = None
) -> SloCheck:
    """Evaluate every result against the SLO; the results checked together never baseline each other."""
    together = frozenset().union(*(identities(r) for r in results)) if results else frozenset()
    reports = [evaluate(slo, r, history=history, slo_name=slo_name, exclude=together) for r in results]
    status = worst_gate([r.status for r in reports])
    out = SloCheck(slo=slo_name or slo.name or "slo", status=status, exit_code=GATE_EXIT_CODES[status], evaluations=reports)
    out._results = list(results)
    return out
