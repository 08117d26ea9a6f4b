"""Fixtures for the courier example: a real uvicorn process, unique databases and streams, a TCP gate."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from courier_helpers import Courier, TcpGate, create_database, drop_database, launch_courier


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Keep each phase's report on the item, so fixtures can tell whether the test failed."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture
def start_courier(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Callable[..., Courier]]:
    """launch_courier for one test; every process is stopped at teardown, its log shown if the test failed."""
    started: list[Courier] = []

    def start(wait: str = "/health/ready", **settings: object) -> Courier:
        courier = launch_courier(tmp_path, wait, **settings)
        started.append(courier)
        return courier

    yield start
    for courier in started:
        courier.proc.stop()
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        for courier in started:
            print(f"--- courier :{courier.port} log ({courier.proc.log_path}) ---", file=sys.stderr)
            print(courier.proc.log_tail(60), file=sys.stderr)


@pytest.fixture
def pg_url(postgres_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    url = create_database(postgres_url)
    yield url
    drop_database(postgres_url, url)


@pytest.fixture
def stream_name(redis_url: str) -> Iterator[str]:
    """A Redis Stream name used by one test only; deleted afterwards with its dead-letter list."""
    name = f"courier-test:{uuid.uuid4().hex[:12]}"
    yield name
    client = redis.Redis.from_url(redis_url)
    client.delete(name, f"{name}:dead")
    client.close()


@pytest.fixture
def tcp_gate() -> Iterator[Callable[[int], TcpGate]]:
    gates: list[TcpGate] = []

    def make(target_port: int) -> TcpGate:
        gate = TcpGate(target_port)
        gate.open()
        gates.append(gate)
        return gate

    yield make
    for gate in gates:
        gate.close()
