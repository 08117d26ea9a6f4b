"""The tests' own Prometheus metrics: served live on `/metrics` and pushed to a Pushgateway.

A dashboard shows a load test while it runs (rate, p95, errors, VUs), and the names the
teams asked for (`k6_threshold_breaches_total`, `contract_test_failures_total`,
`e2e_suite_duration_seconds`) sit beside assay's own. Every series carries the run's
labels (run name, git sha/branch, host) so runs can be told apart in one Prometheus.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, push_to_gateway, start_http_server

from assay.errors import AssayError, ExitCode
from assay.results import RunResult

JOB = "assay"
RUN_LABELS = ("run", "kind", "git_sha", "git_branch", "host")

# Every metric name this module emits (dashboards and alert rules may only name these).
EMITTED = {
    "assay_load_requests_per_second": "requests per second over the last second",
    "assay_load_http_req_duration_p95_ms": "p95 of http_req_duration over the last second, ms",
    "assay_load_vus": "active virtual users",
    "assay_load_requests_total": "requests sent",
    "assay_load_requests_failed_total": "requests that failed (http_req_failed)",
    "assay_load_iterations_total": "iterations completed",
    "assay_load_errors_total": "iterations that raised an exception",
    "assay_load_thresholds_failing": "thresholds failing right now",
    "k6_threshold_breaches_total": "thresholds crossed at the end of a run (k6's name, as teams asked)",
    "contract_test_failures_total": "contract verifications that failed",
    "e2e_suite_duration_seconds": "duration of the run (suite), seconds",
    "assay_run_status": "run status: 0 passed, 1 warning, 2 failed, 3 aborted, 4 error",
}
# Per-fault gauges (1 while a fault is injected), labelled by fault: dashboards draw them as windows.
FAULT_GAUGE = "assay_fault_active"
STATUS_CODES = {"passed": 0, "warning": 1, "failed": 2, "aborted": 3, "error": 4}


class ProgressLike(Protocol):
    elapsed: float
    vus: int
    rps: float
    p95: float | None
    requests: int
    failed: int
    iterations: int
    errors: int
    failing_thresholds: list[str]


def run_labels(name: str, kind: str, labels: Mapping[str, str]) -> dict[str, str]:
    return {"run": name, "kind": kind, **{k: labels.get(k, "") for k in RUN_LABELS if k not in ("run", "kind")}}


class RunMetrics:
    """One run's metrics in their own registry; fed by progress events and the final result."""

    def __init__(self, name: str, kind: str = "load", labels: Mapping[str, str] | None = None) -> None:
        self.labels = run_labels(name, kind, labels or {})
        self.registry = CollectorRegistry()
        names = list(self.labels)
        self._g: dict[str, Gauge] = {}
        self._c: dict[str, Counter] = {}
        for metric, doc in EMITTED.items():
            if metric.endswith("_total"):
                self._c[metric] = Counter(metric[: -len("_total")], doc, names, registry=self.registry)
            else:
                self._g[metric] = Gauge(metric, doc, names, registry=self.registry)
        self._fault = Gauge(FAULT_GAUGE, "1 while the fault is injected, else 0", [*names, "fault"], registry=self.registry)
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def _gauge(self, name: str, value: float) -> None:
        self._g[name].labels(**self.labels).set(value)

    def _count_to(self, name: str, total: float) -> None:
        """Counters follow the engine's running totals (only their increase is added)."""
        with self._lock:
            delta = total - self._seen.get(name, 0.0)
            if delta > 0:
                self._c[name].labels(**self.labels).inc(delta)
                self._seen[name] = total

    def fault(self, name: str, active: bool) -> None:
        """Mark a fault window (chaos and plan rooms call this as they inject and revert)."""
        self._fault.labels(**self.labels, fault=name).set(1.0 if active else 0.0)

    def progress(self, p: ProgressLike) -> None:
        self._gauge("assay_load_requests_per_second", p.rps)
        self._gauge("assay_load_vus", p.vus)
        if p.p95 is not None:
            self._gauge("assay_load_http_req_duration_p95_ms", p.p95)
        self._gauge("assay_load_thresholds_failing", len(p.failing_thresholds))
        self._gauge("e2e_suite_duration_seconds", p.elapsed)
        self._count_to("assay_load_requests_total", p.requests)
        self._count_to("assay_load_requests_failed_total", p.failed)
        self._count_to("assay_load_iterations_total", p.iterations)
        self._count_to("assay_load_errors_total", p.errors)

    def finish(self, result: RunResult) -> None:
        self._gauge("e2e_suite_duration_seconds", result.duration_s)
        self._gauge("assay_run_status", STATUS_CODES.get(str(result.status), 4))
        self._gauge("assay_load_vus", 0)
        self._count_to("k6_threshold_breaches_total", len(result.failed_thresholds()))
        if result.kind == "contract":
            # the failing interactions (what a team counts as failed contract tests), else 1 for a failed run
            contracts = result.extra.get("contracts") or {}
            failures = contracts.get("failed") if isinstance(contracts, dict) else None
            if not isinstance(failures, int):
                failures = 0 if str(result.status) == "passed" else 1
            self._count_to("contract_test_failures_total", failures)
        reqs = result.stat("http_reqs", "count")
        if reqs is not None:
            self._count_to("assay_load_requests_total", reqs)
        failed = result.metrics.get("http_req_failed")
        if failed is not None:
            self._count_to("assay_load_requests_failed_total", failed.passes)
        # every labelled child exists once the run ended, so a scrape sees zeros, not gaps
        for counter in self._c.values():
            counter.labels(**self.labels)


def push_registry(gateway: str, registry: CollectorRegistry, grouping_key: Mapping[str, str], *, job: str = JOB, timeout: float = 10.0) -> None:
    """Replace one group on a Pushgateway; an unreachable gateway is a usage error (exit 64)."""
    try:
        push_to_gateway(gateway, job=job, registry=registry, grouping_key=dict(grouping_key), timeout=timeout)
    except OSError as exc:
        raise AssayError(f"could not push metrics to the Pushgateway at {gateway}: {exc}", exit_code=ExitCode.USAGE) from None


class MetricsPublisher:
    """Serves `/metrics` on a port and/or pushes to a Pushgateway every `push_every` seconds and at the end."""

    def __init__(self, metrics: RunMetrics, *, port: int | None = None, pushgateway: str | None = None, push_every: float = 15.0) -> None:
        self.metrics = metrics
        self.port = port
        self.pushgateway = pushgateway
        self.push_every = push_every
        self._server: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def grouping_key(self) -> dict[str, str]:
        return {"run": self.metrics.labels["run"], "instance": self.metrics.labels["host"] or "local"}

    def push(self) -> None:
        if self.pushgateway:
            push_registry(self.pushgateway, self.metrics.registry, self.grouping_key())

    def __enter__(self) -> MetricsPublisher:
        if self.port is not None:
            try:
                self._server, _ = start_http_server(self.port, addr="127.0.0.1", registry=self.metrics.registry)
            except OSError as exc:
                raise AssayError(f"--metrics-port {self.port}: {exc}", exit_code=ExitCode.USAGE) from None
        if self.pushgateway:
            self.push()  # fail before the run if the gateway is wrong
            self._thread = threading.Thread(target=self._loop, name="assay-push", daemon=True)
            self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.push_every):
            try:
                self.push()
            except AssayError:
                pass  # a gateway blip mid-run must not end the test; the final push reports it

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
