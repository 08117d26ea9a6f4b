"""Where baselines come from: earlier runs, newest first, filtered by how they were judged.

`History` is the small interface relative criteria need; `DirectoryHistory` reads a folder
of result files, and the trends store implements the same Protocol later.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

from assay.errors import UsageError
from assay.results import RunResult
from assay.status import verdict_of_gate, verdict_of_run

if TYPE_CHECKING:
    from assay.slo.report import SloCheck

Include = Literal["pass", "pass_or_warn", "all"]

_RESULT_SUFFIXES = {".json", ".ndjson", ".csv", ".gz", ".jsonl"}


@runtime_checkable
class History(Protocol):
    """Earlier results for baselines (Keptn's previous evaluations)."""

    def passing_results(self, n: int, *, include: Include = "pass", exclude_ids: frozenset[str] = frozenset()) -> list[RunResult]:
        """Up to `n` earlier results, newest first, whose verdict `include` accepts."""
        ...


def verdict_of(result: RunResult) -> str:
    """pass | warning | fail: an SLO verdict recorded on the result wins over its run status."""
    slo = result.extra.get("slo")
    if isinstance(slo, dict) and isinstance(slo.get("status"), str):
        return verdict_of_gate(slo["status"])
    return verdict_of_run(result.status)


def identities(result: RunResult) -> frozenset[str]:
    """What makes a result "the same run": its id, and the file it was read from (k6 files have no id)."""
    keys = {result.id}
    if result.source is not None and result.source.path:
        keys.add("file:" + str(Path(result.source.path).resolve()))
    return frozenset(keys)


def accepts(include: Include, verdict: str) -> bool:
    if include == "all":
        return True
    if include == "pass_or_warn":
        return verdict in ("pass", "warning")
    return verdict == "pass"


def _when(result: RunResult, path: Path) -> datetime:
    stamp = result.finished_at or result.started_at
    if stamp is not None:
        return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)


class DirectoryHistory:
    """A folder of result files (assay JSON or any k6 file), ordered by their run time."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        if not self.directory.is_dir():
            why = "is a file, expected a folder of earlier results" if self.directory.exists() else "baseline folder does not exist"
            raise UsageError(f"{self.directory}: {why}")
        self._loaded: list[tuple[datetime, RunResult]] | None = None

    def _all(self) -> list[tuple[datetime, RunResult]]:
        if self._loaded is None:
            from assay.formats import load_result

            loaded: list[tuple[datetime, RunResult]] = []
            for path in sorted(self.directory.iterdir()):
                if not path.is_file() or path.name.startswith(".") or path.suffix.lower() not in _RESULT_SUFFIXES:
                    continue
                result = load_result(path)
                loaded.append((_when(result, path), result))
            loaded.sort(key=lambda item: item[0], reverse=True)
            self._loaded = loaded
        return self._loaded

    def passing_results(self, n: int, *, include: Include = "pass", exclude_ids: frozenset[str] = frozenset()) -> list[RunResult]:
        out: list[RunResult] = []
        for _, result in self._all():
            if identities(result) & exclude_ids or not accepts(include, verdict_of(result)):
                continue
            out.append(result)
            if len(out) >= n:
                break
        return out


def judged_results(check: SloCheck) -> list[RunResult]:
    """Copies of the checked results carrying their SLO verdict in `extra.slo` (what baselines filter on)."""
    out = []
    for report, result in zip(check.evaluations, check.results, strict=True):
        verdict = verdict_of_gate(report.status)
        stored = result.model_copy(deep=True)
        stored.extra["slo"] = {"slo": report.slo, "status": verdict, "score": report.score}
        out.append(stored)
    return out


def record_verdicts(check: SloCheck, directory: str | Path) -> list[Path]:
    """Save each checked result, with its SLO verdict in `extra.slo`, as assay JSON in `directory`.

    The verdict (not the run's own status) then decides whether the run may serve as a baseline.
    """
    from datetime import UTC, datetime

    folder = Path(directory)
    written: list[Path] = []
    for stored in judged_results(check):
        when = stored.finished_at or stored.started_at or datetime.now(UTC)
        written.append(stored.save(folder / f"{when:%Y%m%dT%H%M%S}-{stored.id[:12]}.json"))
    return written


class ListHistory:
    """History held in memory (results from a plan's earlier stages, or tests), newest first."""

    def __init__(self, results: list[RunResult]) -> None:
        self.results = list(results)

    def passing_results(self, n: int, *, include: Include = "pass", exclude_ids: frozenset[str] = frozenset()) -> list[RunResult]:
        picked = [r for r in self.results if not identities(r) & exclude_ids and accepts(include, verdict_of(r))]
        return picked[:n]
