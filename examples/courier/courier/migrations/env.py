"""Alembic environment: courier always passes its own connection in `config.attributes`."""

from __future__ import annotations

from alembic import context

from courier.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "run courier's migrations through courier.migrate.upgrade(), which passes a connection"
    )

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
