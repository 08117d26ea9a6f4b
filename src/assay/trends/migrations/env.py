"""Alembic environment: run the trend store's migrations on the connection assay hands in."""

from __future__ import annotations

from assay.sqlstore import run_migrations
from assay.trends.models import Base

run_migrations(Base.metadata, "assay.trends.store.open_store()")
