"""Alembic environment: run the broker's migrations on the connection assay hands in."""

from __future__ import annotations

from assay.contracts.broker.models import Base
from assay.sqlstore import run_migrations

run_migrations(Base.metadata, "assay.contracts.broker.db.upgrade()")
