"""The service's own Prometheus metrics, scraped during a load run and kept in its RunResult.

    assay load run scenario.py --scrape http://127.0.0.1:8080/metrics \\
        --threshold 'courier_messages_delivered_total:delta == messages_sent'

A load tool sees requests from the outside; whether the service delivered, queued or
dropped is in its own metrics. A `Scraper` reads each target's `/metrics` once a second
(in a child process, with prometheus-client's text parser) and, at the end, turns the series
into metrics under the service's own names, so they show in the summary, the RunResult,
the k6 summary export, thresholds and SLO gates:

- counters: the increase over the run (resets handled as Prometheus' `increase()` does),
  a k6 counter: `count` (alias `delta`) and `rate` per second;
- gauges: last, min and max over the run (k6 gauge: `value`, `min`, `max`), plus the
  per-second values in the result's time series;
- histograms: the bucket counts' increase, as a trend with percentiles (linear within a
  bucket, as `histogram_quantile`); `*_seconds` histograms become time trends in ms, as
  every time trend of k6's model is.

Label sets become k6 sub-metrics (`courier_queue_depth{queue:outbox}`); the base metric
sums them. Kept: every series that changed during the run (up to `max_series`), those
matching `select` patterns, and every metric a threshold names. A target that stops
answering does not stop the run: the gap (from, to, error) is recorded and the series
carry on when it is back.
"""

from __future__ import annotations

import math
import re
import signal
import time
from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from assay.errors import AssayError, UsageError
from assay.results import Contains, MetricType

if TYPE_CHECKING:
    from assay.load.scrape_series import ScrapeSummary

DEFAULT_MAX_SERIES = 200
STARTUP_TIMEOUT = 30.0  # the child process imports httpx and prometheus-client, then scrapes once
MAX_TRACKED_SERIES = 5000  # series remembered during the run (memory: 8 bytes per series per second)

SeriesKey = tuple[str, tuple[tuple[str, str], ...]]


@dataclass
class ScrapeOptions:
    """What `--scrape` asks for (picklable; the same in Python and YAML options: `scrape:`)."""

    urls: list[str]
    interval: float = 1.0
    select: list[str] = field(default_factory=list)
    max_series: int = DEFAULT_MAX_SERIES
    timeout: float = 0.8

    def patterns(self) -> list[re.Pattern[str]]:
        return [re.compile(p) for p in self.select]


def parse_scrape_option(value: Any, where: str) -> ScrapeOptions:
    """`scrape:` in options: a URL, a comma-separated list, a list, or {urls, interval, select, max_series}."""
    if isinstance(value, str):
        return ScrapeOptions(urls=split_urls(value, where))
    if isinstance(value, list):
        return ScrapeOptions(urls=split_urls(",".join(str(v) for v in value), where))
    if isinstance(value, Mapping):
        unknown = set(value) - {"urls", "url", "interval", "select", "max_series", "maxSeries", "timeout"}
        if unknown:
            raise UsageError(f"{where}: unknown key {sorted(unknown)[0]!r}; expected urls, interval, select, max_series, timeout")
        urls = value.get("urls", value.get("url"))
        if urls is None:
            raise UsageError(f"{where}.urls: required, the /metrics URL(s) to scrape")
        opts = parse_scrape_option(urls, f"{where}.urls")
        from assay.load.durations import parse_duration

        try:
            if "interval" in value:
                opts.interval = parse_duration(value["interval"], what=f"{where}.interval")
            if "timeout" in value:
                opts.timeout = parse_duration(value["timeout"], what=f"{where}.timeout")
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        if opts.interval <= 0:
            raise UsageError(f"{where}.interval: must be greater than 0")
        select = value.get("select", [])
        opts.select = [select] if isinstance(select, str) else [str(s) for s in select]
        check_patterns(opts.select, f"{where}.select")
        max_series = value.get("max_series", value.get("maxSeries", DEFAULT_MAX_SERIES))
        if isinstance(max_series, bool) or not isinstance(max_series, int) or max_series < 1:
            raise UsageError(f"{where}.max_series: expected a whole number of at least 1, got {max_series!r}")
        opts.max_series = max_series
        return opts
    raise UsageError(f"{where}: expected a URL, a list of URLs or {{urls, interval, select, max_series}}, got {value!r}")


def split_urls(text: str, where: str) -> list[str]:
    urls = [u.strip() for u in text.split(",") if u.strip()]
    if not urls:
        raise UsageError(f"{where}: expected at least one http(s):// URL")
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise UsageError(f"{where}: {url!r} is not an http(s):// URL (e.g. http://127.0.0.1:8080/metrics)")
    return urls


def check_patterns(patterns: Sequence[str], where: str) -> None:
    for p in patterns:
        try:
            re.compile(p)
        except re.error as exc:
            raise UsageError(f"{where}: {p!r} is not a regular expression: {exc}") from None


# -- reading one exposition -------------------------------------------------------------------------------


@dataclass
class Exposition:
    """One scrape of one target: metric families' types and the value of every sample."""

    types: dict[str, str]  # sample base name (the service's name) -> counter | gauge | histogram | summary | untyped
    samples: dict[SeriesKey, float]


def parse_exposition(text: str, instance: str | None = None) -> Exposition:
    """Read Prometheus text format with prometheus-client's parser (the reference implementation)."""
    from prometheus_client.parser import text_string_to_metric_families

    types: dict[str, str] = {}
    samples: dict[SeriesKey, float] = {}
    for family in text_string_to_metric_families(text):
        kind = family.type
        if kind == "counter":
            types[family.name + "_total"] = "counter"
        elif kind == "histogram":
            types[family.name] = "histogram"
        elif kind in ("gauge", "untyped", "unknown", "stateset", "info"):
            types[family.name] = "gauge"
        else:
            types[family.name] = kind
        for s in family.samples:
            if s.name.endswith("_created"):
                continue  # creation timestamps, not measurements
            labels = dict(s.labels)
            if instance is not None:
                labels["instance"] = instance
            if kind == "counter" and not s.name.endswith("_total"):
                types.setdefault(s.name, "counter")
            samples[(s.name, tuple(sorted(labels.items())))] = float(s.value)
    return Exposition(types, samples)


def metric_types(types: Mapping[str, str]) -> dict[str, tuple[MetricType, Contains]]:
    """The k6 types scraped names will have in the result (for validating thresholds before the run)."""
    out: dict[str, tuple[MetricType, Contains]] = {}
    for name, kind in types.items():
        if kind == "counter":
            out[name] = (MetricType.COUNTER, Contains.DEFAULT)
        elif kind == "histogram":
            out[name] = (MetricType.TREND, Contains.TIME if name.endswith("_seconds") else Contains.DEFAULT)
            out[name + "_count"] = (MetricType.COUNTER, Contains.DEFAULT)
            out[name + "_sum"] = (MetricType.COUNTER, Contains.DEFAULT)
        elif kind == "summary":
            out[name + "_count"] = (MetricType.COUNTER, Contains.DEFAULT)
            out[name + "_sum"] = (MetricType.COUNTER, Contains.DEFAULT)
            out[name] = (MetricType.GAUGE, Contains.DEFAULT)
        else:
            out[name] = (MetricType.GAUGE, Contains.DEFAULT)
    return out


def discover(opts: ScrapeOptions) -> tuple[dict[str, tuple[MetricType, Contains]], list[str]]:
    """Scrape every target once (before the run): the metric types found, and problems per target."""
    import httpx

    found: dict[str, str] = {}
    problems: list[str] = []
    with httpx.Client(timeout=max(opts.timeout, 2.0), trust_env=False) as client:
        for url in opts.urls:
            try:
                response = client.get(url)
                response.raise_for_status()
                found.update(parse_exposition(response.text).types)
            except Exception as exc:  # any failure is reported the same way: the target is not scrapable
                problems.append(f"{url}: {_describe(exc)}")
    return metric_types(found), problems


def _describe(exc: BaseException) -> str:
    import httpx

    if isinstance(exc, httpx.HTTPStatusError):
        return f"HTTP {exc.response.status_code}"
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    text = str(exc) or type(exc).__name__
    return text if len(text) < 200 else text[:200] + "..."


# -- the scraper ----------------------------------------------------------------------------------------------


@dataclass
class Gap:
    url: str
    start: float
    end: float
    error: str
    scrapes: int = 1

    def to_json(self) -> dict[str, Any]:
        return {"url": self.url, "from": self.start, "to": self.end, "seconds": round(self.end - self.start, 3),
                "failed_scrapes": self.scrapes, "error": self.error}


class Scraper:
    """Scrapes every target every `interval` seconds, from `start()` to `stop()` (in a child process)."""

    def __init__(self, opts: ScrapeOptions) -> None:
        self.opts = opts
        self.times: array[float] = array("d")
        self.values: dict[SeriesKey, array[float]] = {}
        self.types: dict[str, str] = {}
        self.gaps: list[Gap] = []
        self._open_gap: dict[str, Gap] = {}
        self.dropped_series = 0
        self.scrape_seconds: list[float] = []  # the cost of each round (fetch + parse), for the record
        self.problems: list[str] = []
        self.cpu_seconds = 0.0  # the scrape process's own CPU time (fetch + parse), for the record
        self.window_index: int | None = None  # the scrape taken when the warm-up ended (mark_window)
        self._proc: Any = None
        self._conn: Any = None
        self._client: Any = None
        multi = len(opts.urls) > 1
        self._instances = {u: (urlsplit(u).netloc if multi else None) for u in opts.urls}

    def start(self) -> None:
        """Start scraping in a child process; returns once the baseline scrape (before any load) is taken.

        A process, not a thread: prometheus-client's parser is pure Python, and ~40 ms of
        parsing a second on a thread would hold the load worker's GIL and show up as latency."""
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        self._conn, child_end = ctx.Pipe()  # parent -> child: "window", "stop"; child -> parent: "ready", the series
        self._proc = ctx.Process(target=_scrape_process, args=(self.opts, child_end), name="assay-scrape", daemon=True)
        self._proc.start()
        child_end.close()
        ready = False
        try:
            ready = self._conn.poll(STARTUP_TIMEOUT) and self._conn.recv() == "ready"
        except (EOFError, OSError):
            ready = False
        if not ready:
            self._end_process()
            raise AssayError("the scrape process did not start (--scrape): see the log above")

    def mark_window(self) -> None:
        """Scrape now, and measure from this scrape (the end of the warm-up): the service's counts
        then start within milliseconds of the load's, instead of up to an interval earlier."""
        if self._proc is not None:
            try:
                self._conn.send("window")
            except (OSError, ValueError):
                pass  # the process is gone: stop() reports it

    def stop(self) -> None:
        """Stop scraping after a last scrape (the counts at the end of the load) and take the series back."""
        if self._proc is None:
            return
        try:
            self._conn.send("stop")
        except (OSError, ValueError):
            pass
        wait = self.opts.timeout * len(self.opts.urls) + self.opts.interval + 10.0
        try:
            if self._conn.poll(wait):
                self._load(self._conn.recv())
            else:
                self.problems.append(f"the scrape process did not report within {wait:.0f}s; scraped metrics are missing")
        except (EOFError, OSError) as exc:
            self.problems.append(f"the scrape process ended without its series ({exc or type(exc).__name__}); scraped metrics are missing")
        self._end_process()

    def _end_process(self) -> None:
        if self._proc is not None:
            self._proc.join(2.0)
            if self._proc.is_alive():
                self._proc.kill()
                self._proc.join(2.0)
            self._proc = None
        self._conn.close()

    def __enter__(self) -> Scraper:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def run(self, commands: Any, on_ready: Any = None) -> None:
        """Scrape until `commands` (a Connection) says "stop": baseline now, then every interval, then a last
        one; "window" scrapes at once and marks that scrape as the start of the measured window."""
        import httpx

        cpu0 = time.process_time()
        self._client = httpx.Client(timeout=self.opts.timeout, trust_env=False)
        try:
            self.scrape_once()
            if on_ready is not None:
                on_ready()
            interval = self.opts.interval
            next_at = time.monotonic() + interval
            while True:
                if commands.poll(max(0.0, next_at - time.monotonic())):
                    try:
                        command = commands.recv()
                    except EOFError:
                        break  # the parent is gone
                    if command == "stop":
                        break
                    if command == "window" and self.window_index is None:
                        self.scrape_once()
                        self.window_index = len(self.times) - 1
                    continue
                self.scrape_once()
                next_at += interval
                now = time.monotonic()
                if next_at < now:  # a slow target: skip the missed slots rather than scrape back to back
                    next_at = now + interval
            self.scrape_once()
        finally:
            self._client.close()
            self._client = None
            self.cpu_seconds = time.process_time() - cpu0
        self.gaps.extend(self._open_gap.values())
        self._open_gap.clear()

    def state(self) -> dict[str, Any]:
        return {"times": self.times, "values": self.values, "types": self.types, "gaps": self.gaps,
                "dropped": self.dropped_series, "seconds": self.scrape_seconds, "cpu": self.cpu_seconds,
                "window": self.window_index}

    def _load(self, state: dict[str, Any]) -> None:
        self.times = state["times"]
        self.values = state["values"]
        self.types = state["types"]
        self.gaps = state["gaps"]
        self.dropped_series = state["dropped"]
        self.scrape_seconds = state["seconds"]
        self.cpu_seconds = state["cpu"]
        self.window_index = state["window"]

    def scrape_once(self) -> None:
        t0 = time.perf_counter()
        now = time.time()
        merged: dict[SeriesKey, float] = {}
        for url in self.opts.urls:
            try:
                response = self._client.get(url)
                response.raise_for_status()
                expo = parse_exposition(response.text, self._instances[url])
            except Exception as exc:  # a dead or broken target: the run goes on, the gap is recorded
                gap = self._open_gap.get(url)
                if gap is None:
                    self._open_gap[url] = Gap(url, now, now, _describe(exc))
                else:
                    gap.end = now
                    gap.scrapes += 1
                continue
            gap = self._open_gap.pop(url, None)
            if gap is not None:
                gap.end = now
                self.gaps.append(gap)
            self.types.update(expo.types)
            merged.update(expo.samples)
        self._record(now, merged)
        self.scrape_seconds.append(time.perf_counter() - t0)

    def _record(self, now: float, samples: Mapping[SeriesKey, float]) -> None:
        index = len(self.times)
        self.times.append(now)
        nan = math.nan
        for key, value in samples.items():
            column = self.values.get(key)
            if column is None:
                if len(self.values) >= MAX_TRACKED_SERIES:
                    self.dropped_series += 1
                    continue
                column = self.values[key] = array("d", [nan]) * index
            column.append(value)
        for column in self.values.values():
            if len(column) <= index:
                column.append(nan)

    # -- the result ------------------------------------------------------------------------------------------

    def window(self, start: float | None) -> int:
        """Index of the scrape the measured window starts from: the one taken when the warm-up
        ended (`mark_window`), else the last one at or before `start`."""
        if start is None or not self.times:
            return 0
        if self.window_index is not None:
            return self.window_index
        base = 0
        for i, t in enumerate(self.times):
            if t <= start:
                base = i
            else:
                break
        return base

    def summarize(self, *, keep: Iterable[str] = (), window_start: float | None = None) -> ScrapeSummary:
        """The metrics to add to the result (assay.load.scrape_series)."""
        from assay.load.scrape_series import summarize

        return summarize(self, keep=keep, window_start=window_start)


def _scrape_process(opts: ScrapeOptions, conn: Any) -> None:
    """The child process: scrape until the parent says "stop" on `conn`, then send the series back on it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the run; the parent then stops us
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    scraper = Scraper(opts)
    scraper.run(conn, on_ready=lambda: conn.send("ready"))
    conn.send(scraper.state())
    conn.close()


