"""Prometheus metrics, one registry per app so several apps can live in one process."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

LAG_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
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
        self.logins = Counter("courier_auth_logins_total", "Tokens issued by /auth/login.", registry=r)
        self.auth_failures = Counter(
            "courier_auth_failures_total", "Requests refused for want of a valid token.", ["reason"], registry=r
        )
        self.cache_hits = Counter(
            "courier_participant_cache_hits_total", "Participant checks answered from the cache.", registry=r
        )
        self.cache_misses = Counter(
            "courier_participant_cache_misses_total", "Participant checks that read the database.", registry=r
        )
        self.cache_invalidations = Counter(
            "courier_participant_cache_invalidations_total",
            "Cached participant lists dropped, by where the news came from.",
            ["source"],
            registry=r,
        )
        self.cache_entries = Gauge("courier_participant_cache_entries", "Conversations cached.", registry=r)
        self.rate_limited = Counter(
            "courier_rate_limited_total", "Requests refused with 429 by the per-user rate limit.", registry=r
        )
        self.too_large = Counter(
            "courier_requests_too_large_total", "Requests refused with 413.", ["what"], registry=r
        )
        self.dispatch_lag = Histogram(
            "courier_dispatch_lag_seconds",
            "From a message's commit to its hand-off to subscribers.",
            buckets=LAG_BUCKETS,
            registry=r,
        )
        self.consumer_lag = Gauge(
            "courier_consumer_lag_seconds",
            "Age of the oldest event the consumers have not acknowledged (0 when caught up).",
            registry=r,
        )
        self.outbox_lag = Gauge(
            "courier_outbox_lag_seconds", "Age of the oldest outbox row not yet published.", registry=r
        )
        self.heartbeats = Counter(
            "courier_websocket_heartbeats_total", "Pings sent to WebSocket subscribers.", registry=r
        )
        self.heartbeat_misses = Counter(
            "courier_websocket_heartbeat_misses_total", "Pings whose pong did not come in time.", registry=r
        )
        self.heartbeat_rtt = Histogram(
            "courier_websocket_heartbeat_rtt_seconds", "Ping to pong round trips.", buckets=LAG_BUCKETS, registry=r
        )
        self.ws_closed = Counter(
            "courier_websocket_closed_total", "WebSocket sessions ended, by close code.", ["code"], registry=r
        )
        self.fanout_errors = Counter(
            "courier_fanout_errors_total", "Events that could not be fanned out over Redis Pub/Sub.", registry=r
        )

    def watch_pool(self, read: Callable[[], dict[str, int]]) -> None:
        self.registry.register(PoolCollector(read))
