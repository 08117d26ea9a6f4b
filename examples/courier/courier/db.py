"""The database behind a circuit breaker, with a timeout on every call.

SQLAlchemy runs synchronously in a dedicated thread pool sized like the connection
pool; the event loop only awaits futures with a deadline. Connection-level failures
count against the breaker and surface as DbUnavailable (a 503), never a 500.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from courier import faults
from courier.breaker import CircuitBreaker, CircuitOpen, State
from courier.errors import DbUnavailable
from courier.metrics import Metrics
from courier.settings import Settings

T = TypeVar("T")
log = logging.getLogger("courier.db")

MIGRATIONS = Path(__file__).parent / "migrations"
UNAVAILABLE = (OperationalError, InterfaceError, DisconnectionError, PoolTimeout)


def engine_url(url: str) -> str:
    """postgresql:// means psycopg 3 here; SQLAlchemy would otherwise pick psycopg2."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(settings: Settings) -> Engine:
    url = engine_url(settings.database_url)
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"timeout": settings.db_timeout_s, "check_same_thread": False},
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout=settings.db_pool_timeout_s,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_engine(
        url,
        connect_args={
            "connect_timeout": max(1, math.ceil(settings.db_connect_timeout_s)),
            "options": f"-c statement_timeout={int(settings.db_timeout_s * 1000)}",
            "keepalives": 1,
            "keepalives_idle": 5,
            "keepalives_interval": 2,
            "keepalives_count": 2,
        },
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_s,
        pool_pre_ping=True,
    )


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Run the Alembic migrations on this engine."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    # No outer transaction: Alembic runs its own, and a migration may step out of it
    # (CREATE INDEX CONCURRENTLY in 0002).
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        conn.commit()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None before the first migration)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


class Database:
    def __init__(self, settings: Settings, metrics: Metrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.engine = make_engine(settings)
        self.timeout = settings.db_timeout_s
        self.executor = ThreadPoolExecutor(
            max_workers=settings.db_pool_size + settings.db_max_overflow, thread_name_prefix="courier-db"
        )
        # SQLite has one writer; funnel writes through one thread instead of letting them
        # collide and sleep in SQLite's busy handler.
        self.writer = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="courier-db-writer")
            if self.engine.dialect.name == "sqlite"
            else self.executor
        )
        self.breaker = CircuitBreaker(
            settings.breaker_failure_threshold, settings.breaker_reset_s, self._changed
        )
        self.migrated = not settings.migrate_on_start
        metrics.watch_pool(self.pool_stats)

    def _changed(self, state: State) -> None:
        self.metrics.breaker_state.set(int(state))
        self.metrics.breaker_transitions.labels(state.name.lower()).inc()
        log.warning("database circuit breaker is now %s", state.name.lower())

    def pool_stats(self) -> dict[str, int]:
        pool: Any = self.engine.pool
        stats: dict[str, int] = {}
        for name in ("size", "checkedout", "checkedin", "overflow"):
            fn = getattr(pool, name, None)
            if callable(fn):
                stats[name.replace("checked", "checked_")] = max(0, int(fn()))
        return stats

    def _call(self, fn: Callable[[Connection], T], write: bool, point: Any = faults.DB) -> T:
        try:
            point.check()
            if write:
                with self.engine.begin() as conn:
                    return fn(conn)
            with self.engine.connect() as conn:
                return fn(conn)
        except UNAVAILABLE as exc:
            raise DbUnavailable(type(exc).__name__) from exc
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise DbUnavailable("connection lost") from exc
            raise

    async def run(
        self, fn: Callable[[Connection], T], *, write: bool = False, timeout: float | None = None,
        point: Any = faults.DB,
    ) -> T:
        """Run fn(conn) in the DB thread pool (in a transaction when write=True), guarded and timed.
        `point` is the in-process fault point it passes (courier.faults): requests' queries pass
        `db.query`; courier's own metric sampling passes `metrics.db`."""
        if not self.migrated:
            raise DbUnavailable("schema not migrated yet")
        try:
            self.breaker.before_call()
        except CircuitOpen:
            self.metrics.breaker_rejections.inc()
            raise DbUnavailable("circuit open") from None
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self.writer if write else self.executor, self._call, fn, write, point)
        try:
            result = await asyncio.wait_for(future, timeout or self.timeout)
        except TimeoutError:
            self.metrics.db_errors.labels("timeout").inc()
            self.breaker.record_failure()
            raise DbUnavailable("timeout") from None
        except DbUnavailable as exc:
            self.metrics.db_errors.labels("unavailable").inc()
            self.breaker.record_failure()
            raise DbUnavailable(exc.reason) from None
        except asyncio.CancelledError:
            raise
        except BaseException:
            # The database answered (e.g. an integrity error): it is up.
            self.breaker.record_success()
            raise
        self.breaker.record_success()
        return result

    async def ping(self, timeout: float) -> None:
        await self.run(lambda conn: conn.execute(text("SELECT 1")).scalar(), timeout=timeout)

    async def migrate(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(
                loop.run_in_executor(self.executor, upgrade, self.engine, self.settings.migrate_target),
                self.timeout + self.settings.db_connect_timeout_s,
            )
        except UNAVAILABLE as exc:
            raise DbUnavailable(type(exc).__name__) from None
        except TimeoutError:
            raise DbUnavailable("timeout") from None
        self.migrated = True

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.writer.shutdown(wait=False, cancel_futures=True)
        self.engine.dispose()
