"""Fixtures for the courier example: a real uvicorn process, unique databases and streams, a TCP gate."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from courier_helpers import Courier, TcpGate, create_database, drop_database, launch_courier


@pytest.fixture
def start_courier(tmp_path: Path) -> Iterator[Callable[..., Courier]]:
    """launch_courier for one test; every process is stopped at teardown."""
    started: list[Courier] = []

    def start(wait: str = "/health/ready", **settings: object) -> Courier:
        courier = launch_courier(tmp_path, wait, **settings)
        started.append(courier)
        return courier

    yield start
    for courier in started:
        courier.proc.stop()


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
