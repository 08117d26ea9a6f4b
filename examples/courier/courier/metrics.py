"""Prometheus metrics, one registry per app so several apps can live in one process."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.35, 0.5, 0.7, 1.0, 2.5, 5.0, 10.0)


class PoolCollector(Collector):
    """Reads the SQLAlchemy pool at scrape time, so the numbers are never stale."""

    def __init__(self, read: Callable[[], dict[str, int]]) -> None:
        self.read = read

    def collect(self) -> Iterator[GaugeMetricFamily]:
        stats = self.read()
        for name, help_text in (
            ("size", "Connections the pool keeps."),
            ("checked_out", "Connections in use."),
            ("checked_in", "Idle connections in the pool."),
            ("overflow", "Connections beyond the pool size."),
        ):
            yield GaugeMetricFamily(f"courier_db_pool_{name}", help_text, value=stats.get(name, 0))


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.request_latency = Histogram(
            "courier_http_request_duration_seconds",
            "HTTP request latency by route.",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.errors = Counter(
            "courier_http_errors_total",
            "Error responses by route and error code.",
            ["route", "error_code"],
            registry=r,
        )
        self.in_flight = Gauge("courier_http_in_flight", "Requests being handled.", registry=r)
        self.request_queue = Gauge("courier_request_queue_depth", "Requests waiting for a slot.", registry=r)
        self.rejected = Counter(
            "courier_requests_rejected_total",
            "Requests refused because the queue was full.",
            ["reason"],
            registry=r,
        )
        self.breaker_state = Gauge(
            "courier_db_circuit_state", "DB circuit breaker: 0 closed, 1 half-open, 2 open.", registry=r
        )
        self.breaker_transitions = Counter(
            "courier_db_circuit_transitions_total", "Breaker state changes.", ["to"], registry=r
        )
        self.breaker_rejections = Counter(
            "courier_db_circuit_rejections_total", "DB calls refused by the open breaker.", registry=r
        )
        self.db_errors = Counter("courier_db_errors_total", "DB calls that failed.", ["kind"], registry=r)
        self.queue_depth = Gauge(
            "courier_queue_depth",
            "Events waiting: outbox rows, stream pending entries, in-process queue.",
            ["queue"],
            registry=r,
        )
        self.published = Counter(
            "courier_outbox_published_total", "Outbox rows handed to the stream.", registry=r
        )
        self.delivered = Counter(
            "courier_messages_delivered_total", "Events delivered to subscribers.", registry=r
        )
        self.delivery_failures = Counter(
            "courier_delivery_failures_total", "Delivery attempts that failed.", registry=r
        )
        self.dead_lettered = Counter(
            "courier_messages_dead_lettered_total", "Events moved to the dead-letter list.", registry=r
        )
        self.reclaimed = Counter(
            "courier_stream_reclaimed_total", "Pending entries reclaimed from idle consumers.", registry=r
        )
        self.redis_errors = Counter(
            "courier_redis_errors_total", "Redis calls that failed.", ["op"], registry=r
        )
        self.subscribers = Gauge("courier_websocket_subscribers", "Open WebSocket subscriptions.", registry=r)

    def watch_pool(self, read: Callable[[], dict[str, int]]) -> None:
        self.registry.register(PoolCollector(read))
