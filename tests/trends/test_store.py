"""The store: round trips on SQLite and PostgreSQL, exact histograms, retention, kill -9, concurrency, versions."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from assay.errors import UsageError
from assay.results import RunResult, merge_results
from assay.trends.store import TrendStore, open_store

ASSAY = [sys.executable, "-m", "assay"]


def test_round_trip_keeps_labels_time_and_exact_histograms(store: TrendStore, run_factory: Callable[..., RunResult]) -> None:
    runs = [run_factory(100 + day, day=day, labels={"git_sha": f"sha{day}"}) for day in range(3)]
    backfill = datetime(2025, 12, 24, 2, 0, tzinfo=UTC)
    stored = [store.record(r, labels={"env": "staging"}) for r in runs[:2]]
    stored.append(store.record(runs[2], at=backfill))
    listed = store.runs()
    assert [r.run_id for r in listed] == [runs[2].id, runs[0].id, runs[1].id]  # ordered by time
    assert listed[0].at == backfill and listed[1].at == runs[0].finished_at
    assert listed[1].labels["env"] == "staging" and listed[1].labels["git_sha"] == "sha0"
    assert store.runs(labels={"env": "staging"}) == listed[1:]
    # Every percentile, including ones nobody stored as a number, is the same as from the original run.
    by_pk = store.metrics("http_req_duration", listed)
    for run in listed:
        original = next(r for r in runs if r.id == run.run_id).metrics["http_req_duration"]
        for key in ("p(50)", "p(95)", "p(99.9)", "avg", "min", "max"):
            assert by_pk[run.pk].stat(key) == original.stat(key)
    # Merging stored runs equals merging the results themselves.
    merged = store.merged_metric("http_req_duration", listed)
    assert merged is not None
    expected = merge_results(runs).metrics["http_req_duration"]
    assert merged.stat("p(99)") == expected.stat("p(99)") and merged.count == expected.count
    # The whole result comes back (the SLO history reads it).
    assert store.result(runs[0].id[:10]).metrics["http_req_failed"].passes == runs[0].metrics["http_req_failed"].passes
    with pytest.raises(UsageError, match="already in the store"):
        store.record(runs[0])
    assert store.count() == 3


def test_retention_by_days_and_runs(store: TrendStore, run_factory: Callable[..., RunResult]) -> None:
    for day in range(10):
        store.record(run_factory(100, day=day))
    other = run_factory(100, day=9, labels={"scenario": "other"})
    store.record(other)
    now = datetime(2026, 3, 11, 12, 0, tzinfo=UTC)  # day 9 is 2026-03-11
    assert store.retain(keep_days=3.5, now=now) == 6  # before 03-08 00:00: days 0..5 go
    assert [r.at.day for r in store.runs(scenario="nightly")] == [8, 9, 10, 11]
    assert store.retain(keep_runs=1) == 3
    assert len(store.runs(scenario="nightly")) == 1 and len(store.runs(scenario="other")) == 1
    with store.sessions() as session:  # points went with their runs
        assert session.execute(text("select count(distinct run_pk) from trend_points")).scalar() == 2


def test_retention_keeps_runs_pinned_by_a_baseline(store: TrendStore, run_factory: Callable[..., RunResult]) -> None:
    ids = [store.record(run_factory(100, day=day)).run_id for day in range(6)]
    store.set_baseline("release-1.4", run_id=ids[1][:8])
    assert store.retain(keep_runs=2) == 3  # days 0, 2, 3 go; day 1 is pinned
    assert [r.run_id for r in store.runs()] == [ids[1], ids[4], ids[5]]
    store.delete_baseline("release-1.4")
    assert store.retain(keep_runs=2) == 1
    assert [r.run_id for r in store.runs()] == [ids[4], ids[5]]


def test_newer_schema_is_refused_with_exit_64(tmp_path: Path, run_factory: Callable[..., RunResult]) -> None:
    url = f"sqlite:///{tmp_path / 'trends.db'}"
    with open_store(url) as s:
        with s.engine.begin() as conn:
            conn.execute(text("update assay_trend_version set version_num = 't9999'"))
    path = run_factory(100).save(tmp_path / "run.json")
    out = subprocess.run([*ASSAY, "trend", "record", str(path), "--store", url], capture_output=True, text=True, timeout=60)
    assert out.returncode == 64
    assert "schema version t9999, newer than this assay" in out.stderr and "Traceback" not in out.stderr


def test_bad_store_url_and_bad_files_exit_64(tmp_path: Path) -> None:
    out = subprocess.run([*ASSAY, "trend", "runs", "--store", "mysql://x/y"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 64 and "unsupported database 'mysql'" in out.stderr
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema": "assay.slo/1", "slo": "x"}')
    url = f"sqlite:///{tmp_path / 't.db'}"
    out = subprocess.run([*ASSAY, "trend", "record", str(bad), "--store", url], capture_output=True, text=True, timeout=60)
    assert out.returncode == 64 and "bad.json" in out.stderr and "Traceback" not in out.stderr
    out = subprocess.run([*ASSAY, "trend", "record", str(bad), "--at", "yesterday", "--store", url], capture_output=True, text=True, timeout=60)
    assert out.returncode == 64 and "--at 'yesterday'" in out.stderr


def _points_per_run(url: str) -> dict[str, int]:
    with open_store(url) as s, s.sessions() as session:
        rows = session.execute(
            text("select r.run_id, count(p.id) from trend_runs r left join trend_points p on p.run_pk = r.id group by r.run_id")
        )
        return {run_id: int(n) for run_id, n in rows}


@pytest.mark.slow
def test_kill_9_mid_record_leaves_the_store_as_it_was(tmp_path: Path, run_factory: Callable[..., RunResult]) -> None:
    url = f"sqlite:///{tmp_path / 'trends.db'}"
    with open_store(url) as s:
        s.record(run_factory(100, day=0))
    big = run_factory(100, day=1, extra_metrics=1500)
    expected_points = len(big.metrics)
    killed = 0
    for attempt, delay in enumerate((1.0, 1.8, 2.6, 3.4, 4.5)):
        big.id = f"big{attempt}"
        path = big.save(tmp_path / f"big{attempt}.json")
        proc = subprocess.Popen([*ASSAY, "trend", "record", str(path), "--store", url], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            killed += 1
        proc.wait(timeout=60)
        counts = _points_per_run(url)
        # all or nothing: every run present has all its points
        assert all(n == (expected_points if run_id.startswith("big") else 4) for run_id, n in counts.items()), counts
    assert killed >= 1


@pytest.mark.slow
def test_concurrent_recorders(tmp_path: Path, run_factory: Callable[..., RunResult]) -> None:
    url = f"sqlite:///{tmp_path / 'trends.db'}"
    open_store(url).close()
    paths = [run_factory(100, day=day, extra_metrics=200).save(tmp_path / f"r{day}.json") for day in range(4)]
    procs = [subprocess.Popen([*ASSAY, "trend", "record", str(p), "--store", url], stderr=subprocess.PIPE) for p in paths]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    counts = _points_per_run(url)
    assert len(counts) == 4 and set(counts.values()) == {204}


@pytest.mark.slow
@pytest.mark.postgres
def test_concurrent_recorders_on_postgresql(pg_url: str, tmp_path: Path, run_factory: Callable[..., RunResult]) -> None:
    with open_store(pg_url) as s, s.engine.begin() as conn:
        conn.execute(text("delete from trend_points"))
        conn.execute(text("delete from trend_runs"))
    paths = [run_factory(100, day=day, extra_metrics=50).save(tmp_path / f"r{day}.json") for day in range(4)]
    procs = [subprocess.Popen([*ASSAY, "trend", "record", str(p), "--store", pg_url], stderr=subprocess.PIPE) for p in paths]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    assert set(_points_per_run(pg_url).values()) == {54}


def test_env_variable_selects_the_store(tmp_path: Path, run_factory: Callable[..., RunResult]) -> None:
    path = run_factory(100).save(tmp_path / "run.json")
    env = {**os.environ, "ASSAY_DB_URL": f"sqlite:///{tmp_path / 'env.db'}"}
    out = subprocess.run([*ASSAY, "trend", "record", str(path)], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "env.db").exists() and not (tmp_path / ".assay").exists()
    out = subprocess.run([*ASSAY, "trend", "record", str(path), "--at", "2026-01-01"], capture_output=True, text=True, cwd=tmp_path, timeout=60, env={k: v for k, v in os.environ.items() if k != "ASSAY_DB_URL"})
    assert out.returncode == 0 and (tmp_path / ".assay" / "trends.db").exists()


def test_fast_percentiles_equal_the_result_model(run_factory: Callable[..., RunResult]) -> None:
    from assay.trends.histograms import trend_stats

    metric = run_factory(80, samples=3000, seed=3).metrics["http_req_duration"]
    keys = ["med", "p(0)", "p(1)", "p(50)", "p(90)", "p(95)", "p(99)", "p(99.9)", "p(100)"]
    assert trend_stats(metric, keys) == {k: metric.stat(k) for k in keys}
