"""Database URLs, engines and schema migrations for the broker.

SQLite is the embedded default (WAL, foreign keys on); PostgreSQL goes through
psycopg 3.  The schema is owned by Alembic: `open_database()` upgrades to head
before the broker serves a request, so an old database file just works.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from assay import sqlstore

MIGRATIONS = Path(__file__).with_name("migrations")
DEFAULT_URL = "sqlite:///assay-broker.db"


def normalize_url(url: str) -> str:
    """Accept the URLs people type (postgresql://, postgres://) and pick the psycopg 3 driver."""
    return sqlstore.normalize_url(url, "--db")


def make_engine(url: str) -> Engine:
    return sqlstore.make_engine(url, "--db")


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (idempotent; one migrator at a time on
    PostgreSQL; a newer or unreachable database is exit 64, not a traceback)."""
    sqlstore.upgrade(engine, MIGRATIONS, version_table="alembic_version", what="broker database")


def open_database(url: str) -> tuple[Engine, sessionmaker[Session]]:
    engine = make_engine(url)
    upgrade(engine)
    return engine, sessionmaker(engine, expire_on_commit=False)
