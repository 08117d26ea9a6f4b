"""Database URLs, engines and schema migrations for the broker.

SQLite is the embedded default (WAL, foreign keys on); PostgreSQL goes through
psycopg 3.  The schema is owned by Alembic: `open_database()` upgrades to head
before the broker serves a request, so an old database file just works.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from assay.errors import UsageError

MIGRATIONS = Path(__file__).with_name("migrations")
DEFAULT_URL = "sqlite:///assay-broker.db"


def normalize_url(url: str) -> str:
    """Accept the URLs people type (postgresql://, postgres://) and pick the psycopg 3 driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise UsageError(
            f"--db: not a database URL: {url!r} (use sqlite:///path.db or postgresql://...)"
        ) from exc
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise UsageError(
            f"--db: unsupported database {parsed.get_backend_name()!r}; use sqlite or postgresql"
        )
    return url


def make_engine(url: str) -> Engine:
    url = normalize_url(url)
    kwargs: dict[str, Any] = {"future": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    else:
        # no pre-ping: it costs a round trip per request; recycle instead so stale connections age out
        kwargs.update(pool_size=5, max_overflow=10, pool_recycle=1800)
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

    return engine


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (idempotent)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def open_database(url: str) -> tuple[Engine, sessionmaker[Session]]:
    engine = make_engine(url)
    upgrade(engine)
    return engine, sessionmaker(engine, expire_on_commit=False)
