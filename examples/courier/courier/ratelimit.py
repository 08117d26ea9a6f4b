"""A token bucket per user: `rate_limit_per_s` requests a second, bursts of `rate_limit_burst`.

Per process, in memory: behind N instances a user gets N times the rate. Off (0) by
default so that load tests measure courier, not its limiter. A refused request is a 429
whose Retry-After says when the next token is due.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict

from courier.errors import ApiError
from courier.metrics import Metrics
from courier.settings import Settings

USERS_CAP = 100_000


class RateLimiter:
    def __init__(self, settings: Settings, metrics: Metrics) -> None:
        self.rate = settings.rate_limit_per_s
        self.burst = float(settings.rate_limit_burst or max(1, math.ceil(self.rate)))
        self.metrics = metrics
        self.buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # user -> (tokens, at)

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def take(self, user: str) -> None:
        """Spend one token of `user`'s bucket, or raise 429 with Retry-After."""
        if not self.enabled:
            return
        now = time.monotonic()
        tokens, at = self.buckets.get(user, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        if tokens < 1:
            wait = (1 - tokens) / self.rate
            self.buckets[user] = (tokens, now)
            self.metrics.rate_limited.inc()
            raise ApiError(
                429,
                "RATE_LIMITED",
                f"more than {self.rate:g} requests per second; retry in {wait:.2f} s",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
                retry_after_s=round(wait, 3),
            )
        self.buckets[user] = (tokens - 1, now)
        self.buckets.move_to_end(user)
        while len(self.buckets) > USERS_CAP:
            self.buckets.popitem(last=False)
