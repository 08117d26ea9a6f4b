"""Recurring chaos experiments: a small store and what is due when.

SQLite under `.assay/chaos.db` by default, PostgreSQL (or another SQLite file) by `--db URL` or
`$ASSAY_DB_URL`, like every assay store (sqlstore.py). A schedule is a cron expression
(croniter, evaluated in UTC unless a timezone is given) or an interval; `run_due` runs each due
experiment once (missed occurrences are not caught up: one run, then the next future one) and
records the exit code. Time comes from a clock argument, so tests use a fake clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from sqlalchemy import Engine, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from assay.chaos.schedules.models import ScheduleRow, ScheduleRunRow
from assay.errors import UsageError
from assay.sqlstore import as_utc, make_engine, resolve_url, upgrade

MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "assay_chaos_schedule_version"
DEFAULT_URL = "sqlite:///.assay/chaos.db"


def store_url(url: str | None = None) -> str:
    """An explicit URL, else $ASSAY_DB_URL, else `.assay/chaos.db` here."""
    return resolve_url(url, DEFAULT_URL)


@dataclass(frozen=True)
class Schedule:
    name: str
    experiment: str
    cron: str | None
    every_s: float | None
    timezone: str
    args: list[str]
    enabled: bool
    next_due: datetime
    last_run_at: datetime | None
    last_exit: int | None

    @property
    def when(self) -> str:
        if self.cron:
            return f"cron '{self.cron}'" + (f" {self.timezone}" if self.timezone != "UTC" else "")
        return f"every {self.every_s:g}s"


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"--timezone {name!r}: not a known timezone (e.g. Europe/Paris, UTC)") from None


def next_after(cron: str | None, every_s: float | None, after: datetime, timezone: str = "UTC") -> datetime:
    """The next occurrence strictly after `after` (UTC in, UTC out)."""
    after = as_utc(after)
    if cron:
        local = after.astimezone(_zone(timezone))
        return as_utc(croniter(cron, local).get_next(datetime))
    assert every_s is not None
    return after + timedelta(seconds=every_s)


def check_when(cron: str | None, every_s: float | None, timezone: str = "UTC") -> None:
    if bool(cron) == (every_s is not None):
        raise UsageError("give exactly one of --cron EXPR or --every DURATION")
    if cron and not croniter.is_valid(cron):
        raise UsageError(f"--cron {cron!r}: not a cron expression (five fields: minute hour day month weekday)")
    if every_s is not None and every_s <= 0:
        raise UsageError("--every: expected a positive duration")
    _zone(timezone)


def _schedule(row: ScheduleRow) -> Schedule:
    return Schedule(row.name, row.experiment, row.cron, row.every_s, row.timezone, list(row.args or []), bool(row.enabled),
                    as_utc(row.next_due), as_utc(row.last_run_at) if row.last_run_at else None, row.last_exit)


class ScheduleStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions = sessionmaker(engine, expire_on_commit=False)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> ScheduleStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add(self, name: str, experiment: str, *, cron: str | None = None, every_s: float | None = None,
            timezone: str = "UTC", args: list[str] | None = None, now: datetime | None = None) -> Schedule:
        check_when(cron, every_s, timezone)
        now = as_utc(now or datetime.now(UTC))
        row = ScheduleRow(name=name, experiment=experiment, cron=cron, every_s=every_s, timezone=timezone,
                          args=list(args or []), enabled=1,
                          created_at=now, next_due=next_after(cron, every_s, now, timezone))
        try:
            with self.sessions.begin() as session:
                session.add(row)
        except IntegrityError:
            raise UsageError(f"a schedule named {name!r} exists already; remove it first or pick another name") from None
        return _schedule(row)

    def all(self) -> list[Schedule]:
        with self.sessions() as session:
            return [_schedule(r) for r in session.scalars(select(ScheduleRow).order_by(ScheduleRow.next_due, ScheduleRow.name))]

    def get(self, name: str) -> Schedule:
        with self.sessions() as session:
            row = session.scalars(select(ScheduleRow).where(ScheduleRow.name == name)).first()
        if row is None:
            known = ", ".join(s.name for s in self.all()) or "none"
            raise UsageError(f"no schedule named {name!r} (known: {known})")
        return _schedule(row)

    def remove(self, name: str) -> None:
        self.get(name)
        with self.sessions.begin() as session:
            session.execute(delete(ScheduleRow).where(ScheduleRow.name == name))

    def due(self, now: datetime) -> list[Schedule]:
        now = as_utc(now)
        return [s for s in self.all() if s.enabled and s.next_due <= now]

    def record(self, schedule: Schedule, started: datetime, finished: datetime, exit_code: int,
               journal: str | None) -> Schedule:
        """Store one run and move the schedule to its next occurrence after `finished`."""
        with self.sessions.begin() as session:
            row = session.scalars(select(ScheduleRow).where(ScheduleRow.name == schedule.name)).one()
            row.last_run_at = as_utc(started)
            row.last_exit = exit_code
            row.next_due = next_after(schedule.cron, schedule.every_s, max(as_utc(finished), as_utc(started)), schedule.timezone)
            session.add(ScheduleRunRow(schedule=schedule.name, started_at=as_utc(started), finished_at=as_utc(finished),
                                       exit_code=exit_code, journal=journal))
            out = _schedule(row)
        return out

    def runs(self, name: str | None = None) -> list[dict[str, Any]]:
        with self.sessions() as session:
            query = select(ScheduleRunRow).order_by(ScheduleRunRow.started_at)
            if name is not None:
                query = query.where(ScheduleRunRow.schedule == name)
            return [{"schedule": r.schedule, "started_at": as_utc(r.started_at), "finished_at": as_utc(r.finished_at),
                     "exit_code": r.exit_code, "journal": r.journal} for r in session.scalars(query)]


def open_store(url: str | None = None) -> ScheduleStore:
    """Open (and migrate) the store at `url`, $ASSAY_DB_URL or `.assay/chaos.db`."""
    engine = make_engine(store_url(url), "--db")
    upgrade(engine, MIGRATIONS, version_table=VERSION_TABLE, what="chaos schedule store")
    return ScheduleStore(engine)


Runner = Callable[[Schedule], tuple[int, str | None]]


def run_due(store: ScheduleStore, runner: Runner, clock: Callable[[], datetime]) -> list[tuple[Schedule, int]]:
    """Run every due schedule once, in due order; returns (schedule, exit code) for each."""
    done = []
    for schedule in store.due(clock()):
        started = clock()
        code, journal = runner(schedule)
        store.record(schedule, started, clock(), code, journal)
        done.append((schedule, code))
    return done


def run_forever(store: ScheduleStore, runner: Runner, clock: Callable[[], datetime],
                sleep: Callable[[float], bool], max_wait_s: float = 60.0) -> None:
    """Stay in the foreground: run what is due, then sleep until the next due time (at most
    `max_wait_s`, so schedules added meanwhile are seen). `sleep` returns True to stop."""
    while True:
        run_due(store, runner, clock)
        upcoming = [s.next_due for s in store.all() if s.enabled]
        wait = max_wait_s
        if upcoming:
            wait = min(max_wait_s, max(0.0, (min(upcoming) - clock()).total_seconds()))
        if sleep(wait):
            return
