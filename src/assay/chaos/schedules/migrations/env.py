"""Alembic environment: run the chaos schedule store's migrations on the connection assay hands in."""

from __future__ import annotations

from alembic import context

from assay.chaos.schedules.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reached when someone runs alembic by hand
    raise RuntimeError("run migrations through assay.chaos.schedules.store.open_store()")
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,
    version_table=context.config.attributes["version_table"],
)
with context.begin_transaction():
    context.run_migrations()
