"""Database URLs, engines and Alembic upgrades shared by assay's stores.

SQLite is the embedded default (WAL, foreign keys on, a busy timeout so concurrent
writers wait instead of failing); PostgreSQL goes through psycopg 3. Each store owns
its migrations folder and its own Alembic version table, so several stores can share
one PostgreSQL database, and an advisory lock lets several machines open a fresh
store at once. A database migrated by a newer assay is refused (exit 64)
instead of being half-understood.
"""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, MetaData, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError

from assay.errors import UsageError

ENV_URL = "ASSAY_DB_URL"


def resolve_url(url: str | None, default: str) -> str:
    """An explicit URL, else $ASSAY_DB_URL (the URL every assay store reads), else the store's `default`."""
    return url or os.environ.get(ENV_URL) or default


def as_utc(stamp: datetime) -> datetime:
    """A stored timestamp as aware UTC (SQLite hands back naive datetimes; they were stored as UTC)."""
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


def normalize_url(url: str, option: str = "--db") -> str:
    """Accept the URLs people type (postgresql://, postgres://) and pick the psycopg 3 driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise UsageError(f"{option}: not a database URL: {url!r} (use sqlite:///path.db or postgresql://...)") from exc
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise UsageError(f"{option}: unsupported database {parsed.get_backend_name()!r}; use sqlite or postgresql")
    return url


def make_engine(url: str, option: str = "--db") -> Engine:
    url = normalize_url(url, option)
    kwargs: dict[str, Any] = {}
    sqlite = url.startswith("sqlite")
    if sqlite:
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
    else:
        kwargs.update(pool_size=5, max_overflow=10, pool_recycle=1800)
    engine = create_engine(url, **kwargs)
    if sqlite:

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

    return engine


def migration_lock_key(version_table: str) -> int:
    """A stable signed 64-bit key for PostgreSQL's advisory lock guarding one store's migrations."""
    digest = hashlib.blake2b(f"assay-migrations:{version_table}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def upgrade(engine: Engine, migrations: Path, *, version_table: str, what: str) -> None:
    """Bring the schema to the newest revision of `migrations`; refuse a newer database (exit 64)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations))
    cfg.attributes["version_table"] = version_table
    script = ScriptDirectory.from_config(cfg)
    known = {rev.revision for rev in script.walk_revisions()}
    try:
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                # several machines opening a fresh store at once: one migrates, the others wait for
                # it and then find the schema current (without the lock they race on CREATE TABLE)
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": migration_lock_key(version_table)})
            current = MigrationContext.configure(conn, opts={"version_table": version_table}).get_current_heads()
            unknown = [rev for rev in current if rev not in known]
            if unknown:
                raise UsageError(
                    f"{what} {engine.url.render_as_string(hide_password=True)} has schema version "
                    f"{', '.join(unknown)}, newer than this assay knows ({script.get_current_head()}); "
                    "upgrade assay to read it"
                )
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    except OperationalError as exc:
        raise UsageError(
            f"{what} {engine.url.render_as_string(hide_password=True)}: cannot open ({exc.orig})"
        ) from None


def run_migrations(metadata: MetaData, entry: str) -> None:
    """The body of every store's migrations/env.py: migrate on the connection assay hands in.

    `entry` names the function to call instead when someone runs alembic by hand. The version
    table is the one `upgrade` chose for the store (Alembic's default when none was given).
    """
    from alembic import context

    attributes = context.config.attributes
    connection = attributes.get("connection")
    if connection is None:  # pragma: no cover - only reached when someone runs alembic by hand
        raise RuntimeError(f"run migrations through {entry}")
    options: dict[str, Any] = {}
    if "version_table" in attributes:
        options["version_table"] = attributes["version_table"]
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True, **options)
    with context.begin_transaction():
        context.run_migrations()
