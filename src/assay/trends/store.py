"""The results store: every recorded RunResult, its metrics with encoded histograms, and baselines.

SQLite under `.assay/` by default (WAL), PostgreSQL by URL (`--store` or `ASSAY_DB_URL`).
Each record is one transaction, so a kill -9 mid-record leaves the store as it was.
Trend metrics keep their HdrHistogram, so any percentile of any run, or of several runs
merged, is computed from the data rather than from stored summaries.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from assay.errors import UsageError
from assay.results import Metric, RunResult, utcnow
from assay.sqlstore import ENV_URL, as_utc, make_engine, resolve_url, upgrade
from assay.trends import histograms
from assay.trends.models import BaselineRow, PointRow, RunRow

MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "assay_trend_version"
DEFAULT_URL = "sqlite:///.assay/trends.db"


def store_url(url: str | None = None) -> str:
    """The store to use: an explicit URL, else $ASSAY_DB_URL, else `.assay/trends.db` here."""
    return resolve_url(url, DEFAULT_URL)


@dataclass(frozen=True)
class StoredRun:
    """One recorded run as the trends engine sees it (no metrics; those are fetched per series)."""

    pk: int
    run_id: str
    scenario: str
    name: str
    kind: str
    status: str
    at: datetime
    duration_s: float
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def short_id(self) -> str:
        return self.run_id[:12]


def scenario_of(result: RunResult) -> str:
    """Runs of the same scenario form one series: the `scenario` label, else the run's name."""
    return result.labels.get("scenario") or result.name


_POINT_COLUMNS = (
    PointRow.run_pk, PointRow.type, PointRow.contains, PointRow.count, PointRow.sum, PointRow.min, PointRow.max,
    PointRow.value, PointRow.passes, PointRow.fails, PointRow.hdr, PointRow.summary, PointRow.stats,
)


def metric_of(row: Any) -> Metric:
    """A stored point (ORM row or plain row with the same columns) as a Metric."""
    return Metric(
        type=row.type,  # type: ignore[arg-type]
        contains=row.contains,  # type: ignore[arg-type]
        count=row.count,
        sum=row.sum,
        min=row.min,
        max=row.max,
        value=row.value,
        passes=row.passes,
        fails=row.fails,
        hdr=row.hdr,
        summary=dict(row.summary or {}),
    )


_RUN_COLUMNS = (
    RunRow.id, RunRow.run_id, RunRow.scenario, RunRow.name, RunRow.kind, RunRow.status, RunRow.at, RunRow.duration_s,
    RunRow.labels,
)


def _stored(row: Any) -> StoredRun:
    return StoredRun(
        pk=row.id,
        run_id=row.run_id,
        scenario=row.scenario,
        name=row.name,
        kind=row.kind,
        status=row.status,
        at=as_utc(row.at),
        duration_s=row.duration_s,
        labels=dict(row.labels or {}),
    )


class TrendStore:
    """Open with `open_store(url)`; every method runs in its own short transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions = sessionmaker(engine, expire_on_commit=False)

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> TrendStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- recording ------------------------------------------------------------------------------

    def record(self, result: RunResult, *, at: datetime | None = None, labels: dict[str, str] | None = None) -> StoredRun:
        """Store one run with its labels and time, all or nothing."""
        # shallow: the caller's result keeps its labels; metrics are only read (and sealed, which is idempotent)
        result = result.model_copy(update={"labels": {**result.labels, **(labels or {})}})
        payload = result.to_json(indent=None)  # seals every histogram once
        when = as_utc(at or result.finished_at or result.started_at or utcnow())
        duration = result.duration_s or None
        row = RunRow(
            run_id=result.id,
            scenario=scenario_of(result),
            name=result.name,
            kind=result.kind,
            status=str(result.status),
            at=when,
            recorded_at=utcnow(),
            duration_s=result.duration_s,
            labels=dict(result.labels),
            source=result.source.path if result.source else None,
            result=payload,
        )
        for name, metric in result.metrics.items():
            row.points.append(
                PointRow(
                    metric=name,
                    type=str(metric.type),
                    contains=str(metric.contains),
                    count=metric.count,
                    sum=metric.sum,
                    min=metric.min,
                    max=metric.max,
                    value=metric.value,
                    passes=metric.passes,
                    fails=metric.fails,
                    hdr=metric.hdr,
                    summary=dict(metric.summary),
                    stats=histograms.values(metric, result.trend_stats, duration),
                )
            )
        try:
            with self.sessions.begin() as session:
                session.add(row)
        except IntegrityError:
            raise UsageError(f"run {result.id} is already in the store {self.url}") from None
        return _stored(row)

    # -- reading --------------------------------------------------------------------------------

    def runs(
        self,
        *,
        scenario: str | None = None,
        labels: dict[str, str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[StoredRun]:
        """Recorded runs, oldest first, filtered by scenario, labels and time."""
        # the whole RunResult JSON is not read here: 10,000 runs would drag megabytes through the driver
        query = select(*_RUN_COLUMNS).order_by(RunRow.at, RunRow.id)
        if scenario is not None:
            query = query.where(RunRow.scenario == scenario)
        if since is not None:
            query = query.where(RunRow.at >= as_utc(since))
        if until is not None:
            query = query.where(RunRow.at <= as_utc(until))
        # labels are filtered in Python: JSON operators differ per database
        with self.sessions() as session:
            rows = [_stored(r) for r in session.execute(query.execution_options(yield_per=1000))]
        if labels:
            rows = [r for r in rows if all(r.labels.get(k) == v for k, v in labels.items())]
        return rows

    def scenarios(self) -> list[str]:
        with self.sessions() as session:
            return list(session.scalars(select(RunRow.scenario).distinct().order_by(RunRow.scenario)))

    def metric_names(self, scenario: str | None = None) -> list[str]:
        query = select(PointRow.metric).distinct().order_by(PointRow.metric)
        if scenario is not None:
            query = query.join(RunRow).where(RunRow.scenario == scenario)
        with self.sessions() as session:
            return list(session.scalars(query))

    def metrics(self, name: str, runs: Sequence[StoredRun]) -> dict[int, Metric]:
        """The metric `name` of each run (by run pk), rebuilt with its histogram."""
        return {pk: metric for pk, (metric, _) in self.points(name, runs).items()}

    def points(self, name: str, runs: Sequence[StoredRun]) -> dict[int, tuple[Metric, dict[str, float]]]:
        """The metric `name` of each run with the aggregates computed when it was recorded."""
        wanted = [r.pk for r in runs]
        out: dict[int, tuple[Metric, dict[str, float]]] = {}
        with self.sessions() as session:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                # plain rows, not ORM objects: identity-map bookkeeping is most of the cost at 10,000 runs
                query = select(*_POINT_COLUMNS).where(PointRow.metric == name, PointRow.run_pk.in_(chunk))
                for row in session.execute(query):
                    out[row.run_pk] = (metric_of(row), dict(row.stats or {}))
        return out

    def stats(self, name: str, runs: Sequence[StoredRun]) -> dict[int, tuple[str, dict[str, float]]]:
        """The metric type and recorded aggregates of `name` for each run, without the histograms (cheap)."""
        wanted = [r.pk for r in runs]
        out: dict[int, tuple[str, dict[str, float]]] = {}
        with self.sessions() as session:
            for start in range(0, len(wanted), 1000):
                chunk = wanted[start : start + 1000]
                query = select(PointRow.run_pk, PointRow.type, PointRow.stats).where(PointRow.metric == name, PointRow.run_pk.in_(chunk))
                for pk, kind, stats in session.execute(query):
                    out[pk] = (kind, dict(stats or {}))
        return out

    def merged_metric(self, name: str, runs: Sequence[StoredRun]) -> Metric | None:
        """The metric of several runs merged exactly (e.g. all of Tuesday's runs), or None if absent."""
        merged: Metric | None = None
        for metric in self.metrics(name, runs).values():
            merged = metric if merged is None else merged.merge(metric)
        return merged

    def runs_with_ids(self, run_ids: Sequence[str]) -> list[str]:
        """Which of these full run ids are in the store."""
        with self.sessions() as session:
            return list(session.scalars(select(RunRow.run_id).where(RunRow.run_id.in_(list(run_ids)))))

    def result(self, run_id: str) -> RunResult:
        """The whole RunResult of a recorded run; `run_id` may be a unique prefix."""
        return self.results([self.find_run(run_id)])[0]

    def find_run(self, run_id: str) -> StoredRun:
        """The recorded run whose id is (or starts with) `run_id`."""
        with self.sessions() as session:
            rows = list(session.scalars(select(RunRow).where(RunRow.run_id.startswith(run_id)).limit(2)))
        if len(rows) != 1:
            what = "no run" if not rows else "more than one run starts with"
            raise UsageError(f"{what} {run_id!r} in the store {self.url}")
        return _stored(rows[0])

    def results(self, runs: Iterable[StoredRun]) -> list[RunResult]:
        pks = [r.pk for r in runs]
        with self.sessions() as session:
            by_pk = {row.id: row.result for row in session.scalars(select(RunRow).where(RunRow.id.in_(pks)))}
        return [RunResult.from_json(by_pk[pk]) for pk in pks if pk in by_pk]

    def version(self) -> tuple[int, int]:
        """(runs, newest run pk): changes whenever a run is recorded or deleted; one cheap query."""
        with self.sessions() as session:
            count, newest = session.execute(select(func.count(RunRow.id), func.max(RunRow.id))).one()
        return int(count or 0), int(newest or 0)

    def count(self) -> int:
        with self.sessions() as session:
            return int(session.scalar(select(func.count(RunRow.id))) or 0)

    # -- retention ------------------------------------------------------------------------------

    def retain(self, *, keep_days: float | None = None, keep_runs: int | None = None, now: datetime | None = None) -> int:
        """Delete runs older than `keep_days`, and beyond the newest `keep_runs` of each scenario.

        A run pinned by a named baseline is kept: the baseline is the reason to keep it
        (remove the baseline first to let it go)."""
        doomed: set[int] = set()
        runs = self.runs()
        if keep_days is not None:
            cutoff = as_utc(now or utcnow()) - timedelta(days=keep_days)
            doomed |= {r.pk for r in runs if r.at < cutoff}
        if keep_runs is not None:
            by_scenario: dict[str, list[StoredRun]] = {}
            for r in runs:
                by_scenario.setdefault(r.scenario, []).append(r)
            for group in by_scenario.values():
                doomed |= {r.pk for r in group[: max(0, len(group) - keep_runs)]}
        pinned = {b.run_id for b in self.baselines() if b.run_id}
        doomed -= {r.pk for r in runs if r.run_id in pinned}
        if doomed:
            with self.sessions.begin() as session:
                ids = sorted(doomed)
                for start in range(0, len(ids), 500):
                    chunk = ids[start : start + 500]
                    session.execute(delete(PointRow).where(PointRow.run_pk.in_(chunk)))
                    session.execute(delete(RunRow).where(RunRow.id.in_(chunk)))
        return len(doomed)

    # -- baselines ------------------------------------------------------------------------------

    def set_baseline(self, name: str, *, run_id: str | None = None, window: str | None = None) -> BaselineRow:
        if run_id is not None and window is not None:
            raise UsageError("a baseline is either a pinned run or a window, not both")
        if run_id is None and window is None:
            raise UsageError(f"baseline {name!r}: name a run to pin (id or prefix) or give --window, e.g. --window 'last 7 days'")
        if run_id is not None:
            run_id = self.find_run(run_id).run_id
        with self.sessions.begin() as session:
            row = session.get(BaselineRow, name) or BaselineRow(name=name)
            row.run_id, row.window, row.created_at = run_id, window, utcnow()
            session.add(row)
        return row

    def baseline(self, name: str) -> BaselineRow:
        with self.sessions() as session:
            row = session.get(BaselineRow, name)
            if row is None:
                known = list(session.scalars(select(BaselineRow.name)))
                from assay.trends.series import did_you_mean

                raise UsageError(f"no baseline {name!r} in the store {self.url}{did_you_mean(name, known)}")
            return row

    def baselines(self) -> list[BaselineRow]:
        with self.sessions() as session:
            return list(session.scalars(select(BaselineRow).order_by(BaselineRow.name)))

    def delete_baseline(self, name: str) -> None:
        self.baseline(name)
        with self.sessions.begin() as session:
            session.execute(delete(BaselineRow).where(BaselineRow.name == name))


def open_store(url: str | None = None) -> TrendStore:
    """Open (and migrate) the store at `url`, $ASSAY_DB_URL or `.assay/trends.db`."""
    engine = make_engine(store_url(url), "--store")
    upgrade(engine, MIGRATIONS, version_table=VERSION_TABLE, what="trend store")
    return TrendStore(engine)


__all__ = ["DEFAULT_URL", "ENV_URL", "StoredRun", "TrendStore", "open_store", "scenario_of", "store_url"]
