"""The trends as Prometheus metrics: a text exposition, or a live `/metrics` endpoint over the store.

`assay_trend_value` is the newest recorded value of each series and `assay_trend_regression`
is 1 while the series has an open regression, so a Grafana panel or an alert rule reads the
same verdicts `assay trend detect` gives. The live exporter re-reads the store only when a
run was recorded or deleted since the last scrape (detection over a long history costs
seconds; a scrape every 15 s must not repeat it for nothing).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from assay.trends.analyze import SeriesOutcome
from assay.trends.store import TrendStore

LABELS = ["scenario", "metric", "aggregation"]


def families(outcomes: Sequence[SeriesOutcome]) -> list[GaugeMetricFamily]:
    value = GaugeMetricFamily("assay_trend_value", "The newest recorded value of the series", labels=LABELS)
    regression = GaugeMetricFamily("assay_trend_regression", "1 when the series has an open regression", labels=LABELS)
    runs = GaugeMetricFamily("assay_trend_runs", "Runs in the series", labels=LABELS)
    newest = GaugeMetricFamily("assay_trend_last_run_timestamp_seconds", "When the series' newest run ran (Unix time)", labels=LABELS)
    for outcome in outcomes:
        s = outcome.series
        if not s.values:
            continue
        key = [s.scenario, s.metric, s.aggregation]
        value.add_metric(key, s.values[-1])
        regression.add_metric(key, int(any(a.regression and a.open for a in outcome.alarms)))
        runs.add_metric(key, len(s))
        newest.add_metric(key, s.runs[-1].at.timestamp())
    return [value, regression, runs, newest]


class _Fixed(Collector):
    def __init__(self, outcomes: Sequence[SeriesOutcome]) -> None:
        self.outcomes = outcomes

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield from families(self.outcomes)


def exposition(outcomes: Sequence[SeriesOutcome]) -> str:
    """The Prometheus text format (for a node_exporter textfile collector or a Pushgateway)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Fixed(outcomes))
    return generate_latest(registry).decode()


class StoreCollector(Collector):
    """Collects from the store on scrape; recomputes only when the store changed.

    `analyse` turns the open store into outcomes (the CLI passes the same selection as
    `assay trend export prometheus`). A failing analysis keeps serving the last good values
    and sets `assay_trend_exporter_errors_total`, so one bad scrape does not blank a dashboard.
    """

    def __init__(self, store: TrendStore, analyse: Callable[[TrendStore], Sequence[SeriesOutcome]]) -> None:
        self.store = store
        self.analyse = analyse
        self._lock = threading.Lock()
        self._version: tuple[int, int] | None = None
        self._outcomes: Sequence[SeriesOutcome] = ()
        self.errors = 0
        self.refreshes = 0
        self.last_refresh_s = 0.0

    def refresh(self) -> None:
        with self._lock:
            version = self.store.version()
            if version == self._version:
                return
            t0 = time.perf_counter()
            try:
                self._outcomes = self.analyse(self.store)
            except Exception:  # noqa: BLE001 - a scrape must answer; the counter shows the failure
                self.errors += 1
                return
            self._version = version
            self.refreshes += 1
            self.last_refresh_s = time.perf_counter() - t0

    def collect(self) -> Iterator[Any]:
        self.refresh()
        yield from families(self._outcomes)
        errors = GaugeMetricFamily("assay_trend_exporter_errors", "Scrapes whose analysis of the store failed")
        errors.add_metric([], self.errors)
        took = GaugeMetricFamily("assay_trend_exporter_analysis_seconds", "How long the last analysis of the store took")
        took.add_metric([], self.last_refresh_s)
        yield errors
        yield took


def serve(collector: StoreCollector, port: int, addr: str = "127.0.0.1") -> tuple[Any, Any]:
    """Serve `/metrics` for the collector on a background thread; returns (server, thread)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return start_http_server(port, addr=addr, registry=registry)
