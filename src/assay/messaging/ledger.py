"""The delivery ledger: did every message arrive, once, in order, only where it should?

A load tool can tell that a POST returned 201; the ledger tells whether the message it
carried reached its receivers. Producers take a mark (`Envelope`) for each message they
send and report the service's acknowledgement; receivers hand every message they get back
to the ledger. At any moment, and finally after a grace period, it gives a `Verdict`:

- **sent / acked / failed**: what producers sent and what the service accepted;
- **delivered**: acked and received by every receiver entitled to it;
- **lost**: acked and missing at some entitled receiver when its deadline passed
  (`send time + grace` during the run; the end of the grace period for the final verdict),
  listed by id; messages still within their deadline are **in flight**, also by id;
- **duplicated**: receipts of a message a receiver already had (redeliveries);
- **out of order**: receipts behind a later sequence number of the same producer and key;
- **misdelivered**: receipts at a receiver not entitled to the message's key (leakage);
- **unrouted**: acked while no receiver was entitled to its key (neither lost nor delivered);
- end-to-end latency (send to first receipt, per receiver) overall and per key, as HDR histograms.

Who is entitled: `entitle(receiver, keys, since=...)` opens a window; a message must reach
that receiver when it was sent inside the window (a subscriber that connects late is not
owed what was sent before). A consumer group is one receiver (name the group, not the
member): the group must get each message once, whichever member takes it, so a message
redelivered to another member after a crash counts as a duplicate, not as a new delivery.
Order is judged per (producer, key): two producers writing to one key have no order between them.

Memory is bounded for long soaks: the ledger keeps no receipt. Per (producer, key) it keeps
the send time of each sequence number (4 bytes, float32 offset from the stream's first
send: 0.1 ms precision over half an hour) and the sets of failed/unacked numbers; per
(receiver, producer, key) the received numbers as ranges (one range when delivery is in
order, one more per hole); latency in HDR histograms. So 30 minutes at 500 msg/s to 50
receivers (45 M receipts) costs a few MB, not GB (benchmarks/bench_ledger.py measures it).

All methods are thread-safe (one lock) and never await, so VUs on one event loop and
threads can share a ledger. Worker processes each keep their own; `state()` turns one into
plain JSON data and `Ledger.merged(states)` combines them exactly: received ranges are united,
and a message received by one receiver in two processes is counted as a duplicate there too.

    ledger = Ledger(grace=5.0)
    ledger.entitle("alice", ["conv-7"])
    env = ledger.send("vu-1", "conv-7")           # before the request; put env.token() in the body
    ledger.ack(env)                                # the service accepted it (or ledger.fail(env))
    ledger.receive("alice", body_text)             # on each arrival: finds the token in the text
    verdict = await ledger.settle()                # waits up to `grace` for stragglers
    verdict.metrics()                              # messages_* counters, message_delivery_latency
"""

from __future__ import annotations

import asyncio
import base64
import threading
import time
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any

import numpy as np
from hdrh.histogram import HdrHistogram

from assay.histo import hist_add, record_many, values_at
from assay.messaging.envelope import Envelope
from assay.messaging.ranges import RangeSet
from assay.messaging.verdict import KeyVerdict, Verdict
from assay.results import Histogram

__all__ = ["Ledger", "Receipt", "ALL_KEYS", "STATE_SCHEMA"]

ALL_KEYS = "*"
"""Entitles a receiver to every key (a queue's consumer group, a firehose subscriber)."""
STATE_SCHEMA = "assay.ledger/1"
_FLUSH_AT = 4096
_KEY_FLUSH_AT = 512  # many keys: keep their buffers small
_PARSE_CACHE = 4096
_UNPARSED = Envelope("", "", -1, 0.0)
_FOREVER = float("inf")


class Receipt(StrEnum):
    """What one arrival was, as `Ledger.receive` judged it."""

    FIRST = "first"
    OUT_OF_ORDER = "out_of_order"
    DUPLICATE = "duplicate"
    MISDELIVERED = "misdelivered"
    UNMARKED = "unmarked"


def _key_histogram() -> Histogram:
    """Per-key latency: 2 significant digits (42 KB) instead of the run trend's 3 (311 KB)."""
    return Histogram(HdrHistogram(Histogram.LOWEST, Histogram.HIGHEST, 2))


class _Stream:
    """The sender's side of one (producer, key): send times and acknowledgement state per seq."""

    __slots__ = ("producer", "key", "t0", "offsets", "last", "unacked", "failed")

    def __init__(self, producer: str, key: str, t0: float) -> None:
        self.producer = producer
        self.key = key
        self.t0 = t0
        self.offsets = array("f")
        self.last = 0.0
        self.unacked: set[int] = set()
        self.failed = RangeSet()

    def seq_at(self, ts: float) -> int:
        """The first sequence number sent at or after wall time `ts`."""
        if ts == -_FOREVER:
            return 0
        if ts == _FOREVER:
            return len(self.offsets)
        return bisect_left(self.offsets, ts - self.t0)

    def ts_of(self, seq: int) -> float:
        return self.t0 + float(self.offsets[seq])

    def acked(self) -> RangeSet:
        out = RangeSet.span(0, len(self.offsets)).difference(self.failed)
        if self.unacked:
            out = out.difference(RangeSet.of_values(self.unacked))
        return out


class _Inbox:
    """One receiver's view of one stream: which seqs arrived (ranges), the highest so far, counts."""

    __slots__ = ("got", "max_seen", "receipts", "duplicates", "out_of_order")

    def __init__(self) -> None:
        self.got = RangeSet()
        self.max_seen = -1
        self.receipts = 0
        self.duplicates = 0
        self.out_of_order = 0


class _KeyStats:
    """Per-key counters of arrivals and the key's latency histogram (if within the limit)."""

    __slots__ = ("duplicates", "out_of_order", "misdelivered", "hist", "buf", "count", "sum", "min", "max")

    def __init__(self, with_histogram: bool) -> None:
        self.duplicates = 0
        self.out_of_order = 0
        self.misdelivered = 0
        self.hist: Histogram | None = _key_histogram() if with_histogram else None
        self.buf: array[float] | None = array("d") if with_histogram else None
        self.count = 0
        self.sum = 0.0
        self.min = _FOREVER
        self.max = 0.0


class Ledger:
    """Records what was sent and what arrived; judges delivery (see the module docstring)."""

    def __init__(self, *, grace: float = 5.0, per_key_latency_limit: int = 200, list_limit: int = 100) -> None:
        if grace < 0:
            raise ValueError("grace must be >= 0 seconds")
        self.grace = float(grace)
        self.per_key_latency_limit = int(per_key_latency_limit)
        self.list_limit = int(list_limit)
        self._lock = threading.Lock()
        # fan-out delivers one text to many receivers: parse each text once
        self._parsed: dict[str | bytes, Envelope | None] = {}
        self._streams: dict[tuple[str, str], _Stream] = {}
        self._inboxes: dict[tuple[str, str, str], _Inbox] = {}
        self._last_ts: dict[str, float] = {}  # receiver -> send time of the newest message it got
        self._member_max: dict[tuple[str, str, str, str], int] = {}  # (receiver, member, producer, key) -> highest seq
        # receiver -> key (or ALL_KEYS) -> [[since, until], ...]
        self._windows: dict[str, dict[str, list[list[float]]]] = {}
        self._entitled: dict[str, set[str]] = {}  # key -> receivers with a window on it
        self._everywhere: set[str] = set()  # receivers entitled to every key
        self._keys: dict[str, _KeyStats] = {}
        self._latency = Histogram()
        self._buf: array[float] = array("d")
        self._lat_count = 0
        self._lat_sum = 0.0
        self._lat_min = _FOREVER
        self._lat_max = 0.0
        self.unmarked = 0
        self.closed_at: float | None = None
        self._subscribers: list[Any] = []

    # -- sending ------------------------------------------------------------------------------------

    def send(self, producer: str, key: str, *, acked: bool = False, at: float | None = None) -> Envelope:
        """Take the mark for the next message of `producer` on `key` (call it right before sending).

        `acked=True` for transports without acknowledgements (MQTT QoS 0, a WebSocket frame):
        the message counts as accepted once it is handed to the transport."""
        now = time.time() if at is None else at
        with self._lock:
            stream = self._streams.get((producer, key))
            if stream is None:
                stream = self._streams[(producer, key)] = _Stream(producer, key, now)
                if key not in self._keys:
                    self._keys[key] = _KeyStats(len(self._keys) < self.per_key_latency_limit)
            if now < stream.last:  # the wall clock stepped back: keep send times monotone per stream
                now = stream.last
            stream.last = now
            seq = len(stream.offsets)
            stream.offsets.append(now - stream.t0)
            if not acked:
                stream.unacked.add(seq)
        return Envelope(producer, key, seq, now)

    def ack(self, env: Envelope) -> None:
        """The service accepted `env` (HTTP 2xx, a publisher confirm, a PUBACK, an XADD id)."""
        with self._lock:
            stream = self._streams.get(env.stream)
            if stream is not None:
                stream.unacked.discard(env.seq)

    def fail(self, env: Envelope) -> None:
        """Sending `env` failed or the service refused it: never owed to anyone."""
        with self._lock:
            stream = self._streams.get(env.stream)
            if stream is not None:
                stream.unacked.discard(env.seq)
                stream.failed.add(env.seq)

    # -- entitlement ------------------------------------------------------------------------------------

    def entitle(self, receiver: str, keys: str | Iterable[str] = ALL_KEYS, *, since: float | None = None) -> None:
        """`receiver` is owed every message on `keys` sent from `since` (default: now) on.

        `since=0` owes it everything ever sent on those keys (a stream read from its start)."""
        start = time.time() if since is None else (-_FOREVER if since <= 0 else since)
        with self._lock:
            windows = self._windows.setdefault(receiver, {})
            for key in [keys] if isinstance(keys, str) else list(keys):
                spans = windows.setdefault(key, [])
                if spans and spans[-1][1] == _FOREVER:
                    continue  # already entitled: keep the earlier start
                spans.append([start, _FOREVER])
                if key == ALL_KEYS:
                    self._everywhere.add(receiver)
                else:
                    self._entitled.setdefault(key, set()).add(receiver)

    def revoke(self, receiver: str, keys: str | Iterable[str] = ALL_KEYS, *, until: float | None = None) -> None:
        """`receiver` is not owed messages on `keys` sent after `until` (default: now); it left.

        An arrival after that is not misdelivery: it was entitled to the key once."""
        end = time.time() if until is None else until
        with self._lock:
            windows = self._windows.get(receiver, {})
            for key in [keys] if isinstance(keys, str) else list(keys):
                spans = windows.get(key)
                if spans and spans[-1][1] == _FOREVER:
                    spans[-1][1] = end

    def last_seen(self, receiver: str) -> float | None:
        """Send time of the newest message `receiver` got (None if nothing yet).

        A subscriber that drops is owed what was sent up to here; what was sent after was in
        flight when it left, and no one can deliver it to a socket that is gone."""
        with self._lock:
            return self._last_ts.get(receiver)

    def is_entitled(self, receiver: str, key: str) -> bool:
        windows = self._windows.get(receiver)
        return windows is not None and (key in windows or ALL_KEYS in windows)

    # -- receiving -----------------------------------------------------------------------------------

    def receive(
        self,
        receiver: str,
        message: Envelope | str | bytes | bytearray | memoryview | None,
        *,
        at: float | None = None,
        member: str | None = None,
    ) -> Receipt:
        """Record that `receiver` got `message` (an Envelope, or any text/bytes holding its token).

        `member`: the consumer of a group that took it. Loss and duplicates are judged for the
        group, order per member (a queue or stream spreads one key over its consumers, so
        arrivals at the group as a whole have no order to keep)."""
        arrived = time.time() if at is None else at
        if isinstance(message, Envelope):
            env: Envelope | None = message
        else:
            if isinstance(message, bytearray | memoryview):
                message = bytes(message)
            parsed = self._parsed
            env = parsed.get(message, _UNPARSED) if message is not None else None  # type: ignore[arg-type]
            if env is _UNPARSED:
                env = Envelope.find(message)
                if len(parsed) >= _PARSE_CACHE:
                    parsed.clear()
                parsed[message] = env  # type: ignore[index]
        with self._lock:
            if env is None:
                self.unmarked += 1
                return Receipt.UNMARKED
            key = env.key
            stats = self._keys.get(key)
            if stats is None:
                stats = self._keys[key] = _KeyStats(len(self._keys) < self.per_key_latency_limit)
            ikey = (receiver, env.producer, key)
            inbox = self._inboxes.get(ikey)
            if inbox is None:
                inbox = self._inboxes[ikey] = _Inbox()
            inbox.receipts += 1
            if env.ts > self._last_ts.get(receiver, 0.0):
                self._last_ts[receiver] = env.ts
            windows = self._windows.get(receiver)
            entitled = windows is not None and (key in windows or ALL_KEYS in windows)
            seq = env.seq
            if not inbox.got.add(seq):
                inbox.duplicates += 1
                stats.duplicates += 1
                return Receipt.DUPLICATE if entitled else Receipt.MISDELIVERED
            if not entitled:
                stats.misdelivered += 1
                return Receipt.MISDELIVERED
            latency = (arrived - env.ts) * 1000.0
            if latency < 0:
                latency = 0.0
            self._buf.append(latency)
            if stats.buf is not None:
                stats.buf.append(latency)
                if len(stats.buf) >= _KEY_FLUSH_AT:
                    self._flush_key(stats)
            if len(self._buf) >= _FLUSH_AT:
                self._flush()
            if member is None:
                if seq < inbox.max_seen:
                    inbox.out_of_order += 1
                    stats.out_of_order += 1
                    return Receipt.OUT_OF_ORDER
                inbox.max_seen = seq
                return Receipt.FIRST
            okey = (receiver, member, env.producer, key)
            top = self._member_max.get(okey, -1)
            if seq < top:
                inbox.out_of_order += 1
                stats.out_of_order += 1
                return Receipt.OUT_OF_ORDER
            self._member_max[okey] = seq
            return Receipt.FIRST

    def _flush(self) -> None:
        buf = self._buf
        if not buf:
            return
        values = np.frombuffer(buf, dtype=np.float64).copy()
        self._buf = array("d")
        record_many(self._latency, values)
        self._lat_count += int(values.size)
        self._lat_sum += float(values.sum())
        self._lat_min = min(self._lat_min, float(values.min()))
        self._lat_max = max(self._lat_max, float(values.max()))

    @staticmethod
    def _flush_key(stats: _KeyStats) -> None:
        buf = stats.buf
        if not buf or stats.hist is None:
            return
        values = np.frombuffer(buf, dtype=np.float64).copy()
        stats.buf = array("d")
        record_many(stats.hist, values)
        stats.count += int(values.size)
        stats.sum += float(values.sum())
        stats.min = min(stats.min, float(values.min()))
        stats.max = max(stats.max, float(values.max()))

    # -- judging -------------------------------------------------------------------------------------

    def _required(self, stream: _Stream) -> list[tuple[str, RangeSet]]:
        """Each receiver owed part of `stream`, with the seqs it is owed (by send time)."""
        out: list[tuple[str, RangeSet]] = []
        names = self._entitled.get(stream.key, set()) | self._everywhere
        for name in sorted(names):
            windows = self._windows[name]
            owed = RangeSet()
            for key in (stream.key, ALL_KEYS):
                for since, until in windows.get(key, ()):
                    owed = owed.union(RangeSet.span(stream.seq_at(since), stream.seq_at(until)))
            if owed:
                out.append((name, owed))
        return out

    def verdict(self, *, final: bool = False, now: float | None = None, histograms: bool = True) -> Verdict:
        """The ledger's judgement now. Not `final`: a missing message is in flight until
        `send time + grace`, lost after. `final`: everything still missing is lost.

        `histograms=False` (progress lines, polling): percentiles only, no histogram copies
        (copying one per key every second would churn megabytes for nothing)."""
        now = time.time() if now is None else now
        with self._lock:
            self._flush()
            v = Verdict(final=final, grace=self.grace)
            per_key: dict[str, KeyVerdict] = {}
            for stream in self._streams.values():
                kv = per_key.setdefault(stream.key, KeyVerdict())
                n = len(stream.offsets)
                acked = stream.acked()
                n_acked = len(acked)
                n_failed = len(stream.failed)
                kv.sent += n
                kv.acked += n_acked
                v.failed += n_failed
                v.unacked += n - n_acked - n_failed
                routed = RangeSet()
                missing = RangeSet()
                for name, owed in self._required(stream):
                    owed = owed.intersection(acked)
                    if not owed:
                        continue
                    routed = routed.union(owed)
                    inbox = self._inboxes.get((name, stream.producer, stream.key))
                    miss = owed.difference(inbox.got) if inbox is not None else owed
                    if miss:
                        missing = missing.union(miss)
                kv.delivered += len(routed) - len(missing)
                v.unrouted += n_acked - len(routed)
                if missing:
                    if final:
                        lost, flying = missing, RangeSet()
                    else:
                        cut = stream.seq_at(now - self.grace)
                        lost = missing.intersection(RangeSet.span(0, cut))
                        flying = missing.difference(lost)
                    kv.lost += len(lost)
                    v.in_flight += len(flying)
                    for seq in lost.first(max(0, self.list_limit - len(v.lost_ids))):
                        v.lost_ids.append(Envelope(stream.producer, stream.key, seq, stream.ts_of(seq)).id)
                    for seq in flying.first(max(0, self.list_limit - len(v.in_flight_ids))):
                        v.in_flight_ids.append(Envelope(stream.producer, stream.key, seq, stream.ts_of(seq)).id)
            for key, stats in self._keys.items():
                kv = per_key.setdefault(key, KeyVerdict())
                kv.duplicated = stats.duplicates
                kv.out_of_order = stats.out_of_order
                kv.misdelivered = stats.misdelivered
                if stats.hist is not None and histograms:
                    self._flush_key(stats)
                    if stats.count:
                        kv.latency = _key_histogram()
                        hist_add(kv.latency, stats.hist)
                        kv.latency_count, kv.latency_sum, kv.latency_min, kv.latency_max = stats.count, stats.sum, stats.min, stats.max
            v.per_key = per_key
            for kv in per_key.values():
                v.sent += kv.sent
                v.acked += kv.acked
                v.delivered += kv.delivered
                v.lost += kv.lost
                v.duplicated += kv.duplicated
                v.out_of_order += kv.out_of_order
                v.misdelivered += kv.misdelivered
            v.receipts = sum(i.receipts for i in self._inboxes.values())
            v.unmarked = self.unmarked
            v.latency_count, v.latency_sum = self._lat_count, self._lat_sum
            v.latency_min = self._lat_min if self._lat_count else None
            v.latency_max = self._lat_max if self._lat_count else None
            v.keys_without_latency = sum(1 for s in self._keys.values() if s.hist is None)
            if histograms:
                v.latency = self._latency.copy()
            elif self._lat_count:
                v.latency_percentiles = _percentiles_of(self._latency, self._lat_min, self._lat_max)
        return v

    def outstanding(self) -> int:
        """Acked messages some entitled receiver still misses (what `settle` waits for)."""
        return self.verdict(final=True, histograms=False).lost

    async def settle(self, grace: float | None = None, *, poll: float = 0.05) -> Verdict:
        """Wait until nothing is outstanding or `grace` seconds pass; then the final verdict.

        Receivers must keep running meanwhile (their tasks record arrivals as they come)."""
        deadline = time.monotonic() + (self.grace if grace is None else grace)
        while time.monotonic() < deadline:
            t0 = time.perf_counter()
            if not self.outstanding():
                break
            # judging costs time with many streams: never spend more than a third of it judging
            pause = max(poll, 2 * (time.perf_counter() - t0))
            await asyncio.sleep(min(pause, max(0.0, deadline - time.monotonic())))
        self.closed_at = time.time()
        return self.verdict(final=True)

    # -- state and merge ------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """Everything the verdict needs, as JSON-able data (for worker processes and results files)."""
        with self._lock:
            self._flush()
            for stats in self._keys.values():
                self._flush_key(stats)
            return {
                "schema": STATE_SCHEMA,
                "grace": self.grace,
                "streams": [
                    {
                        "producer": s.producer,
                        "key": s.key,
                        "t0": s.t0,
                        "offsets": base64.b64encode(s.offsets.tobytes()).decode("ascii"),
                        "unacked": sorted(s.unacked),
                        "failed": s.failed.to_list(),
                    }
                    for s in self._streams.values()
                ],
                "inboxes": [
                    {
                        "receiver": r,
                        "producer": p,
                        "key": k,
                        "got": i.got.to_list(),
                        "max_seen": i.max_seen,
                        "receipts": i.receipts,
                        "duplicates": i.duplicates,
                        "out_of_order": i.out_of_order,
                    }
                    for (r, p, k), i in self._inboxes.items()
                ],
                "windows": {r: {k: [[_enc(a), _enc(b)] for a, b in spans] for k, spans in ws.items()} for r, ws in self._windows.items()},
                "keys": {
                    k: {
                        "duplicates": s.duplicates,
                        "out_of_order": s.out_of_order,
                        "misdelivered": s.misdelivered,
                        "hdr": s.hist.encode() if s.hist is not None and s.count else None,
                        "count": s.count,
                        "sum": s.sum,
                        "min": s.min if s.count else None,
                        "max": s.max if s.count else None,
                        "histogram": s.hist is not None,
                    }
                    for k, s in self._keys.items()
                },
                "latency": {
                    "hdr": self._latency.encode() if self._lat_count else None,
                    "count": self._lat_count,
                    "sum": self._lat_sum,
                    "min": self._lat_min if self._lat_count else None,
                    "max": self._lat_max if self._lat_count else None,
                },
                "unmarked": self.unmarked,
            }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Ledger:
        ledger = cls(grace=float(state.get("grace", 5.0)))
        ledger.merge_state(state)
        return ledger

    @classmethod
    def merged(cls, states: Iterable[Mapping[str, Any]], *, grace: float | None = None) -> Ledger:
        """One ledger holding every part (each worker process's `state()`), merged exactly."""
        states = list(states)
        ledger = cls(grace=grace if grace is not None else max((float(s.get("grace", 5.0)) for s in states), default=5.0))
        for s in states:
            ledger.merge_state(s)
        return ledger

    def merge_state(self, state: Mapping[str, Any]) -> None:
        """Add another part of the same run (see `state()`)."""
        if state.get("schema") != STATE_SCHEMA:
            raise ValueError(f"not a ledger state (schema {state.get('schema')!r}, expected {STATE_SCHEMA!r})")
        with self._lock:
            self._flush()
            for s in state["streams"]:
                skey = (s["producer"], s["key"])
                if skey in self._streams:
                    raise ValueError(f"stream {skey} appears in two parts: producers must be unique per process")
                stream = _Stream(s["producer"], s["key"], float(s["t0"]))
                stream.offsets.frombytes(base64.b64decode(s["offsets"]))
                stream.last = stream.ts_of(len(stream.offsets) - 1) if len(stream.offsets) else stream.t0
                stream.unacked = {int(x) for x in s["unacked"]}
                stream.failed = RangeSet.from_list(s["failed"])
                self._streams[skey] = stream
            for receiver, ws in state["windows"].items():
                for key, spans in ws.items():
                    mine_spans = self._windows.setdefault(receiver, {}).setdefault(key, [])
                    mine_spans.extend([_dec(a), _dec(b)] for a, b in spans)
                    mine_spans.sort()
                    if key == ALL_KEYS:
                        self._everywhere.add(receiver)
                    else:
                        self._entitled.setdefault(key, set()).add(receiver)
            for i in state["inboxes"]:
                ikey = (i["receiver"], i["producer"], i["key"])
                got = RangeSet.from_list(i["got"])
                mine = self._inboxes.get(ikey)
                if mine is None:
                    mine = self._inboxes[ikey] = _Inbox()
                # a seq both parts received is one more duplicate (the same receiver got it twice)
                both = len(mine.got.intersection(got))
                mine.got = mine.got.union(got)
                mine.max_seen = max(mine.max_seen, int(i["max_seen"]))
                mine.receipts += int(i["receipts"])
                mine.duplicates += int(i["duplicates"]) + both
                mine.out_of_order += int(i["out_of_order"])
                if both:
                    stats = self._keys.get(i["key"])
                    if stats is None:
                        stats = self._keys[i["key"]] = _KeyStats(False)
                    stats.duplicates += both
                    if not self.is_entitled(i["receiver"], i["key"]):
                        stats.misdelivered -= both  # each part counted its first copy as misdelivered
            for key, ks in state["keys"].items():
                stats = self._keys.get(key)
                if stats is None:
                    stats = self._keys[key] = _KeyStats(bool(ks.get("histogram")) and len(self._keys) < self.per_key_latency_limit)
                stats.duplicates += int(ks["duplicates"])
                stats.out_of_order += int(ks["out_of_order"])
                stats.misdelivered += int(ks["misdelivered"])
                if ks.get("hdr") and stats.hist is not None:
                    self._flush_key(stats)
                    stats.hist.add(Histogram.decode(ks["hdr"]))
                    stats.count += int(ks["count"])
                    stats.sum += float(ks["sum"])
                    stats.min = min(stats.min, float(ks["min"]))
                    stats.max = max(stats.max, float(ks["max"]))
            lat = state["latency"]
            if lat.get("hdr"):
                hist_add(self._latency, Histogram.decode(lat["hdr"]))
                self._lat_count += int(lat["count"])
                self._lat_sum += float(lat["sum"])
                self._lat_min = min(self._lat_min, float(lat["min"]))
                self._lat_max = max(self._lat_max, float(lat["max"]))
            self.unmarked += int(state.get("unmarked", 0))

    # -- receivers that run in the background --------------------------------------------------------------

    def own(self, subscriber: Any) -> None:
        """Keep `subscriber` (anything with `async close()`) running until `close()`: it must
        outlive the load so late messages are still recorded during the grace period."""
        with self._lock:
            self._subscribers.append(subscriber)

    async def close(self) -> None:
        """Close every owned subscriber (after `settle`)."""
        with self._lock:
            subs, self._subscribers = self._subscribers, []
        for sub in subs:
            try:
                await sub.close()
            except Exception:  # noqa: BLE001 - a subscriber failing to close must not lose the verdict
                pass

    # -- introspection (tests and benchmarks) ----------------------------------------------------------

    def footprint(self) -> dict[str, int]:
        """Sizes of what the ledger keeps: streams, inboxes, ranges, send times (to check memory)."""
        with self._lock:
            return {
                "streams": len(self._streams),
                "inboxes": len(self._inboxes),
                "ranges": sum(i.got.range_count for i in self._inboxes.values()),
                "send_times": sum(len(s.offsets) for s in self._streams.values()),
                "keys": len(self._keys),
            }


def _percentiles_of(hist: Histogram, lo: float, hi: float) -> dict[str, float]:
    values = values_at(hist, [50.0, 95.0, 99.0])
    return {f"p({p})": round(min(max(v, lo), hi), 3) for p, v in zip((50, 95, 99), values, strict=True)}


def _enc(x: float) -> float | str:
    return "inf" if x == _FOREVER else "-inf" if x == -_FOREVER else x


def _dec(x: float | str) -> float:
    return float(x)
