"""Fixtures for the trends tests: runs with real histograms, and stores on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from assay.results import Metric, RunResult
from assay.trends.store import TrendStore, open_store

ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
DAY0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # a Monday, 02:00 UTC: the nightly slot


def make_run(
    latency_ms: float,
    *,
    day: int = 0,
    samples: int = 400,
    seed: int | None = None,
    labels: dict[str, str] | None = None,
    rps: float = 50.0,
    failed: float = 0.01,
    extra_metrics: int = 0,
) -> RunResult:
    """A load run whose latencies are lognormal around `latency_ms`, with a histogram per trend."""
    rng = np.random.default_rng(seed if seed is not None else day)
    duration = samples / rps
    result = RunResult(name="nightly", labels={"scenario": "nightly", **(labels or {})}, duration_s=duration)
    result.started_at = DAY0 + timedelta(days=day)
    result.finished_at = result.started_at + timedelta(seconds=duration)
    trend = Metric.builtin("http_req_duration")
    create = Metric.builtin("http_req_duration{name:create}")
    for v in rng.lognormal(np.log(latency_ms), 0.25, samples):
        trend.add(float(v))
        create.add(float(v) * 1.5)
    result.metrics["http_req_duration"] = trend.seal()
    result.metrics["http_req_duration{name:create}"] = create.seal()
    reqs = Metric.builtin("http_reqs")
    reqs.sum, reqs.count = float(samples), samples
    result.metrics["http_reqs"] = reqs
    fails = Metric.builtin("http_req_failed")
    fails.passes = int(samples * failed)
    fails.fails = samples - fails.passes
    fails.count = samples
    result.metrics["http_req_failed"] = fails
    for k in range(extra_metrics):
        m = Metric.builtin(f"http_req_duration{{name:op{k}}}")
        for v in rng.lognormal(np.log(latency_ms), 0.25, 50):
            m.add(float(v))
        result.metrics[f"http_req_duration{{name:op{k}}}"] = m.seal()
    return result


@pytest.fixture
def run_factory() -> Callable[..., RunResult]:
    return make_run


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    psycopg = pytest.importorskip("psycopg")
    name = f"assay_trends_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(ADMIN, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        pytest.skip(f"the machine's PostgreSQL is not reachable: {exc}")
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _reset(store: TrendStore) -> None:
    from assay.trends.models import Base

    with store.engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TrendStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'trends.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    with open_store(url) as s:
        _reset(s)
        yield s
