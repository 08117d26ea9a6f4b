"""rate_limit: let `requests` matching requests through per `window` ms for the whole proxy
(every connection counts), and answer the rest 429 with Retry-After, as a rate-limited API does."""

from __future__ import annotations

import dataclasses
import math
import time
from collections import deque

from assay.faults.toxics.base import AttributeError_, Stub, register
from assay.faults.toxics.http_error import HttpErrorToxic


@register
@dataclasses.dataclass(frozen=True)
class RateLimitToxic(HttpErrorToxic):
    type_name = "rate_limit"
    requests: int = 10  # let through per window
    window: int = 60_000  # ms, a sliding window
    status: int = 429

    def __post_init__(self) -> None:
        super().__post_init__()
        # admission times in the current window, shared by every link of the proxy
        object.__setattr__(self, "_admitted", deque())

    def validate(self) -> None:
        super().validate()
        if self.window <= 0:
            raise AttributeError_(f"invalid attribute window: must be > 0 ms, got {self.window}")

    def fires(self, stub: Stub) -> bool:
        """Admit the request if the window has room; otherwise refuse it (subject to the
        usual probability / first / every of the HTTP toxics)."""
        admitted = self._window(time.monotonic())
        if len(admitted) < self.requests:
            admitted.append(time.monotonic())
            return False
        return super().fires(stub)

    def _window(self, now: float) -> deque[float]:
        admitted: deque[float] = self._admitted  # type: ignore[attr-defined]
        while admitted and now - admitted[0] >= self.window / 1000.0:
            admitted.popleft()
        return admitted

    def extra_headers(self) -> dict[str, str]:
        """Retry-After: whole seconds until the window has room again (at reply time)."""
        now = time.monotonic()
        admitted = self._window(now)
        if len(admitted) < self.requests:
            wait = 0.0
        elif admitted:
            wait = self.window / 1000.0 - (now - admitted[len(admitted) - self.requests])
        else:  # requests: 0 refuses everything
            wait = self.window / 1000.0
        return {"Retry-After": str(max(1, math.ceil(wait))), **self.headers}
