"""WebSocket sessions and end-to-end delivery latency against a real local server (starlette + uvicorn)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from test_load_yaml_ws_app import Served, serve

from assay.harness.ports import free_port
from assay.load.delivery import FAILED, LATENCY, DeliveryTracker, measure_delivery, post_and_measure
from assay.load.http.client import HttpClient
from assay.load.sink import MetricsSink
from assay.load.vu import VU
from assay.load.ws import MSG_LATENCY, SinkRecorder, WsError, ws_connect

# asyncio may run a timer up to its clock resolution early, so the server's "sleep D ms"
# can end a hair before D: a latency that includes it is asserted as >= D - SLACK.
SLACK = 1.0


@pytest.fixture(scope="module")
def app() -> Iterator[Served]:
    with serve() as served:
        yield served


def make_vu(sink: MetricsSink, vu_id: int = 1) -> VU:
    return VU(id=vu_id, scenario="ws", sink=sink, http=HttpClient(sink), env={})


def test_session_records_k6_ws_metrics_and_per_message_latency(app: Served) -> None:
    async def main() -> tuple[MetricsSink, list[float], float]:
        sink = MetricsSink()
        vu = make_vu(sink)
        latencies: list[float] = []
        async with ws_connect(vu, f"{app.ws_url}/ws/echo", name="echo") as ws:
            await ws.send("hello")
            assert await ws.recv(timeout=5) == "hello"
            await ws.send(b"\x00\x01binary")
            assert await ws.recv(timeout=5) == b"\x00\x01binary"
            await ws.send({"op": "json"})
            assert await ws.recv(timeout=5) == '{"op":"json"}'
            for ms in (30, 60):
                reply, latency = await ws.request(f"delay:{ms}:pong-{ms}", timeout=5)
                assert reply == f"pong-{ms}"
                latencies.append(latency)
            rtt = await ws.ping()
        await vu.http.close()
        sink.tick(time.time())
        return sink, latencies, rtt

    sink, latencies, rtt = asyncio.run(main())
    metrics = sink.to_metrics()
    assert metrics["ws_sessions"].count == 1
    assert metrics["ws_msgs_sent"].sum == 5
    assert metrics["ws_msgs_received"].sum == 5
    assert metrics["ws_connecting"].count == 1
    assert metrics["ws_ping"].count == 1 and metrics["ws_ping"].max == pytest.approx(rtt)
    # the server holds each reply for 30 and 60 ms: the measured latency includes that delay
    assert latencies[0] >= 30 - SLACK and latencies[1] >= 60 - SLACK
    trend = metrics[MSG_LATENCY]
    assert trend.count == 2 and trend.min is not None and trend.min >= 30 - SLACK
    # the session lasted at least as long as the two delayed replies
    assert metrics["ws_session_duration"].count == 1
    assert metrics["ws_session_duration"].max is not None and metrics["ws_session_duration"].max >= 90 - SLACK
    assert any(m.tags == {"name": "echo"} for m in metrics.values() if m.tags)


def test_request_skips_unmatched_messages_and_keeps_them_for_recv(app: Served) -> None:
    async def main() -> None:
        sink = MetricsSink()
        async with ws_connect(SinkRecorder(sink), f"{app.ws_url}/ws/echo") as ws:
            reply, _ = await ws.request("twice", match=lambda m: m == "answer", timeout=5)
            assert reply == "answer"
            assert await ws.recv(timeout=5) == "noise"
            with pytest.raises(WsError, match="no WebSocket message within 0.1s"):
                await ws.recv(timeout=0.1)
        sink.tick(time.time())
        metrics = sink.to_metrics()
        assert metrics["ws_msgs_received"].sum == 2
        assert metrics[MSG_LATENCY].count == 1

    asyncio.run(main())


def test_connection_failures_raise_ws_error_with_reason(app: Served) -> None:
    async def main() -> None:
        sink = MetricsSink()
        rec = SinkRecorder(sink)
        with pytest.raises(WsError, match="failed"):
            await ws_connect(rec, f"ws://127.0.0.1:{free_port()}/nothing", timeout=2)
        with pytest.raises(WsError, match="HTTP 403") as info:
            await ws_connect(rec, f"{app.ws_url}/no-such-socket", timeout=2)
        assert info.value.status == 403  # starlette refuses unknown socket routes
        with pytest.raises(WsError, match="invalid WebSocket URL"):
            await ws_connect(rec, "http://127.0.0.1/not-ws")
        ws = await ws_connect(rec, f"{app.ws_url}/ws/refuse", timeout=2)
        with pytest.raises(WsError, match="closed"):
            await ws.recv(timeout=2)
        await ws.close()
        sink.tick(time.time())
        metrics = sink.to_metrics()
        # as k6 counts them: every dial is a session (refused, 403, opened), the bad URL never dialed
        assert metrics["ws_sessions"].sum == 3
        assert metrics["ws_connecting"].count == 3
        assert metrics["ws_session_duration"].count == 1  # only the session that opened

    asyncio.run(main())


def test_delivery_latency_includes_the_servers_fan_out_delay(app: Served) -> None:
    report = asyncio.run(
        measure_delivery(
            f"{app.url}/publish?delay_ms=40",
            f"{app.ws_url}/ws/subscribe",
            count=20,
            rate=100,
            body={"text": "hi"},
            id_field="meta.cid",
            correlation="$.meta.cid",
            timeout=5,
        )
    )
    assert report.sent == 20 and report.delivered == 20 and report.failed == 0
    low = report.latency("min")
    assert low is not None and low >= 40 - SLACK
    assert report.metrics[LATENCY].count == 20
    assert report.metrics[FAILED].passes == 0 and report.metrics[FAILED].fails == 20
    assert report.metrics["http_reqs"].count == 20
    assert report.metrics["ws_msgs_received"].sum == 20


def test_lost_and_failed_deliveries_are_counted(app: Served) -> None:
    report = asyncio.run(
        measure_delivery(f"{app.url}/publish?drop=1", f"{app.ws_url}/ws/subscribe", count=3, rate=50, timeout=0.3)
    )
    assert report.delivered == 0 and report.failed == 3
    assert report.metrics[FAILED].passes == 3
    assert LATENCY not in report.metrics or report.metrics[LATENCY].count == 0

    async def failed_post() -> tuple[int, int]:
        sink = MetricsSink()
        vu = make_vu(sink)
        async with ws_connect(vu, f"{app.ws_url}/ws/subscribe") as ws, DeliveryTracker(vu, ws) as tracker:
            assert await post_and_measure(vu, tracker, f"{app.url}/no-such-endpoint", {"a": 1}) is None
            ok = await post_and_measure(vu, tracker, f"{app.url}/publish", {"a": 1})
            assert ok is not None and ok > 0
            counts = tracker.delivered, tracker.failed
        await vu.http.close()
        return counts

    assert asyncio.run(failed_post()) == (1, 1)


def test_many_subscribers_each_get_their_own_delivery_metric(app: Served) -> None:
    async def main() -> MetricsSink:
        sink = MetricsSink()
        vus = [make_vu(sink, i + 1) for i in range(3)]
        sessions = [await ws_connect(vu, f"{app.ws_url}/ws/subscribe") for vu in vus]
        trackers = [DeliveryTracker(vu, ws, name=f"sub{vu.id}") for vu, ws in zip(vus, sessions, strict=True)]
        for t in trackers:
            t.start()
        await asyncio.sleep(0.05)
        # one publisher; every subscriber waits for the same correlation id
        cid = "fixed-correlation-id"
        for t in trackers:
            t.expect(cid)
        res = await vus[0].http.request("POST", f"{app.url}/publish?delay_ms=20", json={"id": cid})
        assert res.status == 202
        got = await asyncio.gather(*(t.wait(cid, timeout=5) for t in trackers))
        assert all(ms is not None and ms >= 20 - SLACK for ms in got)
        for t, ws in zip(trackers, sessions, strict=True):
            await t.stop()
            await ws.close()
        for vu in vus:
            await vu.http.close()
        sink.tick(time.time())
        return sink

    metrics = asyncio.run(main()).to_metrics()
    assert metrics[LATENCY].count == 3
    assert metrics["ws_sessions"].sum == 3
