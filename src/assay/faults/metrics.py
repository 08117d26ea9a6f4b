"""/metrics in the Prometheus text format: Toxiproxy's proxy byte counters plus assay's
connection and toxic counters, read from the collection at scrape time and written by
prometheus-client (exact values, the same exposition as the rest of assay)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from assay.faults.collection import ProxyCollection

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class ProxyCollector(Collector):
    def __init__(self, collection: ProxyCollection) -> None:
        self.collection = collection

    def collect(self) -> Iterator[Metric]:
        byte_labels = ["direction", "listener", "proxy", "upstream"]
        received = CounterMetricFamily("toxiproxy_proxy_received_bytes", "The total bytes received from the source", labels=byte_labels)
        sent = CounterMetricFamily("toxiproxy_proxy_sent_bytes", "The total bytes sent to the destination", labels=byte_labels)
        total = CounterMetricFamily("assay_proxy_connections", "Client connections accepted", labels=["proxy"])
        active = GaugeMetricFamily("assay_proxy_connections_active", "Client connections open now", labels=["proxy"])
        activations = CounterMetricFamily(
            "assay_toxic_activations", "Links (or HTTP requests) a toxic fired on", labels=["proxy", "toxic", "type", "stream"]
        )
        for proxy in self.collection.proxies.values():
            live = proxy.live_bytes()
            b = [closed + now for closed, now in zip(proxy.stats.bytes_closed, live, strict=True)]
            for direction, got, gave in (("upstream", b[0], b[1]), ("downstream", b[2], b[3])):
                labels = [direction, proxy.listen, proxy.name, proxy.upstream]
                received.add_metric(labels, got)
                sent.add_metric(labels, gave)
            total.add_metric([proxy.name], proxy.stats.connections_total)
            active.add_metric([proxy.name], proxy.stats.connections_active)
            for entry in proxy.toxic_list():
                activations.add_metric([proxy.name, entry.name, entry.type, entry.stream], proxy.stats.activations.get(entry.name, 0))
        yield from (received, sent, total, active, activations)


def registry_for(collection: ProxyCollection) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ProxyCollector(collection))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
