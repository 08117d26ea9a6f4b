"""Alembic environment: run the chaos schedule store's migrations on the connection assay hands in."""

from __future__ import annotations

from assay.chaos.schedules.models import Base
from assay.sqlstore import run_migrations

run_migrations(Base.metadata, "assay.chaos.schedules.store.open_store()")
