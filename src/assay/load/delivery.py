"""End-to-end delivery latency: from an HTTP POST to the message arriving on a WebSocket.

Push systems (chat, notifications, order updates) are judged by how long an event takes
to reach a subscriber, not by the POST's own latency. The POST carries a fresh
correlation id; a background reader on the subscriber's WebSocket matches arriving
messages by that id and stops the clock:

    from assay.load.delivery import DeliveryTracker, post_and_measure
    from assay.load.ws import ws_connect

    async def default(vu):
        async with ws_connect(vu, WS_URL) as ws, DeliveryTracker(vu, ws, correlation="$.id") as tracker:
            for _ in range(10):
                ms = await post_and_measure(vu, tracker, HTTP_URL + "/publish", {"text": "hi"}, id_field="id")

Latency is measured from just before the POST is written to the moment the matching
message is read from the socket, so it includes the POST itself, the server's fan-out and
the push. Metrics: `delivery_latency` (trend, ms) for delivered messages and
`delivery_failed` (rate: 1 for a message lost, timed out or whose POST failed, 0 when
delivered), tagged with `name`. `measure_delivery()` runs the whole measurement
standalone (one subscriber, `count` posts at `rate` per second) and returns a report.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from assay.load.custom_metrics import Rate, Trend
from assay.load.ws import Message, WsError, WsSession, declare, ws_connect
from assay.load.yaml.jsonpath import compile_json_path
from assay.load.yaml.template import MISSING
from assay.results import Metric

__all__ = ["delivery_latency", "delivery_failed", "DeliveryTracker", "post_and_measure", "measure_delivery", "DeliveryReport", "LATENCY", "FAILED"]

LATENCY = "delivery_latency"
FAILED = "delivery_failed"
# Import these into a Python scenario to put thresholds on them (the loader finds module-level metrics).
delivery_latency = Trend(LATENCY, contains="time")
delivery_failed = Rate(FAILED)

_perf = time.perf_counter


def correlation_extractor(correlation: str | Callable[[Message], Any]) -> Callable[[Message], str | None]:
    """Turn a JSON path ('$.id', '$.data.order_id') or a function into message -> id."""
    if callable(correlation):
        fn = correlation

        def from_fn(message: Message) -> str | None:
            value = fn(message)
            return None if value is None else str(value)

        return from_fn
    path = compile_json_path(correlation)

    def from_json(message: Message) -> str | None:
        try:
            doc = json.loads(message)
        except (ValueError, TypeError):
            return None
        value = path.first(doc)
        return None if value is MISSING or value is None else str(value)

    return from_json


class DeliveryTracker:
    """Reads one WebSocket session in the background and matches messages to expected ids."""

    def __init__(
        self,
        recorder: Any,
        session: WsSession,
        *,
        correlation: str | Callable[[Message], Any] = "$.id",
        name: str = "delivery",
    ) -> None:
        self.recorder = recorder
        self.session = session
        self.extract = correlation_extractor(correlation)
        self.tags = {"name": name}
        self._waiting: dict[str, tuple[float, asyncio.Future[float]]] = {}
        self._task: asyncio.Task[None] | None = None
        self._error: BaseException | None = None
        self.delivered = 0
        self.failed = 0
        self.unmatched = 0
        declare(recorder, LATENCY, "trend", "time")
        declare(recorder, FAILED, "rate", "default")

    async def __aenter__(self) -> DeliveryTracker:
        self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._reader())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, WsError):
                pass
        for cid in list(self._waiting):
            self._resolve_failed(cid)

    async def _reader(self) -> None:
        try:
            while True:
                message = await self.session.recv(timeout=None)
                arrived = _perf()
                cid = self.extract(message)
                entry = self._waiting.get(cid) if cid is not None else None
                if entry is None:
                    self.unmatched += 1
                    continue
                fut = entry[1]
                if not fut.done():
                    fut.set_result(arrived)
        except WsError as exc:
            self._error = exc
            for _, fut in self._waiting.values():
                if not fut.done():
                    fut.set_exception(WsError(f"subscriber closed before delivery: {exc}"))

    def expect(self, cid: str) -> None:
        """Start the clock for `cid`; call it right before sending the request that causes it."""
        loop = asyncio.get_running_loop()
        self._waiting[cid] = (_perf(), loop.create_future())

    def cancel(self, cid: str) -> None:
        """The request for `cid` failed: count it as a failed delivery."""
        if cid in self._waiting:
            self._resolve_failed(cid)

    def _resolve_failed(self, cid: str) -> None:
        self._waiting.pop(cid, None)
        self.failed += 1
        self.recorder.record(FAILED, 1.0, self.tags)

    async def wait(self, cid: str, timeout: float = 5.0) -> float | None:
        """Latency in ms until `cid` arrived, or None if it did not arrive within `timeout`."""
        entry = self._waiting.get(cid)
        if entry is None:
            raise KeyError(f"correlation id {cid!r} was not expected (call expect() before sending)")
        t0, fut = entry
        try:
            arrived = await asyncio.wait_for(asyncio.shield(fut), timeout)
        except (TimeoutError, WsError):
            self._resolve_failed(cid)
            return None
        self._waiting.pop(cid, None)
        latency = (arrived - t0) * 1000.0
        self.delivered += 1
        self.recorder.record(LATENCY, latency, self.tags)
        self.recorder.record(FAILED, 0.0, self.tags)
        return latency


def _with_id(body: Mapping[str, Any] | None, id_field: str, cid: str) -> dict[str, Any]:
    """Copy `body` and set the correlation id at a dotted path ('id', 'meta.request_id')."""
    out: dict[str, Any] = json.loads(json.dumps(dict(body or {})))
    node = out
    parts = id_field.split(".")
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[parts[-1]] = cid
    return out


async def post_and_measure(
    vu: Any,
    tracker: DeliveryTracker,
    url: str,
    body: Mapping[str, Any] | None = None,
    *,
    id_field: str = "id",
    headers: Mapping[str, str] | None = None,
    timeout: float = 5.0,
    name: str | None = None,
) -> float | None:
    """POST `body` (as JSON, with a fresh id at `id_field`) and wait for it on the tracker's socket.

    Returns the end-to-end latency in ms, or None when the POST failed or the message did
    not arrive in time (both recorded in `delivery_failed`).
    """
    cid = uuid.uuid4().hex
    payload = _with_id(body, id_field, cid)
    tracker.expect(cid)
    res = await vu.http.request("POST", url, json=payload, headers=headers, tags={"name": name or url})
    if res.error_code or res.status >= 400:
        tracker.cancel(cid)
        return None
    return await tracker.wait(cid, timeout)


@dataclass
class DeliveryReport:
    """What `measure_delivery` saw: counts, and k6-style metrics (delivery_latency, ws_*, http_*)."""

    sent: int
    delivered: int
    failed: int
    metrics: dict[str, Metric] = field(default_factory=dict)

    def latency(self, stat: str) -> float | None:
        """A statistic of delivery_latency: 'avg', 'min', 'med', 'max', 'p(95)', ..."""
        metric = self.metrics.get(LATENCY)
        return None if metric is None else metric.stat(stat)


async def measure_delivery(
    post_url: str,
    ws_url: str,
    *,
    count: int = 100,
    rate: float = 50.0,
    body: Mapping[str, Any] | None = None,
    id_field: str = "id",
    correlation: str | Callable[[Message], Any] = "$.id",
    headers: Mapping[str, str] | None = None,
    timeout: float = 5.0,
) -> DeliveryReport:
    """Subscribe on `ws_url`, POST `count` messages to `post_url` at `rate`/s, measure each delivery.

    Posts are started on schedule (an open model), so a slow delivery does not delay the
    next post and cannot hide a stall.
    """
    from assay.load.http.client import HttpClient
    from assay.load.sink import MetricsSink
    from assay.load.vu import VU

    if count < 1 or rate <= 0:
        raise ValueError("count must be >= 1 and rate > 0")
    sink = MetricsSink()
    vu = VU(id=1, scenario="delivery", sink=sink, http=HttpClient(sink), env={})
    interval = 1.0 / rate
    try:
        async with ws_connect(vu, ws_url, name="subscriber") as ws, DeliveryTracker(vu, ws, correlation=correlation) as tracker:
            start = _perf()
            tasks = []
            for i in range(count):
                delay = start + i * interval - _perf()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(
                    asyncio.create_task(
                        post_and_measure(
                            vu, tracker, post_url, body, id_field=id_field, headers=headers, timeout=timeout, name="publish"
                        )
                    )
                )
            await asyncio.gather(*tasks)
            delivered, failed = tracker.delivered, tracker.failed
    finally:
        await vu.http.close()
    sink.tick(time.time())
    return DeliveryReport(sent=count, delivered=delivered, failed=failed, metrics=sink.to_metrics())
