"""assay's own probes (provider `{"type": "assay", "func": ...}`), for steady states, guards and recovery.

Checking probes answer a verdict plus what was seen, `{"ok": bool, ..., "assay_probe": func}`; a
`true` tolerance reads `ok` (see tolerance.within). Measuring probes answer a number for range tolerances.

- `http`: status, headers (exact or /regex/), JSON body (JSONPath: value) and latency;
- `tcp`: a TCP connect within a timeout;
- `metric`: a Prometheus text scrape of a service's /metrics, no Prometheus server needed: a
  gauge's value, a counter's increase since this probe first ran in the run, a histogram's p95;
- `prometheus`: a PromQL instant query against a Prometheus server's HTTP API;
- `log`: a line matching a pattern appeared (or did not) in a file since the run started;
- `slo`: an SLO file evaluated on the background load's RunResult of the current phase.
"""

from __future__ import annotations

import math
import re
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from assay.chaos.providers import ActivityFailed

PROBE_FUNCS = ("http", "tcp", "metric", "prometheus", "log", "slo")
REQUIRED: dict[str, tuple[str, ...]] = {
    "http": ("url",), "tcp": ("host", "port"), "metric": ("url", "name"), "prometheus": ("url", "query"),
    "log": ("path", "pattern"), "slo": ("slo",),
}


@dataclass
class ProbeMemory:
    """What probes remember across calls within one run: counter baselines and log offsets."""

    counters: dict[str, float] = field(default_factory=dict)
    log_offsets: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def log_offset(self, path: Path) -> int:
        """The file's size the first time it is asked about (the run starts there)."""
        key = str(path.resolve())
        with self.lock:
            if key not in self.log_offsets:
                self.log_offsets[key] = path.stat().st_size if path.exists() else 0
            return self.log_offsets[key]


def mark_log_starts(data: Any, memory: ProbeMemory) -> None:
    """Record where every log file the experiment probes ends now: its log probes see only what the run wrote."""
    if isinstance(data, dict):
        provider = data.get("provider")
        if isinstance(provider, dict) and provider.get("type") == "assay" and provider.get("func") == "log":
            path = (provider.get("arguments") or {}).get("path")
            if isinstance(path, str) and "${" not in path:
                memory.log_offset(Path(path))
        for value in data.values():
            mark_log_starts(value, memory)
    elif isinstance(data, list):
        for value in data:
            mark_log_starts(value, memory)


def _seconds(value: Any, key: str) -> float:
    from assay.faults.model import parse_duration

    try:
        return float(parse_duration(value))
    except Exception:
        raise ActivityFailed(f"{key}: expected seconds or a duration such as 500ms, got {value!r}") from None


def http_probe(args: Mapping[str, Any]) -> dict[str, Any]:
    """One request; `ok` when the status, headers, JSON body and latency are as expected."""
    from assay.chaos.jsonpath import JsonPathError, find

    timeout = _seconds(args.get("timeout", 5), "timeout")
    method = str(args.get("method", "GET")).upper()
    started = time.perf_counter()
    try:
        with httpx.Client(timeout=timeout, verify=bool(args.get("verify_tls", True))) as client:
            response = client.request(method, str(args["url"]), headers=args.get("headers"),
                                      json=args.get("json"), content=args.get("body"))
    except httpx.HTTPError as exc:
        return {"ok": False, "status": None, "latency_ms": None, "problems": [f"{type(exc).__name__}: {exc}"]}
    latency_ms = (time.perf_counter() - started) * 1000
    problems: list[str] = []
    expect_status = args.get("expect_status", [200, 299])
    if isinstance(expect_status, int):
        expect_status = [expect_status]
    if len(expect_status) == 2 and expect_status[0] < expect_status[1] - 1:
        status_ok = expect_status[0] <= response.status_code <= expect_status[1]
    else:
        status_ok = response.status_code in expect_status
    if not status_ok:
        problems.append(f"status {response.status_code}, expected {expect_status}")
    for name, want in (args.get("expect_headers") or {}).items():
        got = response.headers.get(name)
        if want is None:
            if got is not None:
                problems.append(f"header {name} present ({got!r}), expected absent")
        elif got is None:
            problems.append(f"header {name} missing")
        elif isinstance(want, str) and len(want) > 1 and want.startswith("/") and want.endswith("/"):
            if re.search(want[1:-1], got) is None:
                problems.append(f"header {name} {got!r} does not match {want}")
        elif got != str(want):
            problems.append(f"header {name} is {got!r}, expected {want!r}")
    expect_json = args.get("expect_json") or {}
    body: Any = None
    if expect_json:
        try:
            body = response.json()
        except ValueError:
            problems.append("body is not JSON")
        else:
            for path, want in expect_json.items():
                try:
                    found = find(str(path), body)
                except JsonPathError as exc:
                    raise ActivityFailed(f"expect_json {path!r}: {exc}") from None
                if found != [want]:
                    problems.append(f"{path} is {found[0] if len(found) == 1 else found!r}, expected {want!r}")
    for text in args.get("body_excludes") or []:
        if str(text) in response.text:
            problems.append(f"body contains {text!r}")
    if args.get("max_latency") is not None:
        limit_ms = _seconds(args["max_latency"], "max_latency") * 1000
        if latency_ms > limit_ms:
            problems.append(f"latency {latency_ms:.0f} ms above {limit_ms:.0f} ms")
    return {"ok": not problems, "status": response.status_code, "latency_ms": round(latency_ms, 3),
            "headers": dict(response.headers), "problems": problems}


def tcp_probe(args: Mapping[str, Any]) -> dict[str, Any]:
    """A TCP connect; `ok` when it is accepted within the timeout."""
    timeout = _seconds(args.get("timeout", 2), "timeout")
    started = time.perf_counter()
    try:
        with socket.create_connection((str(args["host"]), int(args["port"])), timeout=timeout):
            pass
    except OSError as exc:
        return {"ok": False, "connect_ms": None, "error": f"{type(exc).__name__}: {exc}"}
    return {"ok": True, "connect_ms": round((time.perf_counter() - started) * 1000, 3)}


def _labels_match(sample_labels: Mapping[str, str], want: Mapping[str, Any]) -> bool:
    return all(sample_labels.get(k) == str(v) for k, v in want.items())


def scrape(url: str, timeout: float = 5.0) -> list[Any]:
    """The metric families of a Prometheus text endpoint."""
    from prometheus_client.parser import text_string_to_metric_families

    try:
        response = httpx.get(url, timeout=timeout)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise ActivityFailed(f"cannot scrape {url}: {exc}") from exc
    try:
        return list(text_string_to_metric_families(response.text))
    except ValueError as exc:
        raise ActivityFailed(f"{url} is not Prometheus text format: {exc}") from exc


def _histogram_quantile(buckets: list[tuple[float, float]], q: float) -> float | None:
    """Prometheus' histogram_quantile over cumulative (le, count) buckets, linear within a bucket."""
    buckets = sorted(buckets)
    if not buckets or buckets[-1][1] == 0:
        return None
    rank = q * buckets[-1][1]
    prev_le, prev_count = 0.0, 0.0
    for le, count in buckets:
        if count >= rank:
            if math.isinf(le):
                return prev_le
            if count == prev_count:
                return le
            return prev_le + (le - prev_le) * (rank - prev_count) / (count - prev_count)
        prev_le, prev_count = le, count
    return buckets[-1][0]


def metric_probe(args: Mapping[str, Any], memory: ProbeMemory) -> float:
    """A number from a /metrics scrape: `value` (gauge, counter), `increase`, or a histogram quantile."""
    name = str(args["name"])
    labels = dict(args.get("labels") or {})
    mode = str(args.get("mode", "value"))
    families = scrape(str(args["url"]), _seconds(args.get("timeout", 5), "timeout"))
    samples = [s for f in families for s in f.samples]
    if mode in ("value", "increase"):
        wanted = {name, f"{name}_total"} if mode == "increase" else {name}
        matching = [s for s in samples if s.name in wanted and _labels_match(s.labels, labels)]
        if not matching:
            raise ActivityFailed(f"no sample {name}{labels or ''} at {args['url']}")
        total = float(sum(s.value for s in matching))
        if mode == "value":
            return total
        key = f"{args['url']}|{name}|{sorted(labels.items())}"
        with memory.lock:
            base = memory.counters.setdefault(key, total)
        return total - base
    if mode.startswith("p"):
        try:
            q = float(mode[1:]) / 100
        except ValueError:
            raise ActivityFailed(f"mode {mode!r}: expected value, increase or a quantile such as p95") from None
        buckets: dict[float, float] = {}
        for s in samples:
            if s.name == f"{name}_bucket" and _labels_match(s.labels, labels):
                le = float(s.labels["le"])
                buckets[le] = buckets.get(le, 0.0) + float(s.value)
        if not buckets:
            raise ActivityFailed(f"no histogram {name}{labels or ''} at {args['url']}")
        value = _histogram_quantile(list(buckets.items()), q)
        if value is None:
            raise ActivityFailed(f"histogram {name} has no observations yet")
        return value * float(args.get("scale", 1.0))
    raise ActivityFailed(f"mode {mode!r}: expected value, increase or a quantile such as p95")


def prometheus_probe(args: Mapping[str, Any]) -> float:
    """A PromQL instant query against a Prometheus server: the first sample's value."""
    url = str(args["url"]).rstrip("/") + "/api/v1/query"
    try:
        response = httpx.get(url, params={"query": str(args["query"])}, timeout=_seconds(args.get("timeout", 5), "timeout"))
        body = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise ActivityFailed(f"prometheus query at {url}: {exc}") from exc
    if body.get("status") != "success":
        raise ActivityFailed(f"prometheus query {args['query']!r}: {body.get('errorType')}: {body.get('error')}")
    data = body["data"]
    if data["resultType"] == "scalar":
        return float(data["result"][1])
    if data["resultType"] == "vector":
        if not data["result"]:
            if "default" in args:
                return float(args["default"])
            raise ActivityFailed(f"prometheus query {args['query']!r} returned no samples")
        return float(data["result"][0]["value"][1])
    raise ActivityFailed(f"prometheus query {args['query']!r}: expected a scalar or an instant vector, got {data['resultType']}")


def log_probe(args: Mapping[str, Any], memory: ProbeMemory) -> dict[str, Any]:
    """Lines matching `pattern` written since the run first looked at the file; `expect` present or absent."""
    path = Path(str(args["path"]))
    expect = str(args.get("expect", "present"))
    if expect not in ("present", "absent"):
        raise ActivityFailed(f"expect {expect!r}: expected present or absent")
    try:
        pattern = re.compile(str(args["pattern"]))
    except re.error as exc:
        raise ActivityFailed(f"pattern {args['pattern']!r}: {exc}") from None
    offset = 0 if args.get("whole_file") else memory.log_offset(path)
    matches: list[str] = []
    if path.exists():
        with path.open("rb") as fh:
            fh.seek(offset)
            for raw in fh:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                if pattern.search(line):
                    matches.append(line)
    found = bool(matches)
    return {"ok": found if expect == "present" else not found, "matches": len(matches), "first": matches[:3]}


def slo_probe(args: Mapping[str, Any], current: Callable[[], Any]) -> dict[str, Any]:
    """The SLO file on the current phase's load RunResult; `ok` unless the gate fails."""
    from assay.slo.evaluate import evaluate
    from assay.slo.files import load_slo

    result = current()
    if result is None:
        raise ActivityFailed("the slo probe needs background load (extensions.assay.load) with finished segments")
    report = evaluate(load_slo(str(args["slo"])), result)
    failing = [o.id for o in report.objectives if o.status == "FAIL"]
    ok = report.status in ("PASS", "WARNING")
    return {"ok": ok, "status": str(report.status), "score": report.score, "failing": failing}


def run_probe(func: str, args: Mapping[str, Any], memory: ProbeMemory, current_result: Callable[[], Any]) -> Any:
    out = _run(func, args, memory, current_result)
    if isinstance(out, dict):
        out["assay_probe"] = func  # marks a checking probe's verdict for a `true` tolerance
    return out


def _run(func: str, args: Mapping[str, Any], memory: ProbeMemory, current_result: Callable[[], Any]) -> Any:
    missing = [k for k in REQUIRED[func] if k not in args]
    if missing:
        raise ActivityFailed(f"assay probe {func}: missing argument(s) {', '.join(missing)}")
    if func == "http":
        return http_probe(args)
    if func == "tcp":
        return tcp_probe(args)
    if func == "metric":
        return metric_probe(args, memory)
    if func == "prometheus":
        return prometheus_probe(args)
    if func == "log":
        return log_probe(args, memory)
    return slo_probe(args, current_result)
