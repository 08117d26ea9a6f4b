"""courier's in-process fault points (database and Redis) driven from outside through its
control endpoint, with the seeds' database scenarios (examples/courier/suite/db_faults.yaml)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import yaml
from courier_helpers import COURIER_SRC, Courier

from assay.faults import injector
from assay.faults.inprocess import FaultSpec

TOKEN = "courier-test-token"
SCENARIOS = yaml.safe_load((COURIER_SRC / "suite" / "db_faults.yaml").read_text())


@pytest.fixture(autouse=True)
def fault_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    directory = tmp_path / "faults"
    monkeypatch.setenv("ASSAY_FAULTS_DIR", str(directory))
    monkeypatch.setenv("ASSAY_FAULTS_TOKEN", TOKEN)
    yield directory
    injector.revert_all(directory)


@pytest.fixture
def courier(start_courier: Callable[..., Courier]) -> Courier:
    # relay_interval_s: no background outbox polls, so every database call is a request's
    return start_courier(fault_token=TOKEN, db_timeout_s=1, breaker_failure_threshold=1000, relay_interval_s=600)


def _ready_client(courier: Courier) -> httpx.Client:
    """Logged in and connected before any fault and before the clock starts: timing the first
    requests would otherwise also time the login and the client's construction (seconds on a
    busy box), not the database."""
    client = courier.session()
    client.get("/conversations").raise_for_status()
    return client


def _timed_gets(client: httpx.Client, n: int, workers: int = 16) -> list[tuple[int, float]]:
    def one(_: int) -> tuple[int, float]:
        t0 = time.monotonic()
        status = client.get("/conversations").status_code
        return status, time.monotonic() - t0

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, range(n)))


def test_control_endpoint_is_off_without_a_token(start_courier: Callable[..., Courier]) -> None:
    plain = start_courier()
    assert httpx.get(f"{plain.url}/_assay/faults", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 404


def test_seed_scenarios_are_valid_specs() -> None:
    assert set(SCENARIOS) == {"slow_query", "query_timeout", "pool_exhaustion", "deadlock"}
    slow = FaultSpec.model_validate(SCENARIOS["slow_query"])
    assert (slow.delay, slow.jitter, slow.probability) == (3.0, 0.5, 0.25)


def _fired(courier: Courier) -> int:
    listing = httpx.get(f"{courier.url}/_assay/faults", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30).json()
    return sum(int(f["fired"]) for f in listing["faults"])


def _within(count: int, n: int, p: float, sigmas: float = 4.0) -> bool:
    """A binomial count of n draws at probability p lies within `sigmas` standard deviations
    of n*p (4: a false alarm about once in 16,000 runs)."""
    return abs(count - n * p) <= sigmas * math.sqrt(n * p * (1 - p))


def test_slow_queries_for_a_share_of_requests(courier: Courier) -> None:
    n, p = 80, 0.25
    client = _ready_client(courier)
    with injector.inject("inprocess", courier.url, duration=300, kind="LATENCY", point="db.*",
                         delay="600ms", jitter="100ms", probability=p):
        results = _timed_gets(client, n)
        # one database call per request, and courier's own metric sampling has its own point
        # (metrics.db), so this is exactly the requests the fault drew
        fired = _fired(courier)
    slow = sum(1 for _, took in results if took >= 0.5)  # 600 ms - 100 ms at least
    assert all(status == 200 for status, _ in results)
    assert _within(fired, n, p), fired  # the drawn share is the configured one
    assert _within(slow, n, p), slow  # and so is the share of requests that slowed
    assert slow >= fired  # each drawn call really waited


@pytest.mark.slow
def test_seed_slow_query_3s_with_jitter_at_25_percent(start_courier: Callable[..., Courier]) -> None:
    courier = start_courier(fault_token=TOKEN, relay_interval_s=600)  # courier's own 5 s query deadline
    n = 32
    client = _ready_client(courier)
    with injector.inject("inprocess", courier.url, duration=300, params=SCENARIOS["slow_query"]):
        results = _timed_gets(client, n, workers=32)
        fired = _fired(courier)
    slow = sum(1 for _, took in results if took >= 2.5)  # 3 s - 500 ms at least
    assert all(status == 200 for status, _ in results)
    assert _within(fired, n, 0.25), fired
    assert _within(slow, n, 0.25), slow
    assert slow >= fired


def test_query_timeout_pool_exhaustion_and_deadlock(courier: Courier) -> None:
    client = courier.session()
    assert client.get("/conversations").status_code == 200
    for name in ("query_timeout", "pool_exhaustion"):
        with injector.inject("inprocess", courier.url, duration=60, params=SCENARIOS[name]):
            t0 = time.monotonic()
            resp = client.get("/conversations")
            assert resp.status_code == 503 and resp.json()["error_code"] == "DB_UNAVAILABLE"
            if name == "query_timeout":
                assert time.monotonic() - t0 >= 0.9  # courier's own 1 s deadline fired
        assert client.get("/conversations").status_code == 200  # turned off at run time
    with injector.inject("inprocess", courier.url, duration=60, params=SCENARIOS["deadlock"]):
        codes = {client.get("/conversations").status_code for _ in range(40)}
    assert codes == {200, 503}


@pytest.mark.redis
def test_redis_fault_degrades_readiness(start_courier: Callable[..., Courier], redis_url: str, stream_name: str) -> None:
    courier = start_courier(fault_token=TOKEN, redis_url=redis_url, stream=stream_name)
    assert httpx.get(f"{courier.url}/health/ready").json()["status"] == "ready"
    with injector.inject("inprocess", courier.url, duration=60, kind="EXCEPTION", point="redis"):
        ready = httpx.get(f"{courier.url}/health/ready").json()
        assert ready["status"] == "degraded" and ready["checks"]["queue"]["status"] == "down"
    assert httpx.get(f"{courier.url}/health/ready").json()["status"] == "ready"
