"""Every store on one PostgreSQL database, written by several processes at once: nothing lost.

"Several machines writing to one store" is several processes here: `assay trend record`
processes and two broker servers, all started at the same moment on a fresh database (so
their Alembic migrations race too), each store with its own version table. Each test run
creates its own database (assay_scale_<pid>_<random>) and drops it.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from assay.harness.ports import free_port
from assay.harness.process import ServiceProcess
from assay.results import Metric, RunResult

psycopg = pytest.importorskip("psycopg")
pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ADMIN = os.environ.get("ASSAY_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
ASSAY = [sys.executable, "-m", "assay"]
SAMPLE = json.loads((Path(__file__).parent / "data" / "sample-pact-v4.json").read_text())


@pytest.fixture
def fresh_db() -> Iterator[str]:
    name = f"assay_scale_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = ADMIN.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _run(day: int, metrics: int) -> RunResult:
    result = RunResult(name="nightly", labels={"scenario": "nightly"}, duration_s=10.0)
    result.started_at = datetime(2026, 3, 2, 2, 0, tzinfo=UTC) + timedelta(days=day)
    result.finished_at = result.started_at + timedelta(seconds=10)
    for k in range(metrics):
        m = Metric.builtin(f"http_req_duration{{name:op{k}}}")
        for v in range(1, 40):
            m.add(float(v * (k + 1) + day))
        result.metrics[f"http_req_duration{{name:op{k}}}"] = m.seal()
    return result


def _rows(url: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        return list(conn.execute(sql).fetchall())


def test_recorders_racing_on_a_fresh_database_lose_nothing(fresh_db: str, tmp_path: Path) -> None:
    """Six `assay trend record` processes started together on an empty database: one migrates,
    the others wait for it; every run arrives with all its points."""
    paths = []
    for day in range(6):
        run = _run(day, metrics=30)
        run.id = f"run{day}"
        paths.append(run.save(tmp_path / f"r{day}.json"))
    env = {**os.environ, "ASSAY_DB_URL": fresh_db}  # the variable every store reads
    procs = [subprocess.Popen([*ASSAY, "trend", "record", str(p)], stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path) for p in paths]
    for proc in procs:
        _, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
    counts = dict(_rows(fresh_db, "select r.run_id, count(p.id) from trend_runs r left join trend_points p on p.run_pk = r.id group by r.run_id"))
    assert counts == {f"run{day}": 30 for day in range(6)}
    assert not (tmp_path / ".assay").exists()  # nothing went to the SQLite default


def _contract(consumer: str, provider: str, marker: str) -> dict[str, object]:
    doc = json.loads(json.dumps(SAMPLE))
    doc["consumer"]["name"], doc["provider"]["name"] = consumer, provider
    doc["interactions"][0]["description"] = marker
    return {
        "consumerName": consumer,
        "providerName": provider,
        "specification": "pact",
        "contentType": "application/json",
        "content": base64.b64encode(json.dumps(doc).encode()).decode(),
    }


def test_two_brokers_and_recorders_share_one_database(fresh_db: str, tmp_path: Path) -> None:
    """Two broker servers (two machines behind a load balancer) on one database, started at once,
    take 48 publications concurrently (the same pacticipants created from both sides), while
    trend recorders write to the same database: every version and every run is there."""
    env = {**os.environ, "ASSAY_DB_URL": fresh_db}
    ports = [free_port(), free_port()]
    brokers = [ServiceProcess([*ASSAY, "broker", "serve", "--port", str(p)], env=env, cwd=tmp_path, port=p, start_timeout=60) for p in ports]
    for b in brokers:
        b.__enter__()
    try:
        recorders = []
        for day in range(3):
            run = _run(day, metrics=10)
            run.id = f"beside{day}"
            path = run.save(tmp_path / f"b{day}.json")
            recorders.append(subprocess.Popen([*ASSAY, "trend", "record", str(path)], stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path))

        def publish(k: int) -> object:
            consumer = f"Web{k % 3}"
            body = {"pacticipantVersionNumber": f"1.{k}", "pacticipantName": consumer, "branch": "main",
                    "contracts": [_contract(consumer, "Api", f"marker {k}")]}
            with httpx.Client(base_url=f"http://127.0.0.1:{ports[k % 2]}", timeout=60) as http:
                # a broker that loses a race (both create pacticipant Web1) runs the request again
                # itself: the client never sees the conflict
                r = http.post("/contracts/publish", json=body)
                return r.status_code if r.status_code == 200 else (r.status_code, r.text[:400])

        with ThreadPoolExecutor(max_workers=12) as pool:
            codes = list(pool.map(publish, range(48)))
        assert codes == [200] * 48
        for proc in recorders:
            _, err = proc.communicate(timeout=180)
            assert proc.returncode == 0, err
        for k in range(48):
            with httpx.Client(base_url=f"http://127.0.0.1:{ports[(k + 1) % 2]}", timeout=30) as http:  # read from the other broker
                r = http.get(f"/pacts/provider/Api/consumer/Web{k % 3}/version/1.{k}")
                assert r.status_code == 200, (k, r.text[:300])
                assert r.json()["interactions"][0]["description"] == f"marker {k}"
    finally:
        for b in brokers:
            b.__exit__(None, None, None)
    assert dict(_rows(fresh_db, "select run_id, 1 from trend_runs")) == {f"beside{d}": 1 for d in range(3)}
    tables = {t for (t,) in _rows(fresh_db, "select table_name from information_schema.tables where table_schema = 'public'")}
    assert {"alembic_version", "assay_trend_version", "trend_runs", "pacticipants"} <= tables, tables  # one version table per store


def test_chaos_schedules_added_by_racing_processes_are_all_kept(fresh_db: str, tmp_path: Path) -> None:
    """Eight `assay chaos schedule add` processes at once on a fresh database (their migrations
    race too): every schedule is stored, and `list` shows them all."""
    exp = tmp_path / "exp.json"
    exp.write_text(json.dumps({"title": "scheduled", "description": "a probe", "method": [
        {"type": "probe", "name": "ok", "provider": {"type": "process", "path": sys.executable, "arguments": ["-c", "pass"]}}]}))
    env = {**os.environ, "ASSAY_DB_URL": fresh_db}
    procs = [subprocess.Popen([*ASSAY, "chaos", "schedule", "add", f"night{k}", str(exp), "--cron", f"{k} 3 * * *"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path) for k in range(8)]
    for proc in procs:
        _, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
    listed = subprocess.run([*ASSAY, "chaos", "schedule", "list", "--json"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert listed.returncode == 0, listed.stderr
    names = sorted(s["name"] for s in json.loads(listed.stdout)["schedules"])
    assert names == [f"night{k}" for k in range(8)]
