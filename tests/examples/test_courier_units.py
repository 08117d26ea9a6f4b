"""courier's small parts on their own: the circuit breaker, the in-process queue, request parsing."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from courier.app import expected_version
from courier.breaker import CircuitBreaker, CircuitOpen, State
from courier.db import engine_url
from courier.errors import ApiError
from courier.metrics import Metrics
from courier.settings import load_settings
from courier.streams import LocalStream, decode


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_fails_fast_probes_once_and_closes() -> None:
    clock = Clock()
    changes: list[State] = []
    breaker = CircuitBreaker(failure_threshold=3, reset_s=2.0, on_change=changes.append, clock=clock)
    for _ in range(2):
        breaker.before_call()
        breaker.record_failure()
    assert breaker.state is State.CLOSED
    breaker.before_call()
    breaker.record_success()  # a success resets the count
    for _ in range(3):
        breaker.before_call()
        breaker.record_failure()
    assert breaker.state is State.OPEN
    with pytest.raises(CircuitOpen):
        breaker.before_call()
    clock.now = 2.0
    breaker.before_call()  # the one probe
    assert breaker.state is State.HALF_OPEN
    with pytest.raises(CircuitOpen):
        breaker.before_call()  # everyone else waits for the probe's verdict
    breaker.record_failure()
    assert breaker.state is State.OPEN
    clock.now = 4.0
    breaker.before_call()
    breaker.record_success()
    assert breaker.state is State.CLOSED
    assert changes == [State.OPEN, State.HALF_OPEN, State.OPEN, State.HALF_OPEN, State.CLOSED]


def test_in_process_queue_retries_then_dead_letters() -> None:
    settings = load_settings(env={"COURIER_MAX_DELIVERIES": "3"})
    metrics = Metrics()
    stream = LocalStream(settings, metrics)
    attempts: dict[int, int] = {}
    delivered: list[int] = []

    async def handle(event: dict[str, Any]) -> None:
        mid = event["message"]["id"]
        attempts[mid] = attempts.get(mid, 0) + 1
        if mid == 2 or (mid == 3 and attempts[mid] < 2):
            raise RuntimeError("subscriber push failed")
        delivered.append(mid)

    async def scenario() -> None:
        stop = asyncio.Event()
        consumer = asyncio.create_task(stream.consume(handle, stop))
        events = [
            (i, {"type": "message.created", "message": {"id": i, "conversation_id": 1}}) for i in (1, 2, 3)
        ]
        assert await stream.publish(events) == [1, 2, 3]
        for _ in range(100):
            if len(stream.dead) == 1 and len(delivered) == 2:
                break
            await asyncio.sleep(0.05)
        stop.set()
        await consumer

    asyncio.run(scenario())
    assert sorted(delivered) == [1, 3]  # 3 succeeded on its retry
    assert attempts[2] == 3
    assert [d["id"] for d in stream.dead] == ["2"]
    assert stream.dead[0]["deliveries"] == 3


def test_in_process_queue_is_bounded() -> None:
    settings = load_settings(env={"COURIER_INPROCESS_QUEUE_SIZE": "2"})
    stream = LocalStream(settings, Metrics())
    events = [(i, {"message": {"id": i, "conversation_id": 1}}) for i in range(5)]
    assert asyncio.run(stream.publish(events)) == [0, 1]  # the rest stay in the outbox


@pytest.mark.parametrize(
    "fields",
    [{"event": "{not json"}, {"other": "x"}, {"event": json.dumps({"message": {"id": 1}})}, {"event": "[]"}],
)
def test_malformed_stream_entries_are_poison(fields: dict[str, str]) -> None:
    with pytest.raises((ValueError, KeyError)):
        decode(fields)


def test_versions_from_body_or_if_match() -> None:
    assert expected_version(None, 3) == 3
    assert expected_version('"4"', None) == 4
    assert expected_version('W/"5"', None) == 5
    assert expected_version(None, None) is None
    with pytest.raises(ApiError) as bad:
        expected_version('"abc"', None)
    assert bad.value.error_code == "BAD_IF_MATCH"


def test_postgres_urls_use_psycopg_3() -> None:
    assert engine_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert engine_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert engine_url("sqlite:///x.db") == "sqlite:///x.db"
