"""Iterations that are exactly one request nobody reads, looped on one kept-alive connection.

The connection sends the next request from its response callback (as wrk does), with no
coroutine resumed per request; `HttpClient.run_static` starts and finishes such a loop.
Compiled (`_fastresp.StaticLoop`) when the C extension is built, plain Python otherwise.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from assay.load.http.connection import COMPILED, Connection
from assay.load.http.series import FrozenTags, pack_row, series_key

_perf = time.perf_counter

# statuses the client follows (a loop hands their responses back to the client)
REDIRECTS = frozenset({301, 302, 303, 307, 308})

# HttpClient._record's signature: (method, url, tags, status, error_code, expected, 7 timings, sent, received)
Record = Callable[..., None]


class StaticRequest:
    """An iteration that is exactly one request whose response nobody reads (quick mode, YAML
    steps without checks or captures). The runner may run such iterations with
    `HttpClient.run_static` instead of calling the iteration function."""

    __slots__ = ("method", "url", "headers", "body", "tags", "timeout", "redirects")

    def __init__(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        tags: FrozenTags | None = None,
        timeout: float | None = None,
        redirects: int = -1,
    ) -> None:
        self.method = method.upper()
        self.url = url
        self.headers = dict(headers) if headers else None
        self.body = body or None
        self.tags = tags
        self.timeout = timeout
        self.redirects = redirects


class StaticLoopState:
    """The fields the compiled `StaticLoop` holds, for a Python without the extension."""

    __slots__ = (
        "vu", "data", "worker", "flags", "iters", "iter_durations", "last_series",
        "timeout", "end_at", "t_iter", "t_send", "t_sent", "nbytes", "last_status", "follow", "finished",
    )
    vu: Any
    data: bytes
    worker: Any
    flags: dict[str, bool] | None
    iters: Any
    iter_durations: Any
    last_series: Any
    timeout: float
    end_at: float
    t_iter: float
    t_send: float
    t_sent: float
    nbytes: int
    last_status: int
    follow: bool
    finished: bool

    def __call__(self, conn: Connection) -> bool:
        return self._step(conn)  # type: ignore[attr-defined,no-any-return]


if TYPE_CHECKING:
    _StaticLoopBase = StaticLoopState
elif COMPILED:
    from assay.load.http._fastresp import StaticLoop as _StaticLoopBase
else:
    _StaticLoopBase = StaticLoopState


class StaticRun(_StaticLoopBase):
    """The response callback of one `run_static` loop: record, count the iteration, send the next.

    Compiled (`_fastresp.StaticLoop.__call__`) for a response with the status of the one before;
    `_step` does the same for any response and finds the series of a new status."""

    __slots__ = ("record", "series", "expected", "name", "method", "tag_key", "url", "tags")

    def __init__(
        self, record: Record, series: Mapping[tuple[Any, ...], Any], expected: bytes, vu: Any, data: bytes, timeout: float, end_at: float, worker: Any,
        flags: dict[str, bool] | None, iters: Any, iter_durations: Any, series_key: tuple[Any, ...], follow: bool,
        url: str, tags: FrozenTags | None,
    ) -> None:
        self.url = url
        self.tags = tags
        self.nbytes = len(data)
        self.record = record
        self.series = series
        self.expected = expected
        self.vu = vu
        self.data = data
        self.timeout = timeout
        self.end_at = end_at
        self.worker = worker
        self.flags = flags
        self.iters = iters
        self.iter_durations = iter_durations
        self.name, self.method, self.tag_key = series_key
        self.follow = follow
        self.t_iter = self.t_send = self.t_sent = 0.0
        self.finished = False
        self.last_status = -1
        self.last_series = None

    def count_iteration(self, now: float) -> None:
        iters = self.iters
        iters.count += 1
        iters.sum += 1.0
        self.iter_durations.buf.append((now - self.t_iter) * 1000.0)
        self.vu.iteration += 1

    def _step(self, conn: Connection) -> bool:
        status = conn.status
        if conn.special is not None or not conn.keep_alive or conn.closed or (self.follow and status in REDIRECTS):
            return False  # the coroutine finishes this response the general way
        t_done = conn.t_last
        t_send = self.t_send
        t_sent = self.t_sent
        t_first = conn.t_first or t_done
        if status == self.last_status:
            series = self.last_series
        elif self._resolve(conn, status, t_send, t_sent, t_first, t_done):
            series = None
        else:
            series = self.last_series
        if series is not None:
            series.buf.frombytes(pack_row(0.0, 0.0, 0.0, (t_sent - t_send) * 1000.0, (t_first - t_sent) * 1000.0,
                                          (t_done - t_first) * 1000.0, (t_done - t_send) * 1000.0, -1.0))
            series.sent += self.nbytes
            series.received += conn.received
        iters = self.iters
        iters.count += 1
        iters.sum += 1.0
        self.iter_durations.buf.append((t_done - self.t_iter) * 1000.0)
        self.vu.iteration += 1
        if t_done >= self.end_at or self.worker.stopping or (self.flags is not None and self.flags["stop"]):
            self.finished = True
            return False
        # the next iteration: Connection.restart, inlined
        self.t_iter = t_done
        conn.status = 0
        conn.head = None
        conn.chunks = []
        conn.special = None
        conn.t_first = 0.0
        conn.received = 0
        conn.kept = 0
        conn.complete = False
        t_send = self.t_send = _perf()
        conn.deadline = t_send + self.timeout
        conn.transport.write(self.data)
        self.t_sent = _perf()
        return True

    def _resolve(self, conn: Connection, status: int, t_send: float, t_sent: float, t_first: float, t_done: float) -> bool:
        """Find the series of a status not seen in this loop yet. The first sample of a new tag
        set is recorded here, by `_record` (which creates the series): then True."""
        expected = status < 600 and self.expected[status] == 1
        series = self.series.get(series_key(self.vu._tags_version, self.name, self.method, status, 0, expected, self.tag_key))
        if series is None:
            self.record(self.method, self.url, self.tags, status, 0, expected, 0.0, 0.0, 0.0, (t_sent - t_send) * 1000.0,
                        (t_first - t_sent) * 1000.0, (t_done - t_first) * 1000.0, (t_done - t_send) * 1000.0, self.nbytes, conn.received)
            self.last_status = -1
            self.last_series = None
            return True
        self.last_status = status
        self.last_series = series
        return False
