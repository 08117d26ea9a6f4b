"""A circuit breaker: after repeated dependency failures, fail fast instead of piling up waits.

Closed passes calls through and counts consecutive failures; at the threshold it opens
and rejects calls at once for `reset_s`; then one probe call is let through
(half-open): success closes it, failure opens it again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from enum import IntEnum


class State(IntEnum):
    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


class CircuitOpen(Exception):
    """The breaker is open: the call was not attempted."""


class CircuitBreaker:
    def __init__(
        self,
        failure_threshold: int,
        reset_s: float,
        on_change: Callable[[State], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failure_threshold = failure_threshold
        self.reset_s = reset_s
        self.on_change = on_change
        self.clock = clock
        self.state = State.CLOSED
        self.failures = 0
        self.opened_at = 0.0
        self._probing = False
        self._lock = threading.Lock()

    def _set(self, state: State) -> None:
        if state != self.state:
            self.state = state
            if self.on_change:
                self.on_change(state)

    def before_call(self) -> None:
        """Raise CircuitOpen unless a call may go ahead now."""
        with self._lock:
            if self.state == State.CLOSED:
                return
            if self.state == State.OPEN and self.clock() - self.opened_at >= self.reset_s:
                self._set(State.HALF_OPEN)
                self._probing = False
            if self.state == State.HALF_OPEN and not self._probing:
                self._probing = True
                return
            raise CircuitOpen()

    def record_success(self) -> None:
        with self._lock:
            self.failures = 0
            self._probing = False
            self._set(State.CLOSED)

    def record_failure(self) -> None:
        with self._lock:
            self.failures += 1
            self._probing = False
            if self.state == State.HALF_OPEN or self.failures >= self.failure_threshold:
                self.opened_at = self.clock()
                self._set(State.OPEN)
