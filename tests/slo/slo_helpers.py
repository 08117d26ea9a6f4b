"""Builders for the SLO gate tests: k6 NDJSON runs written on the fly and results with exact values."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PIL import Image

from assay.results import Metric, RunResult

T0 = datetime(2026, 11, 21, 10, 0, 0, tzinfo=UTC)


def _stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"


def write_k6_ndjson(
    path: Path,
    *,
    seconds: int = 30,
    rps: int = 10,
    latency: Callable[[float, str], float] = lambda t, name: 50.0,
    status: Callable[[float, str, int], int] = lambda t, name, i: 200,
    endpoints: tuple[str, ...] = ("read", "write"),
    dropped: int = 0,
    start: datetime = T0,
    seed: int = 7,
) -> Path:
    """Write a k6 `--out json` file: requests per second with the given latency and status functions."""
    rng = random.Random(seed)
    lines = []

    def metric(name: str, mtype: str, contains: str = "default") -> None:
        lines.append(
            {"type": "Metric", "data": {"name": name, "type": mtype, "contains": contains, "thresholds": [], "submetrics": None}, "metric": name}
        )

    def point(name: str, t: datetime, value: float, tags: dict[str, str]) -> None:
        lines.append({"type": "Point", "data": {"time": _stamp(t), "value": value, "tags": tags}, "metric": name})

    metric("http_reqs", "counter")
    metric("http_req_duration", "trend", "time")
    metric("http_req_failed", "rate")
    metric("checks", "rate")
    metric("vus", "gauge")
    if dropped:
        metric("dropped_iterations", "counter")
    i = 0
    for sec in range(seconds):
        point("vus", start + timedelta(seconds=sec), 5, {})
        for k in range(rps):
            t = start + timedelta(seconds=sec, microseconds=int(k * 1_000_000 / rps) + 1)
            name = endpoints[i % len(endpoints)]
            code = status(sec + k / rps, name, i)
            tags = {"name": name, "method": "GET", "status": str(code), "expected_response": str(code < 400).lower()}
            value = max(0.1, latency(sec + k / rps, name) * rng.uniform(0.9, 1.1))
            point("http_reqs", t, 1, tags)
            point("http_req_duration", t, value, tags)
            point("http_req_failed", t, 1 if code >= 400 or code == 0 else 0, tags)
            point("checks", t, 1 if code < 400 and code != 0 else 0, {"check": "status is 2xx", "group": ""})
            i += 1
    for d in range(dropped):
        point("dropped_iterations", start + timedelta(seconds=seconds - 1, milliseconds=d), 1, {})
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    return path


def simple_result(values: dict[str, float], *, name: str = "run", status: str = "passed", when: datetime = T0) -> RunResult:
    """A result whose trend `latency` and rate `errors` etc. hold exactly the given values.

    Keys: `latency` (a trend with that one value, so every aggregation equals it),
    `errors` (a rate with that fraction of 1000 samples), any other key a counter.
    """
    result = RunResult(name=name, status=status, started_at=when, finished_at=when + timedelta(seconds=60), duration_s=60.0)  # type: ignore[arg-type]
    for key, value in values.items():
        if key == "latency":
            m = Metric.builtin("http_req_duration")
            m.add(value)
            result.metrics["http_req_duration"] = m.seal()
        elif key == "errors":
            m = Metric.builtin("http_req_failed")
            failed = round(value * 1000)
            m.passes, m.fails, m.count = failed, 1000 - failed, 1000
            result.metrics["http_req_failed"] = m
        else:
            m = Metric.new("counter")
            m.add(value)
            result.metrics[key] = m
    return result


def count_colour(png: Path, hex_colour: str) -> int:
    """How many pixels of a screenshot are exactly `hex_colour` (charts draw crisp, unblended edges)."""
    target = tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    image = Image.open(png).convert("RGB")
    return sum(1 for pixel in image.getdata() if pixel == target)
