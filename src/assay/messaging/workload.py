"""A broker workload: publish at a rate, consume with N consumers, judge delivery with the ledger.

Teams that own a queue or a stream load-test it directly, not only through a service:

    transport = open_transport("redis://127.0.0.1:6379", BrokerOptions(name="orders"))
    result = await Workload(transport, WorkloadSpec(rate=500, duration=30, consumers=4)).run()

Publishing is an open model: one publisher per key sends on a fixed schedule (rate / keys
per second each), waiting for the broker's acknowledgement before its next message so the
key's order is the order the broker received. Publish latency is the time to that
acknowledgement; end-to-end latency is the ledger's, from send to first receipt.

Consumers of a group are one ledger receiver (the group: each message owed once, whichever
member takes it, order judged per member); with fan-out every consumer is its own receiver.
`kill_consumer()` drops one abruptly, acknowledging nothing it held, and `restart_consumer()`
brings a fresh one: the broker must redeliver what the dead one took (no loss), and what it
had already recorded comes back as duplicates.

The result is a RunResult (kind `messaging`): the ledger's metrics, `message_publish_latency`
(trend, ms), per-second series of sent and received messages, and `extra["ledger"]`.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from assay.histo import record_many
from assay.messaging.brokers.base import BrokerError, Consumer, Transport
from assay.messaging.ledger import ALL_KEYS, Ledger
from assay.results import Contains, Histogram, Metric, MetricType, RunResult, RunStatus, TimeBucket

__all__ = ["Workload", "WorkloadSpec", "WorkloadProgress", "PUBLISH_LATENCY"]

PUBLISH_LATENCY = "message_publish_latency"
PRODUCER = "publisher"


@dataclass
class WorkloadSpec:
    rate: float = 100.0
    """Messages per second over all keys."""
    duration: float = 10.0
    """Seconds of publishing (ignored when `count` is set)."""
    count: int | None = None
    """Publish exactly this many messages (at `rate`) instead of for `duration`."""
    consumers: int = 1
    keys: int = 8
    """Ordering units, each with its own sequential publisher."""
    size: int = 256
    """Body bytes besides the ledger's token."""
    grace: float = 5.0
    """Seconds to wait after publishing for messages still in flight."""

    def check(self) -> None:
        if not math.isfinite(self.rate) or self.rate <= 0:
            raise ValueError("rate must be > 0 messages per second (a finite number)")
        if self.count is None and (not math.isfinite(self.duration) or self.duration <= 0):
            raise ValueError("duration must be > 0 seconds (a finite number)")
        if self.count is not None and self.count < 1:
            raise ValueError("count must be >= 1")
        if self.consumers < 1 or self.keys < 1:
            raise ValueError("consumers and keys must be >= 1")
        if self.size < 0 or not math.isfinite(self.grace) or self.grace < 0:
            raise ValueError("size and grace must be >= 0")


@dataclass
class WorkloadProgress:
    """Once a second while publishing and settling (the CLI prints it)."""

    elapsed: float
    phase: str
    sent: int
    acked: int
    receipts: int
    in_flight: int
    lost: int
    p99_ms: float | None
    publish_errors: int


@dataclass
class _Slot:
    consumer: Consumer
    task: asyncio.Task[None]
    receiver: str


@dataclass
class _Series:
    """Per-second counts of sends and receipts (for charts and throughput over time)."""

    sent: dict[int, int] = field(default_factory=dict)
    received: dict[int, int] = field(default_factory=dict)


class Workload:
    """Publish, consume, judge. `run()` does all of it; tests drive the steps to kill consumers."""

    def __init__(self, transport: Transport, spec: WorkloadSpec, *, on_progress: Callable[[WorkloadProgress], None] | None = None) -> None:
        spec.check()
        self.transport = transport
        self.spec = spec
        self.on_progress = on_progress
        self.ledger = Ledger(grace=spec.grace)
        self.slots: list[_Slot | None] = []
        self.group = f"group:{transport.options.group}"
        self.publish_hist = Histogram()
        self._pub_buf: list[float] = []
        self._pub_sum = 0.0
        self._pub_min = float("inf")
        self._pub_max = 0.0
        self._pub_count = 0
        self.publish_errors = 0
        self.error_samples: list[str] = []
        self.consumer_errors: list[str] = []
        self.kills: list[dict[str, Any]] = []
        self.series = _Series()
        self.body = os.urandom(spec.size)
        self.t0 = 0.0
        self.t0_pub = 0.0
        self.started: datetime | None = None
        self.publish_seconds = 0.0
        self._stop = asyncio.Event()

    # -- consumers ---------------------------------------------------------------------------------------

    def _deliver(self, receiver: str) -> Callable[[str | bytes, str], None]:
        receive = self.ledger.receive
        received = self.series.received
        member: str | None = None if self.transport.fanout else ""

        def deliver(token: str | bytes, consumer: str) -> None:
            receive(receiver, token, member=consumer if member is not None else None)
            second = int(time.monotonic() - self.t0)
            received[second] = received.get(second, 0) + 1

        return deliver

    def _start_consumer(self, index: int) -> _Slot:
        receiver = f"consumer-{index}" if self.transport.fanout else self.group
        if self.transport.fanout:
            self.ledger.entitle(receiver, ALL_KEYS)
        consumer = self.transport.consumer(index, self._deliver(receiver))
        task = asyncio.get_running_loop().create_task(self._guard(consumer))
        return _Slot(consumer, task, receiver)

    async def _guard(self, consumer: Consumer) -> None:
        try:
            await consumer.run()
        except BrokerError as exc:
            if not consumer.stopped:  # a killed consumer's connection error is the kill itself
                self.consumer_errors.append(str(exc))

    async def start(self) -> None:
        """Connect, create the stream/queue, start the consumers and wait until they listen."""
        await self.transport.open()
        self.t0 = time.monotonic()
        self.started = datetime.now(UTC)
        if not self.transport.fanout:
            self.ledger.entitle(self.group, ALL_KEYS)
        self.slots = [self._start_consumer(i) for i in range(self.spec.consumers)]
        await self.transport.ready([s.consumer for s in self.slots if s is not None])

    async def kill_consumer(self, index: int, *, holding: bool = False, wait: float = 10.0) -> int:
        """Stop consumer `index` abruptly: what it took and did not acknowledge stays with the broker.

        `holding`: wait (up to `wait` s) for a moment when it holds messages it recorded and
        has not acknowledged, so the broker must redeliver them (duplicates, not losses).
        Returns how many it held."""
        slot = self.slots[index]
        if slot is None:
            return 0
        if holding:
            deadline = time.monotonic() + wait
            while not slot.consumer.holding and time.monotonic() < deadline:
                await asyncio.sleep(0.0005)
        held, taken = slot.consumer.holding, slot.consumer.taken
        self.slots[index] = None
        await self._end(slot, abrupt=True)
        self.kills.append(
            {
                "consumer": slot.consumer.name,
                "at_s": round(time.monotonic() - self.t0, 3),
                "unacked_recorded": held,
                "unacked_taken": max(taken, held),
            }
        )
        if self.transport.fanout and not self.transport.durable:
            # a gone subscriber is owed nothing sent after the last message it got
            last = self.ledger.last_seen(slot.receiver)
            self.ledger.revoke(slot.receiver, until=None if last is None else last + 1e-6)
        return held

    @staticmethod
    async def _end(slot: _Slot, *, abrupt: bool) -> None:
        """Cancel the consumer's task and drop its connection. Some clients finish a pending
        read before they honour a cancel; closing the connection under them ends it."""
        slot.consumer.stopped = True
        slot.task.cancel()
        _, pending = await asyncio.wait({slot.task}, timeout=0.5)
        await (slot.consumer.kill() if abrupt else slot.consumer.close())
        if pending:
            await asyncio.wait(pending, timeout=5.0)

    async def restart_consumer(self, index: int) -> None:
        if self.slots[index] is None:
            self.slots[index] = self._start_consumer(index)
            await self.transport.ready([self.slots[index].consumer])  # type: ignore[union-attr]

    # -- publishing ----------------------------------------------------------------------------------------

    async def _publisher(self, k: int, quota: int | None) -> None:
        spec = self.spec
        key = f"k{k}"
        interval = spec.keys / spec.rate
        due = self.t0_pub + k / spec.rate
        end = self.t0_pub + spec.duration
        sent = 0
        ledger = self.ledger
        acked = self.transport.acked
        publish = self.transport.publish
        series = self.series.sent
        while not self._stop.is_set():
            if quota is not None and sent >= quota:
                return
            if spec.count is None and due >= end + interval:  # fell behind: the duration still ends it
                return
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            env = ledger.send(PRODUCER, key, acked=not acked)
            t = time.perf_counter()
            try:
                await publish(key, env.token(), self.body)
            except BrokerError as exc:
                ledger.fail(env)
                self.publish_errors += 1
                if len(self.error_samples) < 5:
                    self.error_samples.append(str(exc))
            else:
                ms = (time.perf_counter() - t) * 1000.0
                if acked:
                    ledger.ack(env)
                self._pub_buf.append(ms)
                if len(self._pub_buf) >= 4096:
                    self._fold_publish()
            second = int(time.monotonic() - self.t0)
            series[second] = series.get(second, 0) + 1
            sent += 1
            due += interval

    def _fold_publish(self) -> None:
        if not self._pub_buf:
            return
        values = np.asarray(self._pub_buf, dtype=np.float64)
        self._pub_buf = []
        record_many(self.publish_hist, values)
        self._pub_count += int(values.size)
        self._pub_sum += float(values.sum())
        self._pub_min = min(self._pub_min, float(values.min()))
        self._pub_max = max(self._pub_max, float(values.max()))

    async def publish(self) -> None:
        """Publish for the spec's duration (or count) at its rate; returns when the last one is acked."""
        spec = self.spec
        self.t0_pub = time.monotonic()
        total = spec.count if spec.count is not None else round(spec.rate * spec.duration)
        quotas: list[int | None] = [total // spec.keys + (1 if k < total % spec.keys else 0) for k in range(spec.keys)]
        await asyncio.gather(*(self._publisher(k, q) for k, q in enumerate(quotas)))
        self.publish_seconds = time.monotonic() - self.t0_pub

    def stop(self) -> None:
        """Stop publishing early (Ctrl-C): what was sent is still judged."""
        self._stop.set()

    # -- the whole run -----------------------------------------------------------------------------------------

    async def _report(self, phase: str) -> None:
        while True:
            await asyncio.sleep(1.0)
            self.progress(phase)

    def progress(self, phase: str) -> WorkloadProgress:
        v = self.ledger.verdict(histograms=False)
        pct = v.percentiles()
        p = WorkloadProgress(
            elapsed=time.monotonic() - self.t0,
            phase=phase,
            sent=v.sent,
            acked=v.acked,
            receipts=v.receipts,
            in_flight=v.in_flight,
            lost=v.lost,
            p99_ms=pct.get("p(99)"),
            publish_errors=self.publish_errors,
        )
        if self.on_progress is not None:
            self.on_progress(p)
        return p

    async def finish(self) -> RunResult:
        """Wait out the grace period, stop consumers, close the broker; the result."""
        reporter = asyncio.get_running_loop().create_task(self._report("settling"))
        try:
            verdict = await self.ledger.settle()
        finally:
            reporter.cancel()
        for i in range(len(self.slots)):
            await self._stop_consumer(i)
        await self.transport.close()
        return self._result(verdict)

    async def _stop_consumer(self, index: int) -> None:
        slot = self.slots[index]
        if slot is None:
            return
        self.slots[index] = None
        await self._end(slot, abrupt=False)

    async def run(self) -> RunResult:
        await self.start()
        reporter = asyncio.get_running_loop().create_task(self._report("publishing"))
        try:
            await self.publish()
        finally:
            reporter.cancel()
        return await self.finish()

    def _result(self, verdict: Any) -> RunResult:
        self._fold_publish()
        result = RunResult(name=self.transport.describe(), kind="messaging", tool="assay")
        result.started_at = self.started
        result.finished_at = datetime.now(UTC)
        result.duration_s = self.publish_seconds or (time.monotonic() - self.t0)
        result.metrics = verdict.metrics()
        pub = Metric(type=MetricType.TREND, contains=Contains.TIME)
        if self._pub_count:
            pub.count, pub.sum, pub.min, pub.max = self._pub_count, self._pub_sum, self._pub_min, self._pub_max
            pub.set_histogram(self.publish_hist)
        result.metrics[PUBLISH_LATENCY] = pub
        receipts = verdict.receipts
        result.metrics["message_receipts"] = Metric(type=MetricType.COUNTER, count=1, sum=float(receipts))
        base = int(self.started.timestamp()) if self.started else 0
        seconds = sorted(set(self.series.sent) | set(self.series.received))
        result.timeseries = [
            TimeBucket(
                t=float(base + s),
                metrics={
                    "messages_sent": {"count": float(self.series.sent.get(s, 0))},
                    "message_receipts": {"count": float(self.series.received.get(s, 0))},
                },
            )
            for s in seconds
        ]
        spec = self.spec
        result.extra["ledger"] = verdict.to_dict()
        result.extra["messaging"] = {
            "broker": self.transport.describe(),
            "url": self.transport.url,
            "rate_target": spec.rate,
            "rate_achieved": round(verdict.sent / self.publish_seconds, 1) if self.publish_seconds else None,
            "throughput_delivered": round(verdict.delivered / self.publish_seconds, 1) if self.publish_seconds else None,
            "consumers": spec.consumers,
            "keys": spec.keys,
            "size": spec.size,
            "fanout": self.transport.fanout,
            "publish_errors": self.publish_errors,
            "error_samples": self.error_samples,
            "consumer_errors": self.consumer_errors[:5],
            "kills": self.kills,
        }
        for problem in verdict.problems():
            result.notes.append(f"ledger: {problem}")
        if self.publish_errors:
            result.notes.append(f"{self.publish_errors} publish(es) failed: {'; '.join(self.error_samples[:2])}")
        if self.consumer_errors:
            result.notes.append(f"consumer error: {self.consumer_errors[0]}")
        result.status = RunStatus.ABORTED if self._stop.is_set() else RunStatus.PASSED
        return result
