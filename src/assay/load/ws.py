"""WebSocket load: sessions that record k6's ws_* metrics, plus a latency for each message.

    from assay.load.ws import ws_connect

    async def default(vu):
        async with ws_connect(vu, "ws://127.0.0.1:8080/chat", name="chat") as ws:
            await ws.send("hello")                        # ws_msgs_sent
            reply = await ws.recv(timeout=5)              # ws_msgs_received
            reply, ms = await ws.request('{"op":"ping"}') # send, wait for the answer: ws_msg_latency
            await ws.ping()                               # ws_ping (round trip of a ping frame)
        # closing records ws_session_duration; opening recorded ws_connecting and ws_sessions

Metrics, as k6 names them (metrics/builtin.go): `ws_sessions` (counter, one per session
started), `ws_msgs_sent` and `ws_msgs_received` (counters), `ws_connecting` (trend, ms from
the start of the TCP connect to the end of the opening handshake), `ws_session_duration`
(trend, ms from the start of connect to close), `ws_ping` (trend, ms ping -> pong). assay
adds `ws_msg_latency` (trend, ms from a send to the matching received message), which k6
does not have. Samples carry the VU's tags plus `name` (the URL unless given) and `status`
(when the server answered the handshake).

Sessions that do not end normally are counted as k6 (k6/ws and k6/websockets) counts them:
- a connect that fails (refused, timed out, a handshake answered with 403...) is a session
  all the same: one `ws_sessions` and its `ws_connecting` (the time until it failed), no
  `ws_session_duration` (it never opened);
- a session the server closes or drops ends at that moment: its `ws_session_duration` is
  recorded when the connection ends, not when the script next looks at the socket;
- a session cut off by the end of the test (or of its gracefulStop), whether inside
  `async with` or kept open across iterations, is closed with 1001 (going away) and records
  no `ws_session_duration`: k6 drops samples of an interrupted VU (`PushIfNotDone`), and the
  length of a cut-off session is the test's, not the session's.

assay also counts how sessions end, for "zero disconnects" gates:

- `ws_sessions_closed` (counter, tag `code`: the close code, 1006 when the connection
  dropped without a close frame): `ws_sessions_closed{code:1011}: count==0`;
- `ws_unexpected_disconnects` (counter): sessions the server or the network ended while
  the VU still used them (a send, receive or ping found them closed) with a code other
  than 1000 (normal closure), e.g. 1001 going away, 1011, or 1006 (no close frame);
- `ws_heartbeat_timeouts` (counter): with `ws.heartbeat(every=5)` the session pings every
  5 s in the background (each round trip in `ws_ping`) and counts pongs that did not come
  back within the timeout (default: the interval).

The session records through anything with `record(name, value, tags)` and, optionally,
`metric(name, kind, contains)` to declare custom metrics: a VU inside the engine, or a
`SinkRecorder` around a MetricsSink for standalone use (plans, probes, tests).
"""

from __future__ import annotations

import asyncio
import json
import time
import weakref
from collections import deque
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Protocol

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from assay.load.custom_metrics import Trend
from assay.results import Contains, MetricType

__all__ = [
    "msg_latency",
    "WsSession",
    "WsError",
    "ws_connect",
    "Recorder",
    "SinkRecorder",
    "MSG_LATENCY",
]

MSG_LATENCY = "ws_msg_latency"
# Import this into a Python scenario to put thresholds on it: `from assay.load.ws import msg_latency`.
msg_latency = Trend(MSG_LATENCY, contains="time")
Message = str | bytes
Matcher = Callable[[Message], bool]

_perf = time.perf_counter
# Seconds an interrupted session waits for the server's answer to its close frame (k6 does not wait).
INTERRUPT_CLOSE_S = 1.0


class Recorder(Protocol):
    def record(self, metric_name: str, value: float, tags: Mapping[str, str] | None = None) -> None: ...


class SinkRecorder:
    """Record straight into a MetricsSink (or anything with `add` and `declare`) outside a VU."""

    def __init__(self, sink: Any, tags: Mapping[str, str] | None = None) -> None:
        self.sink = sink
        self.tags = dict(tags or {})

    def record(self, metric_name: str, value: float, tags: Mapping[str, str] | None = None) -> None:
        self.sink.add(metric_name, value, {**self.tags, **(tags or {})})

    def metric(self, name: str, kind: str, contains: str = "default") -> None:
        self.sink.declare(name, MetricType(kind), Contains(contains))


def declare(recorder: Any, name: str, kind: str, contains: str) -> None:
    """Declare a custom metric on a VU or SinkRecorder (the VU's sink rejects undeclared names)."""
    declare_fn = getattr(recorder, "metric", None)
    if declare_fn is not None:
        declare_fn(name, kind, contains)


class WsError(Exception):
    """A WebSocket session failed (refused, bad handshake, closed, timed out); the iteration stops."""

    def __init__(self, message: str, *, status: int = 0, timed_out: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.timed_out = timed_out


class WsSession:
    """One open WebSocket of a VU. Not shared between tasks except through `DeliveryTracker`."""

    def __init__(self, recorder: Recorder, conn: ClientConnection, tags: dict[str, str], t_start: float) -> None:
        self.recorder = recorder
        self.conn = conn
        self.tags = tags
        self.t_start = t_start
        self.closed = False
        self.sent = 0
        self.received = 0
        self._pending: deque[Message] = deque(maxlen=10_000)
        self._declared = False
        self._lost = False  # the peer or the network ended the session while it was in use
        self._heartbeat: asyncio.Task[None] | None = None
        self.heartbeat_timeouts = 0
        self.ended = False  # ws_session_duration and ws_sessions_closed recorded
        self.interrupted = False  # cut off by the end of the test: closed going away, no duration
        _open_sessions(conn).add(self)
        conn.connection_lost_waiter.add_done_callback(self._connection_ended)

    # -- messages --------------------------------------------------------------------------------------

    async def send(self, message: Message | Mapping[str, Any] | list[Any]) -> None:
        """Send text or bytes (a dict or list is sent as JSON text); counts in ws_msgs_sent."""
        if isinstance(message, Mapping | list):
            message = json.dumps(message, separators=(",", ":"))
        try:
            await self.conn.send(message)
        except ConnectionClosed as exc:
            self._disconnected()
            raise WsError(f"WebSocket closed while sending: {exc}") from None
        self.sent += 1
        self.recorder.record("ws_msgs_sent", 1.0, self.tags)

    async def recv(self, timeout: float | None = 10.0) -> Message:
        """The next message (first any kept back by `request`); counts in ws_msgs_received."""
        if self._pending:
            return self._pending.popleft()
        return await self._read(timeout)

    async def _read(self, timeout: float | None) -> Message:
        try:
            if timeout is None:
                message = await self.conn.recv()
            else:
                message = await asyncio.wait_for(self.conn.recv(), timeout)
        except TimeoutError:
            raise WsError(f"no WebSocket message within {timeout:g}s", timed_out=True) from None
        except ConnectionClosed as exc:
            self._disconnected()
            raise WsError(f"WebSocket closed: {exc}") from None
        self.received += 1
        self.recorder.record("ws_msgs_received", 1.0, self.tags)
        return message

    async def request(
        self, message: Message | Mapping[str, Any] | list[Any], *, match: Matcher | None = None, timeout: float = 10.0
    ) -> tuple[Message, float]:
        """Send `message` and wait for the reply (the next message, or the first one `match` accepts).

        Returns the reply and its latency in ms, also recorded as `ws_msg_latency`.
        Messages that arrive meanwhile and do not match are kept for `recv()`.
        """
        if not self._declared:
            declare(self.recorder, MSG_LATENCY, "trend", "time")
            self._declared = True
        t0 = _perf()
        await self.send(message)
        deadline = t0 + timeout
        while True:
            left = deadline - _perf()
            if left <= 0:
                raise WsError(f"no matching WebSocket reply within {timeout:g}s", timed_out=True)
            try:
                reply = await self._read(left)
            except WsError as exc:
                if exc.timed_out:
                    raise WsError(f"no matching WebSocket reply within {timeout:g}s", timed_out=True) from None
                raise
            if match is None or match(reply):
                latency = (_perf() - t0) * 1000.0
                self.recorder.record(MSG_LATENCY, latency, self.tags)
                return reply, latency
            self._pending.append(reply)

    async def ping(self, timeout: float = 10.0) -> float:
        """Send a ping frame and wait for its pong; the round trip (ms) is recorded as ws_ping."""
        t0 = _perf()
        try:
            waiter = await self.conn.ping()
            await asyncio.wait_for(waiter, timeout)
        except TimeoutError:
            raise WsError(f"no pong within {timeout:g}s", timed_out=True) from None
        except ConnectionClosed as exc:
            self._disconnected()
            raise WsError(f"WebSocket closed while pinging: {exc}") from None
        rtt = (_perf() - t0) * 1000.0
        self.recorder.record("ws_ping", rtt, self.tags)
        return rtt

    def heartbeat(self, every: float = 5.0, timeout: float | None = None) -> None:
        """Ping every `every` seconds in the background until the session closes.

        Each pong's round trip goes to `ws_ping`; a pong missing after `timeout` (default
        `every`) counts in `ws_heartbeat_timeouts`, and the heartbeat goes on (a server that
        recovers is seen recovering). A session the peer closes ends the heartbeat."""
        if every <= 0:
            raise ValueError("heartbeat interval must be greater than 0")
        if self._heartbeat is not None:
            self._heartbeat.cancel()
        wait = timeout if timeout is not None else every
        declare(self.recorder, "ws_heartbeat_timeouts", "counter", "default")
        self._heartbeat = asyncio.get_running_loop().create_task(self._beat(every, wait))

    async def _beat(self, every: float, timeout: float) -> None:
        while not self.closed:
            await asyncio.sleep(every)
            if self.closed:
                return
            try:
                await self.ping(timeout)
            except WsError as exc:
                if not exc.timed_out:
                    return  # closed: the session's own reads and writes report it
                self.heartbeat_timeouts += 1
                self.recorder.record("ws_heartbeat_timeouts", 1.0, self.tags)

    def _disconnected(self) -> None:
        """The session ended under the VU: counted once, unless the peer closed it normally (1000)."""
        if not self._lost and not self.closed and self.conn.close_code != 1000:
            self._lost = True
            declare(self.recorder, "ws_unexpected_disconnects", "counter", "default")
            self.recorder.record("ws_unexpected_disconnects", 1.0, self.tags)

    async def messages(self, timeout: float | None = None) -> Any:
        """Iterate over incoming messages until the server closes the session."""
        while True:
            try:
                yield await self.recv(timeout)
            except WsError:
                if self.conn.close_code is not None:
                    return
                raise

    # -- closing ---------------------------------------------------------------------------------------------

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the session (once); its end is recorded when the connection ends."""
        if self.closed:
            return
        self.closed = True
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            try:
                await self._heartbeat
            except (asyncio.CancelledError, Exception):  # noqa: S110 - its outcome is already counted
                pass
        try:
            await self.conn.close(code, reason)
        finally:
            self._end()

    async def interrupt(self) -> None:
        """The test ended under this session: close it going away (1001), without a duration."""
        if self.closed:
            return
        self.interrupted = True
        self.conn.close_timeout = INTERRUPT_CLOSE_S
        await self.close(1001, "test ended")

    def _connection_ended(self, _: asyncio.Future[None]) -> None:
        # the connection ended, whoever ended it: a server's close or drop ends the session now
        if not self.closed and self._heartbeat is not None:
            self._heartbeat.cancel()
        self._end()

    def _end(self) -> None:
        """Record how the session ended, once: ws_session_duration (unless interrupted) and ws_sessions_closed."""
        if self.ended:
            return
        self.ended = True
        _open_sessions(self.conn).discard(self)
        if not self.interrupted:
            self.recorder.record("ws_session_duration", (_perf() - self.t_start) * 1000.0, self.tags)
        # the code the session ended with: the server's when it closed first, else ours; 1006 without a close frame
        ended = self.conn.close_code if self.conn.close_code is not None else 1006
        declare(self.recorder, "ws_sessions_closed", "counter", "default")
        self.recorder.record("ws_sessions_closed", 1.0, {**self.tags, "code": str(ended)})

    async def __aenter__(self) -> WsSession:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await _leave(self, exc_type)


async def _leave(session: WsSession, exc_type: type[BaseException] | None) -> None:
    """The end of `async with`: a normal close, or going away when the iteration was cut off."""
    if exc_type is not None and issubclass(exc_type, asyncio.CancelledError):
        await session.interrupt()
    else:
        await session.close()


_OPEN: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, set[WsSession]] = weakref.WeakKeyDictionary()


def _open_sessions(conn: ClientConnection) -> set[WsSession]:
    """The sessions open on `conn`'s event loop (one per worker)."""
    return _OPEN.setdefault(conn.loop, set())


async def interrupt_open_sessions() -> int:
    """At the end of a run: close every session still open on this loop (kept across
    iterations, never closed by the script) going away, as k6 closes a finished VU's
    sockets. Returns how many."""
    sessions = list(_OPEN.get(asyncio.get_running_loop(), ()))
    if sessions:
        await asyncio.gather(*(s.interrupt() for s in sessions), return_exceptions=True)
    return len(sessions)


class _Connect:
    """`async with ws_connect(...) as ws` or `ws = await ws_connect(...)`."""

    def __init__(self, coro_factory: Callable[[], Any]) -> None:
        self._factory = coro_factory
        self._session: WsSession | None = None

    def __await__(self) -> Any:
        return self._factory().__await__()

    async def __aenter__(self) -> WsSession:
        self._session = await self._factory()
        return self._session

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session is not None:
            await _leave(self._session, exc_type)


def ws_connect(
    recorder: Recorder,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    subprotocols: list[str] | None = None,
    name: str | None = None,
    tags: Mapping[str, str] | None = None,
    timeout: float = 10.0,
    compression: bool = False,
    max_size: int | None = 16 * 1024 * 1024,
) -> _Connect:
    """Open a WebSocket for a VU (or any Recorder); records ws_connecting and ws_sessions.

    Fails with WsError (refused, DNS, handshake status other than 101, timeout), which the
    engine counts as an iteration error. No proxy from the environment is used: load goes
    exactly where the URL says.
    """
    sample_tags = {**(tags or {}), "name": name or url}

    def failed(t0: float, status: int = 0) -> None:
        # k6 counts a session and its connecting time whether the dial succeeded or not
        failed_tags = {**sample_tags, "status": str(status)} if status else sample_tags
        recorder.record("ws_connecting", (_perf() - t0) * 1000.0, failed_tags)
        recorder.record("ws_sessions", 1.0, failed_tags)

    async def open_session() -> WsSession:
        t0 = _perf()
        try:
            conn = await connect(
                url,
                additional_headers=dict(headers) if headers else None,
                subprotocols=subprotocols,  # type: ignore[arg-type]
                open_timeout=timeout,
                ping_interval=None,
                compression="deflate" if compression else None,
                max_size=max_size,
                proxy=None,
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            failed(t0, status)
            raise WsError(f"WebSocket handshake to {url} got HTTP {status}", status=status) from None
        except InvalidURI as exc:
            raise WsError(f"invalid WebSocket URL {url!r}: {exc}") from None  # a script error: no dial
        except InvalidHandshake as exc:
            failed(t0)
            raise WsError(f"WebSocket handshake to {url} failed: {exc}") from None
        except TimeoutError:
            failed(t0)
            raise WsError(f"WebSocket connect to {url} timed out after {timeout:g}s") from None
        except OSError as exc:
            failed(t0)
            raise WsError(f"WebSocket connect to {url} failed: {exc.strerror or exc}") from None
        except asyncio.CancelledError:
            raise  # cut off while dialing: an interrupted VU records nothing (k6)
        connecting = (_perf() - t0) * 1000.0
        status = conn.response.status_code if conn.response is not None else 101
        session_tags = {**sample_tags, "status": str(status)}
        recorder.record("ws_connecting", connecting, session_tags)
        recorder.record("ws_sessions", 1.0, session_tags)
        return WsSession(recorder, conn, session_tags, t0)

    return _Connect(open_session)
