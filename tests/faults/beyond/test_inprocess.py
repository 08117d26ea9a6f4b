"""In-process faults: fault points as decorators and context managers, probability, rate limits,
blast radius, TTL; the ASGI middleware and its control endpoint on a real uvicorn server."""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from assay.faults import injector
from assay.faults.inprocess import (
    CircuitOpenError,
    FaultMiddleware,
    FaultPoint,
    FaultSpec,
    FaultTimeoutError,
    InjectedFault,
    Kind,
    RateLimitedError,
    ResourceExhaustedError,
)
from assay.faults.inprocess.board import Board
from assay.harness.ports import free_port, wait_for_port


@pytest.fixture
def board() -> Board:
    b = Board()
    b.configure("orders", "shop")
    return b


def test_no_fault_calls_through_sync_async_and_blocks(board: Board) -> None:
    point = FaultPoint("db.query", board=board)

    @point
    def add(a: int, b: int) -> int:
        return a + b

    @point
    async def aadd(a: int, b: int) -> int:
        return a + b

    assert add(1, 2) == 3 and asyncio.run(aadd(2, 3)) == 5
    with point:
        pass


def test_each_kind_raises_its_error(board: Board) -> None:
    point = FaultPoint("db.query", board=board)
    cases = [
        (FaultSpec(kind=Kind.EXCEPTION, exception="KeyError", message="gone"), KeyError),
        (FaultSpec(kind=Kind.EXCEPTION), InjectedFault),
        (FaultSpec(kind=Kind.TIMEOUT, timeout=0.05), FaultTimeoutError),
        (FaultSpec(kind=Kind.CIRCUIT_BREAK), CircuitOpenError),
        (FaultSpec(kind=Kind.RESOURCE_EXHAUSTION), ResourceExhaustedError),
        (FaultSpec(kind=Kind.RESOURCE_EXHAUSTION, resource="memory"), MemoryError),
    ]
    for spec, error in cases:
        board.clear()
        board.add(spec)
        with pytest.raises(error):
            point.check()
    board.clear()
    board.add(FaultSpec(kind=Kind.TIMEOUT, timeout=0.2))
    t0 = time.monotonic()
    with pytest.raises(TimeoutError):
        with point:
            pass
    assert time.monotonic() - t0 >= 0.2


def test_native_errors_of_the_point_win(board: Board) -> None:
    point = FaultPoint("redis", errors={Kind.CIRCUIT_BREAK: ConnectionRefusedError}, board=board)
    board.add(FaultSpec(kind=Kind.CIRCUIT_BREAK, point="redis*"))
    with pytest.raises(ConnectionRefusedError):
        point.check()


def test_latency_with_jitter_and_async_point(board: Board) -> None:
    point = FaultPoint("db.read", board=board)
    board.add(FaultSpec(kind=Kind.LATENCY, point="db.*", delay="100ms", jitter="20ms"))

    @point
    async def read() -> str:
        return "row"

    t0 = time.monotonic()
    assert asyncio.run(read()) == "row"
    assert 0.08 <= time.monotonic() - t0


def test_probability_is_a_share_of_calls(board: Board) -> None:
    point = FaultPoint("db.query", board=board)
    board.add(FaultSpec(kind=Kind.EXCEPTION, probability=0.25))
    n, failed = 4000, 0
    for _ in range(n):
        try:
            point.check()
        except InjectedFault:
            failed += 1
    sd = math.sqrt(n * 0.25 * 0.75)
    assert abs(failed - n * 0.25) < 4 * sd


def test_rate_limit_allows_n_per_window(board: Board) -> None:
    point = FaultPoint("api", board=board)
    board.add(FaultSpec(kind=Kind.RATE_LIMIT, point="api", limit=3, window="0.3s"))
    for _ in range(3):
        point.check()
    with pytest.raises(RateLimitedError) as info:
        point.check()
    assert 0 < info.value.retry_after <= 0.3
    time.sleep(0.31)
    point.check()


def test_blast_radius(board: Board) -> None:
    point = FaultPoint("db.query", board=board)
    board.add(FaultSpec(kind=Kind.EXCEPTION, blast_radius="SINGLE_SERVICE", service="payments"))
    point.check()  # another service's fault
    board.add(FaultSpec(kind=Kind.EXCEPTION, blast_radius="SERVICE_CLUSTER", cluster="warehouse"))
    point.check()  # another cluster's fault
    board.clear()
    board.add(FaultSpec(kind=Kind.EXCEPTION, blast_radius="SERVICE_CLUSTER", cluster="shop"))
    with pytest.raises(InjectedFault):
        point.check()
    board.clear()
    board.add(FaultSpec(kind=Kind.EXCEPTION, blast_radius="SINGLE_REQUEST"))
    with pytest.raises(InjectedFault):
        point.check()
    point.check()  # spent after one request
    assert board.listing() == []
    board.add(FaultSpec(kind=Kind.EXCEPTION, blast_radius="ENTIRE_SYSTEM", service="anyone"))
    with pytest.raises(InjectedFault):
        point.check()


def test_ttl_removes_the_fault_in_the_service(board: Board) -> None:
    point = FaultPoint("db.query", board=board)
    board.add(FaultSpec(kind=Kind.EXCEPTION, ttl="0.1s"))
    with pytest.raises(InjectedFault):
        point.check()
    time.sleep(0.12)
    point.check()
    assert board.faults == ()


def test_bad_specs_are_rejected() -> None:
    with pytest.raises(ValidationError, match="point to 'http'"):
        FaultSpec(kind=Kind.LATENCY, path="/x")
    with pytest.raises(ValidationError):
        FaultSpec(kind=Kind.LATENCY, probability=1.5)
    with pytest.raises(ValueError, match="not an exception"):
        Board().add(FaultSpec(kind=Kind.EXCEPTION, exception="os.path"))


# --- the ASGI middleware on a real server -------------------------------------------------


@pytest.fixture
def asgi_service() -> Iterator[str]:
    async def hello(request: object) -> PlainTextResponse:
        return PlainTextResponse("hello")

    board = Board()
    app = FaultMiddleware(Starlette(routes=[Route("/hello", hello, methods=["GET", "POST"])]),
                          service="web", token="s3cret", board=board)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for_port("127.0.0.1", port)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(5)


def test_control_endpoint_needs_the_token(asgi_service: str) -> None:
    url = f"{asgi_service}/_assay/faults"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers={"Authorization": "Bearer nope"}).status_code == 401
    ok = httpx.get(url, headers={"Authorization": "Bearer s3cret"})
    assert ok.status_code == 200 and ok.json()["faults"] == []
    bad = httpx.post(url, json={"kind": "LATENCY", "probablity": 1}, headers={"Authorization": "Bearer s3cret"})
    assert bad.status_code == 400 and bad.json()["details"][0]["loc"] == "probablity"


def test_rate_limit_route_gives_429_after_n_toggled_at_run_time(asgi_service: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSAY_FAULTS_TOKEN", "s3cret")
    hello = f"{asgi_service}/hello"
    with injector.inject("inprocess", asgi_service, duration=30, kind="RATE_LIMIT", point="http",
                         method="GET", path="/hello", limit=5, window="60s"):
        codes = [httpx.get(hello).status_code for _ in range(8)]
        assert codes == [200] * 5 + [429] * 3
        last = httpx.get(hello)
        assert int(last.headers["retry-after"]) in range(55, 61)
        assert httpx.post(hello).status_code == 200  # another method is not limited
    assert httpx.get(hello).status_code == 200


def test_route_faults_answer_with_their_status(asgi_service: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSAY_FAULTS_TOKEN", "s3cret")
    hello = f"{asgi_service}/hello"
    for kind, status in [("EXCEPTION", 500), ("CIRCUIT_BREAK", 503), ("RESOURCE_EXHAUSTION", 503)]:
        with injector.inject("inprocess", asgi_service, duration=30, kind=kind, point="http"):
            resp = httpx.get(hello)
            assert resp.status_code == status and resp.json()["error_code"] == f"INJECTED_{kind}"
    with injector.inject("inprocess", asgi_service, duration=30, kind="TIMEOUT", point="http", timeout="0.2s"):
        t0 = time.monotonic()
        assert httpx.get(hello).status_code == 504
        assert time.monotonic() - t0 >= 0.2
    assert httpx.get(hello).text == "hello"


def test_a_revert_that_fails_is_loud_with_the_manual_command(monkeypatch: pytest.MonkeyPatch) -> None:
    from assay.faults.model import RevertFailed

    async def hello(request: object) -> PlainTextResponse:
        return PlainTextResponse("hello")

    app = FaultMiddleware(Starlette(routes=[Route("/hello", hello)]), service="web", token="t0k", board=Board())
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for_port("127.0.0.1", port)
    fault = injector.inject("inprocess", f"http://127.0.0.1:{port}", duration=30, kind="EXCEPTION", point="http", token="t0k")
    server.should_exit = True
    thread.join(5)
    with pytest.raises(RevertFailed, match="curl -X DELETE"):
        fault.revert()
    listed = injector.active()
    assert [(f["fault_id"], f["status"]) for f in listed] == [(fault.id, "revert-failed")]
    assert "curl -X DELETE" in listed[0]["manual_revert"]
    assert [e.kind for e in fault.events] == ["injected", "failed"]
    # the state stays until someone reverts it; clear it so the teardown does not retry a dead server
    from assay.faults import state

    state.update(fault.path, lambda s: s.__setitem__("status", "reverted"))
