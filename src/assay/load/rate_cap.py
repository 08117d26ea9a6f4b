"""k6's global `--rps`: at most R HTTP requests per second across every VU of the run.

k6 applies the cap with one token-bucket limiter (burst 1) shared by all VUs: a request
waits for its slot before it is sent, so the cap holds whatever the number of VUs, and
redirects count as requests. With several workers each gets its share (R / workers), as
k6 splits the option across execution segments.

The cap is a subclass of the VU's HTTP client that waits for a slot before each request;
the client's keep-alive fast paths (which send from a response callback) are left out,
since every request has to pass the limiter.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from assay.load.http.client import HttpClient
from assay.load.http.response import Response

_perf = time.perf_counter


class RateCap:
    """Slots `1/rate` apart, handed out in order (one event loop: no lock needed)."""

    __slots__ = ("interval", "next_slot", "waited")

    def __init__(self, rate: float) -> None:
        if rate <= 0:
            raise ValueError("a rate cap must be greater than 0")
        self.interval = 1.0 / rate
        self.next_slot = 0.0
        self.waited = 0  # requests that had to wait for their slot

    async def wait(self) -> None:
        now = _perf()
        slot = self.next_slot if self.next_slot > now else now
        self.next_slot = slot + self.interval
        if slot > now:
            self.waited += 1
            await asyncio.sleep(slot - now)


class CappedHttpClient(HttpClient):
    """The VU's HTTP client when `--rps` is set: every request (and redirect hop) takes a slot first."""

    def __init__(self, cap: RateCap, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.cap = cap

    async def _send(self, *args: Any, **kw: Any) -> Response:  # type: ignore[override]
        if kw.get("adopt") is None and (len(args) < 8 or args[7] is None):
            await self.cap.wait()
        return await super()._send(*args, **kw)

    async def _get_prepared(self, prep: Any) -> Response:
        return await self._send("GET", prep.url, None, b"", None, None, -1)

    async def run_static(self, *args: Any, **kw: Any) -> bool:
        return False  # requests sent from a response callback would bypass the cap


def worker_share(rps: float, count: int) -> float:
    """This worker's part of a global cap (the parts add up to `rps`)."""
    return rps / count if count > 0 else rps
