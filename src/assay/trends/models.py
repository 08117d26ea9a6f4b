"""The trend store's tables (SQLAlchemy 2 declarative).

One row per recorded run (its labels, time and the whole RunResult JSON, so the SLO
history can hand runs back), one row per metric of a run with its exact aggregates
and the encoded HdrHistogram (so "p99.9 over last week" is answered from the data,
not from summaries), and named baselines. `stats` keeps k6's usual aggregates as
plain numbers for SQL readers such as a Grafana PostgreSQL data source.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class RunRow(Base):
    __tablename__ = "trend_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(String(64), unique=True)
    scenario: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    duration_s: Mapped[float] = mapped_column(Float)
    labels: Mapped[dict[str, str]] = mapped_column(JSON)
    source: Mapped[str | None] = mapped_column(String(1024))
    result: Mapped[str] = mapped_column(Text)
    points: Mapped[list[PointRow]] = relationship(back_populates="run", cascade="all, delete-orphan", passive_deletes=True)

    __table_args__ = (Index("ix_trend_runs_scenario_at", "scenario", "at"),)


class PointRow(Base):
    __tablename__ = "trend_points"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_pk: Mapped[int] = mapped_column(ForeignKey("trend_runs.id", ondelete="CASCADE"))
    metric: Mapped[str] = mapped_column(String(512))
    type: Mapped[str] = mapped_column(String(16))
    contains: Mapped[str] = mapped_column(String(16))
    count: Mapped[int] = mapped_column(Integer)
    sum: Mapped[float] = mapped_column(Float)
    min: Mapped[float | None] = mapped_column(Float)
    max: Mapped[float | None] = mapped_column(Float)
    value: Mapped[float | None] = mapped_column(Float)
    passes: Mapped[int] = mapped_column(Integer)
    fails: Mapped[int] = mapped_column(Integer)
    hdr: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[dict[str, float]] = mapped_column(JSON)
    stats: Mapped[dict[str, Any]] = mapped_column(JSON)
    run: Mapped[RunRow] = relationship(back_populates="points")

    __table_args__ = (Index("ix_trend_points_metric_run", "metric", "run_pk"),)


class BaselineRow(Base):
    __tablename__ = "trend_baselines"
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    run_id: Mapped[str | None] = mapped_column(String(64))
    window: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
