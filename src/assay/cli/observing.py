"""`--metrics-port`, `--pushgateway`, `--otel-endpoint`: a command that runs something is observable.

Shared by `chaos run`, `contract verify` and `messaging run` (`load run` has its own live
progress feed), so every run shows up in Prometheus and in a tracing backend the same way:
the run's metrics (`assay_run_status`, `e2e_suite_duration_seconds`,
`contract_test_failures_total`, `k6_threshold_breaches_total`, ...) with the run's labels,
served while it runs and pushed at the end; a span around the run and, for chaos, one per
phase, with `assay_fault_active{fault}` at 1 from an action of the method until the rollbacks
(the chaos dashboard draws those windows). The publisher is started before any work, so a
wrong port or Pushgateway is exit 64 up front.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from assay.observe.metrics import RunMetrics
    from assay.results import RunResult


def metrics_port_option() -> Any:
    return typer.Option(None, "--metrics-port", help="Serve the run's Prometheus metrics on 127.0.0.1:PORT/metrics while it runs.")


def pushgateway_option() -> Any:
    return typer.Option(None, "--pushgateway", help="Push the run's metrics to this Pushgateway (every 15 s and at the end).")


def otel_option() -> Any:
    return typer.Option(None, "--otel-endpoint", help="Send OpenTelemetry spans to this OTLP/HTTP endpoint (default: OTEL_* variables).")


class ObservedRun:
    """The run's metrics publisher and root span, for the duration of a `with` block.

    `event(kind, data)` takes the chaos runner's events (phases become child spans, method
    actions open fault windows); `finish(result)` sets the final metrics and pushes them.
    """

    def __init__(
        self,
        name: str,
        kind: str,
        *,
        metrics_port: int | None,
        pushgateway: str | None,
        otel_endpoint: str | None,
        **span_attributes: Any,
    ) -> None:
        from assay.observe.tracing import TRACING

        self.metrics: RunMetrics | None = None
        self._publisher: Any = nullcontext()
        if metrics_port is not None or pushgateway:
            from assay.observe.metrics import MetricsPublisher, RunMetrics
            from assay.results import detect_labels

            self.metrics = RunMetrics(name, kind, labels=detect_labels())
            self._publisher = MetricsPublisher(self.metrics, port=metrics_port, pushgateway=pushgateway)
        self._tracing = TRACING
        self._tracing.configure(otel_endpoint)
        self._root: AbstractContextManager[Any] = self._tracing.span(f"{kind}.run", run=name)
        self._attributes = span_attributes
        self._phase: AbstractContextManager[Any] | None = None
        self._phase_name = ""
        self._faults: set[str] = set()

    def __enter__(self) -> ObservedRun:
        self._publisher.__enter__()
        self._root.__enter__()
        return self

    def event(self, kind: str, data: dict[str, Any]) -> None:
        """A chaos runner event: a phase starts (span), a method action injects a fault (window)."""
        if kind == "phase":
            self._end_phase()
            self._phase_name = str(data.get("name", ""))
            self._phase = self._tracing.span("chaos.phase", phase=self._phase_name)
            self._phase.__enter__()
            if self._phase_name == "rollbacks":
                self._end_faults()
        elif kind == "activity" and data.get("type") == "action" and self._phase_name == "method" and self.metrics is not None:
            fault = str(data.get("name") or "action")
            self._faults.add(fault)
            self.metrics.fault(fault, True)

    def _end_phase(self) -> None:
        if self._phase is not None:
            self._phase.__exit__(None, None, None)
            self._phase = None

    def _end_faults(self) -> None:
        if self.metrics is not None:
            for fault in sorted(self._faults):
                self.metrics.fault(fault, False)
        self._faults.clear()

    def finish(self, result: RunResult) -> None:
        """The run's final metrics, pushed now (an unreachable Pushgateway is exit 64)."""
        self._end_faults()
        if self.metrics is not None:
            self.metrics.finish(result)
            self._publisher.push()

    def __exit__(self, *exc: Any) -> None:
        self._end_phase()
        self._root.__exit__(*exc)
        self._publisher.__exit__(*exc)
        self._tracing.shutdown()


__all__ = ["ObservedRun", "metrics_port_option", "otel_option", "pushgateway_option"]
