"""Generate realistic k6 `--out json` NDJSON and `--out csv` files for importer tests.

The shapes follow k6's json and csv outputs (reference/slo-regression.md §1e): one
Metric line before a metric's first Point, RFC3339 nano timestamps, system tags.
"""

from __future__ import annotations

import csv
import io
import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

ENDPOINTS = [("GET", "list", 200), ("POST", "create", 201), ("PUT", "update", 200), ("DELETE", "delete", 204)]
CSV_TAGS = ["check", "error", "error_code", "expected_response", "group", "method", "name", "proto", "scenario",
            "service", "status", "subproto", "tls_version", "url"]


@dataclass
class Sample:
    metric: str
    time: datetime
    value: float
    tags: dict[str, str]


@dataclass
class Generated:
    samples: list[Sample] = field(default_factory=list)
    thresholds: dict[str, list[str]] = field(default_factory=dict)

    def values(self, metric: str, **tags: str) -> list[float]:
        return [s.value for s in self.samples if s.metric == metric and all(s.tags.get(k) == v for k, v in tags.items())]


TYPES = {
    "http_reqs": ("counter", "default"),
    "http_req_duration": ("trend", "time"),
    "http_req_waiting": ("trend", "time"),
    "http_req_failed": ("rate", "default"),
    "checks": ("rate", "default"),
    "iterations": ("counter", "default"),
    "iteration_duration": ("trend", "time"),
    "vus": ("gauge", "default"),
    "data_received": ("counter", "data"),
    "cart_value": ("trend", "default"),
}


def generate(seconds: int = 30, rps: int = 60, seed: int = 7, start: datetime | None = None) -> Generated:
    rng = random.Random(seed)
    t0 = start or datetime(2026, 11, 1, 12, 0, 0, tzinfo=UTC)
    gen = Generated(thresholds={
        "http_req_duration": ["p(95)<300", "p(99)<5"],
        "http_req_failed": ["rate<0.05"],
        "http_req_duration{name:create}": ["p(95)<400"],
    })
    for sec in range(seconds):
        gen.samples.append(Sample("vus", t0 + timedelta(seconds=sec), float(5 + sec % 7), {}))
        for i in range(rps):
            ts = t0 + timedelta(seconds=sec, microseconds=int(i * 1e6 / rps) + rng.randint(0, 999))
            method, name, ok_status = rng.choices(ENDPOINTS, weights=[40, 30, 20, 10])[0]
            failed = rng.random() < 0.02
            status = "503" if failed else str(ok_status)
            tags = {"method": method, "name": name, "status": status, "scenario": "default", "group": "",
                    "expected_response": "false" if failed else "true", "proto": "HTTP/1.1",
                    "url": f"http://127.0.0.1:8080/{name}/{rng.randint(1, 999)}"}
            duration = rng.lognormvariate(4.0, 0.6) * (2.5 if name == "create" else 1.0)
            gen.samples.append(Sample("http_reqs", ts, 1.0, tags))
            gen.samples.append(Sample("http_req_duration", ts, duration, tags))
            gen.samples.append(Sample("http_req_waiting", ts, duration * 0.9, tags))
            gen.samples.append(Sample("http_req_failed", ts, 1.0 if failed else 0.0, tags))
            gen.samples.append(Sample("data_received", ts, float(rng.randint(200, 900)), tags))
            check_tags = {"check": f"{name} ok", "group": "::api", "scenario": "default"}
            gen.samples.append(Sample("checks", ts, 0.0 if failed else 1.0, check_tags))
            if name == "create":
                gen.samples.append(Sample("cart_value", ts, round(rng.uniform(5, 500), 2), {"scenario": "default"}))
            gen.samples.append(Sample("iterations", ts, 1.0, {"scenario": "default"}))
            gen.samples.append(Sample("iteration_duration", ts, duration + 1.5, {"scenario": "default"}))
    return gen


def _rfc3339_nano(t: datetime) -> str:
    # k6 prints nanoseconds and a numeric offset
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond:06d}123+00:00"


def to_ndjson(gen: Generated) -> str:
    lines: list[str] = []
    declared: set[str] = set()
    for s in gen.samples:
        if s.metric not in declared:
            declared.add(s.metric)
            mtype, contains = TYPES[s.metric]
            subs = [
                {"name": n, "suffix": n[n.index("{") + 1 : -1], "tags": dict([n[n.index("{") + 1 : -1].split(":", 1)])}
                for n in gen.thresholds if n.startswith(s.metric + "{")
            ]
            lines.append(json.dumps({"type": "Metric", "data": {"name": s.metric, "type": mtype, "contains": contains,
                                     "thresholds": gen.thresholds.get(s.metric, []), "submetrics": subs or None},
                                     "metric": s.metric}))
        lines.append(json.dumps({"type": "Point", "data": {"time": _rfc3339_nano(s.time), "value": s.value,
                                 "tags": s.tags}, "metric": s.metric}))
    return "\n".join(lines) + "\n"


def to_csv(gen: Generated, time_format: str = "unix_micro") -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["metric_name", "timestamp", "metric_value", *CSV_TAGS, "extra_tags", "metadata"])
    for s in gen.samples:
        if time_format == "unix_micro":
            ts = str(int(s.time.timestamp() * 1_000_000))
        else:
            ts = s.time.isoformat()
        writer.writerow([s.metric, ts, f"{s.value:f}", *[s.tags.get(t, "") for t in CSV_TAGS], "", ""])
    return buf.getvalue()


def k6_percentile(values: list[float], p: float) -> float:
    """k6's TrendSink.P: i = p*(n-1) with linear interpolation."""
    ordered = sorted(values)
    i = p / 100 * (len(ordered) - 1)
    lo = int(i)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (i - lo)
