"""Alembic environment: run migrations on the connection the broker hands in."""

from __future__ import annotations

from alembic import context

from assay.contracts.broker.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reached when someone runs alembic by hand
    raise RuntimeError("run migrations through assay.contracts.broker.db.upgrade()")
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
