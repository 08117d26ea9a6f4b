"""OpenTelemetry spans for plans, stages, steps, chaos phases and load scenarios.

Tracing is optional (the `otel` extra): without a configured endpoint every `span()` is a
shared null context, so a run that does not trace pays one attribute check per call.
Configured by `--otel-endpoint` or the standard `OTEL_EXPORTER_OTLP_ENDPOINT` /
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` variables. `traceparent()` makes W3C headers for
sampled load requests, and `SlowestTraces` keeps the trace ids of the slowest requests
per endpoint so they can be looked up in the service's tracing backend.
"""

from __future__ import annotations

import heapq
import math
import os
import random
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, TypeVar

from assay.errors import UsageError

SERVICE_NAME = "assay"
T = TypeVar("T")
_NULL: AbstractContextManager[None] = nullcontext()


class Tracing:
    """The process's tracer, or nothing. Engines call `span()`; the CLI calls `configure()`."""

    def __init__(self) -> None:
        self.tracer: Any = None
        self.provider: Any = None

    @property
    def enabled(self) -> bool:
        return self.tracer is not None

    def configure(self, endpoint: str | None = None, *, exporter: Any = None, resource: Mapping[str, str] | None = None) -> bool:
        """Start tracing to an OTLP/HTTP endpoint (or a given exporter); False when nothing is configured."""
        env = os.environ
        endpoint = endpoint or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        if exporter is None and not endpoint:
            return False
        try:
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
        except ImportError:
            raise UsageError("tracing needs the otel extra: pip install 'assay[otel]'") from None
        attrs = {"service.name": env.get("OTEL_SERVICE_NAME", SERVICE_NAME), **(resource or {})}
        provider = TracerProvider(resource=Resource.create(attrs))
        if exporter is not None:
            provider.add_span_processor(SimpleSpanProcessor(exporter))
        else:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            url = endpoint.rstrip("/")  # type: ignore[union-attr]
            if not url.endswith("/v1/traces"):
                url += "/v1/traces"
            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=url)))
        self.provider = provider
        self.tracer = provider.get_tracer("assay")
        return True

    def span(self, name: str, **attributes: Any) -> AbstractContextManager[Any]:
        """A span around a plan, stage, step, chaos phase or load scenario; a no-op when not tracing."""
        if self.tracer is None:
            return _NULL
        return self._span(name, attributes)

    @contextmanager
    def _span(self, name: str, attributes: Mapping[str, Any]) -> Iterator[Any]:
        clean = {k: v for k, v in attributes.items() if isinstance(v, (str, bool, int, float))}
        with self.tracer.start_as_current_span(name, attributes=clean) as span:
            yield span

    def shutdown(self) -> None:
        """Flush and stop (spans of a run reach the collector before the command exits)."""
        if self.provider is not None:
            self.provider.shutdown()
        self.tracer = None
        self.provider = None


TRACING = Tracing()


def span(name: str, **attributes: Any) -> AbstractContextManager[Any]:
    """`with span("chaos.phase", phase="method"): ...` for the plan and chaos rooms."""
    return TRACING.span(name, **attributes)


def carry_context(fn: Callable[..., T]) -> Callable[..., T]:
    """`fn`, to run on another thread under this thread's current span (a plan's stages run on a
    pool: without this their spans would start traces of their own)."""
    if TRACING.tracer is None:
        return fn
    from opentelemetry import context

    current = context.get_current()

    def run(*args: Any, **kwargs: Any) -> T:
        token = context.attach(current)
        try:
            return fn(*args, **kwargs)
        finally:
            context.detach(token)

    return run


def traceparent(rng: random.Random | None = None) -> tuple[str, str]:
    """A new W3C trace context for one request: (header value, trace id)."""
    r = rng or random
    trace_id = f"{r.getrandbits(128) or 1:032x}"
    span_id = f"{r.getrandbits(64) or 1:016x}"
    return f"00-{trace_id}-{span_id}-01", trace_id


class RequestSampler:
    """Decides which requests carry a traceparent (`--trace-requests RATE`, 0 < RATE <= 1)."""

    def __init__(self, rate: float, seed: int | None = None) -> None:
        if not 0.0 < rate <= 1.0:
            raise UsageError(f"--trace-requests {rate!r}: expected a sampling rate in (0, 1], e.g. 0.01")
        self.rate = rate
        self._rng = random.Random(seed)

    def maybe(self) -> tuple[str, str] | None:
        if self._rng.random() >= self.rate:
            return None
        return traceparent(self._rng)


class SlowestTraces:
    """The trace ids of the N slowest traced requests per endpoint (a bounded min-heap each)."""

    def __init__(self, keep: int = 5) -> None:
        self.keep = keep
        self._heaps: dict[str, list[tuple[float, str]]] = {}

    def add(self, endpoint: str, duration_ms: float, trace_id: str) -> None:
        heap = self._heaps.setdefault(endpoint, [])
        if len(heap) < self.keep:
            heapq.heappush(heap, (duration_ms, trace_id))
        elif duration_ms > heap[0][0]:
            heapq.heapreplace(heap, (duration_ms, trace_id))

    def merge(self, other: SlowestTraces) -> None:
        for endpoint, heap in other._heaps.items():
            for duration, trace_id in heap:
                self.add(endpoint, duration, trace_id)

    def to_dict(self) -> dict[str, list[dict[str, Any]]]:
        """What the RunResult keeps in extra["slowest_traces"]: slowest first."""
        return {
            endpoint: [{"trace_id": t, "duration_ms": d} for d, t in sorted(heap, reverse=True)]
            for endpoint, heap in sorted(self._heaps.items())
        }


class RequestTracer:
    """One load worker's request tracing: which requests carry a `traceparent`, and the slowest of them.

    The gap to the next sampled request is drawn from the geometric distribution, so each
    request is sampled with probability `rate` and the other 99 % (at 0.01) cost one
    decrement. Whatever the sampling, `SlowestTraces` keeps the trace ids to look up.
    """

    def __init__(self, rate: float, *, seed: int | None = None, keep: int = 5) -> None:
        self.sampler = RequestSampler(rate, seed)
        self.slowest = SlowestTraces(keep)
        self.traced = 0
        self._log_miss = math.log1p(-rate) if rate < 1.0 else 0.0
        self._left = self._gap()
        self.owed = 0  # samples that fell among requests sent without a header (see skip)

    def _gap(self) -> int:
        if self._log_miss == 0.0:
            return 1
        u = self.sampler._rng.random()
        return int(math.log1p(-u) / self._log_miss) + 1

    def due(self) -> tuple[str, str] | None:
        """(traceparent header, trace id) when this request is sampled, else None."""
        if self.owed:
            self.owed -= 1
            self.traced += 1
            return traceparent(self.sampler._rng)
        self._left -= 1
        if self._left > 0:
            return None
        self._left = self._gap()
        self.traced += 1
        return traceparent(self.sampler._rng)

    def skip(self, sent: int) -> bool:
        """`sent` requests went out without a header (the load engine's static loop sends
        pre-built bytes); the samples that fell among them are owed to the next requests.
        True when one is owed."""
        while sent >= self._left:
            sent -= self._left
            self._left = self._gap()
            self.owed += 1
        self._left -= sent
        return self.owed > 0

    def record(self, endpoint: str, duration_ms: float, trace_id: str) -> None:
        self.slowest.add(endpoint, duration_ms, trace_id)

    def to_dict(self) -> dict[str, Any]:
        return {"rate": self.sampler.rate, "traced": self.traced, "slowest": self.slowest.to_dict()}


def merge_traces(parts: list[dict[str, Any]], keep: int = 5) -> dict[str, Any]:
    """The workers' `RequestTracer.to_dict()`s as one: counts added, the slowest kept overall."""
    slowest = SlowestTraces(keep)
    for part in parts:
        for endpoint, items in (part.get("slowest") or {}).items():
            for item in items:
                slowest.add(endpoint, float(item["duration_ms"]), str(item["trace_id"]))
    rate = next((p["rate"] for p in parts if "rate" in p), None)
    return {"rate": rate, "traced": sum(int(p.get("traced") or 0) for p in parts), "slowest": slowest.to_dict()}


def describe_traces(traces: Mapping[str, Any] | None, per_endpoint: int = 3) -> list[str]:
    """Console lines: the slowest traced requests per endpoint, to look up in the tracing backend."""
    if not traces:
        return []
    lines = [f"traced {traces.get('traced', 0)} request(s) at rate {traces.get('rate')}; slowest by endpoint:"]
    for endpoint, items in (traces.get("slowest") or {}).items():
        shown = ", ".join(f"{i['duration_ms']:.1f}ms trace {i['trace_id']}" for i in items[:per_endpoint])
        lines.append(f"  {endpoint}: {shown}")
    return lines
