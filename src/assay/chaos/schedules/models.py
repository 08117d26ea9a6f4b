"""The chaos schedule store's tables: recurring experiments and the runs they made."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Float, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class ScheduleRow(Base):
    __tablename__ = "chaos_schedules"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    experiment: Mapped[str] = mapped_column(String(1024))
    cron: Mapped[str | None] = mapped_column(String(255))
    every_s: Mapped[float | None] = mapped_column(Float)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    args: Mapped[list[str]] = mapped_column(JSON)
    enabled: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    next_due: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_exit: Mapped[int | None] = mapped_column(Integer)


class ScheduleRunRow(Base):
    __tablename__ = "chaos_schedule_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    schedule: Mapped[str] = mapped_column(String(255), index=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    exit_code: Mapped[int] = mapped_column(Integer)
    journal: Mapped[str | None] = mapped_column(String(1024))
