"""assay's run-level options beyond k6's: `rps` (k6's own), `warmup` and `scrape`, and the
metrics the engine derives or adds (availability, downtime, WebSocket closes, payload checks).

In a scenario's options (Python `options = {...}`, YAML `options:`), or from the command line
(`--rps`, `--warmup`, `--scrape`), which wins:

    options = {"rps": 200, "warmup": "30s", "scrape": "http://127.0.0.1:8080/metrics"}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from assay.errors import UsageError
from assay.load.durations import parse_duration
from assay.load.scrape import ScrapeOptions, parse_scrape_option
from assay.results import Contains, MetricType

KEYS = ("rps", "warmup", "scrape")

# metrics the engine itself adds to some runs; known up front so thresholds can name them
ENGINE_METRICS: dict[str, tuple[MetricType, Contains]] = {
    # assay.load.availability: share of the run's seconds with a successful request; seconds without
    "availability": (MetricType.RATE, Contains.DEFAULT),
    "downtime": (MetricType.COUNTER, Contains.DEFAULT),
    # assay.load.ws: closes by code, disconnects nobody asked for, heartbeats without a pong
    "ws_sessions_closed": (MetricType.COUNTER, Contains.DEFAULT),
    "ws_unexpected_disconnects": (MetricType.COUNTER, Contains.DEFAULT),
    "ws_heartbeat_timeouts": (MetricType.COUNTER, Contains.DEFAULT),
    # assay.load.payload: payloads checked against their digest, and those that did not match
    "payloads_verified": (MetricType.COUNTER, Contains.DEFAULT),
    "payloads_corrupt": (MetricType.COUNTER, Contains.DEFAULT),
}


@dataclass
class EngineOptions:
    rps: float | None = None
    warmup: float = 0.0
    scrape: ScrapeOptions | None = None


def parse_engine_options(options: Mapping[str, Any], where: str) -> EngineOptions:
    """The `rps`, `warmup` and `scrape` options, checked (UsageError naming the key: exit 64)."""
    out = EngineOptions()
    if options.get("rps") is not None:
        rps = options["rps"]
        if isinstance(rps, bool) or not isinstance(rps, int | float) or not rps >= 0 or rps == float("inf"):
            raise UsageError(f"{where}: options.rps: expected requests per second (0: no cap, as in k6), got {rps!r}")
        out.rps = float(rps) or None
    if options.get("warmup") is not None:
        try:
            out.warmup = parse_duration(options["warmup"], what=f"{where}: options.warmup")
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        if out.warmup < 0:
            raise UsageError(f"{where}: options.warmup: must not be negative")
    if options.get("scrape") is not None:
        out.scrape = parse_scrape_option(options["scrape"], f"{where}: options.scrape")
    return out
