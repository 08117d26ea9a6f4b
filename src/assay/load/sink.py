"""Where samples go: per-(metric, tag set) series, folded into HdrHistograms once per second.

The hot path (an HTTP request) appends 8 floats to its series' flat buffer and bumps two
integers; there is no per-sample Python object. Once per second `tick()` folds every
buffer into the series' histograms with numpy and produces that second's `TimeBucket`.
At the end `to_metrics()` builds k6's metrics and sub-metrics (one per tag value, and
any tag filter a threshold names) for the RunResult (assay.load.sink_metrics). The series
themselves are in assay.load.sink_series.

Memory is bounded by the number of distinct tag sets (not by the run's length), plus the
newest per-second bucket (the older ones are spooled to disk: assay.load.timeline).
"""

from __future__ import annotations

import re
import time
from array import array
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from assay.histo import hist_reset, values_at
from assay.load.sample_output import SampleWriter
from assay.load.sink_metrics import SUBMETRIC_METRICS, SUBMETRIC_TAGS, SYSTEM_TAGS, sink_metrics
from assay.load.sink_series import (
    CORRECTED,
    CORRECTED_COL,
    DURATION_COL,
    HTTP_TRENDS,
    NCOLS,
    HttpSeries,
    Series,
    TickStats,
    TrendAcc,
)
from assay.load.timeline import Timeline
from assay.results import (
    BUILTIN_METRICS,
    Check,
    Contains,
    Histogram,
    Metric,
    MetricType,
    TimeBucket,
)

__all__ = [
    "MetricsSink",
    "raised_at",
    "MAX_HTTP_SERIES",
    "OVERFLOW_NAME",
    "MAX_ERROR_KINDS",
    # the series and the result-building constants, imported from here before they had modules
    "HTTP_TRENDS",
    "NCOLS",
    "DURATION_COL",
    "CORRECTED_COL",
    "CORRECTED",
    "HttpSeries",
    "Series",
    "TickStats",
    "SUBMETRIC_TAGS",
    "SUBMETRIC_METRICS",
    "SYSTEM_TAGS",
]

MAX_HTTP_SERIES = 300
OVERFLOW_NAME = "[other urls]"
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{4,}")
MAX_ERROR_KINDS = 100


class MetricsSink:
    """Collects every sample of one worker; thread-unsafe by design (one event loop)."""

    @staticmethod
    def warm_up() -> None:
        """Run the fold and result paths once on dummy data, so lazy imports and first-call
        costs do not stall the event loop in the middle of a test."""
        sink = MetricsSink()
        series = sink.new_http_series(("warm",), {"scenario": "warm", "name": "warm"}, False)
        series.buf.extend([0.1] * NCOLS * 4)
        sink.add("iteration_duration", 0.1, {"scenario": "warm"})
        sink.add_check("warm", "", True, {"scenario": "warm"})
        sink.tick(0.0)
        for metric in sink.to_metrics(["http_req_duration{name:warm}"]).values():
            metric.seal().model_dump(mode="json")

    def __init__(self, *, keep_bucket_hdr: bool = True) -> None:
        self.types: dict[str, tuple[MetricType, Contains]] = dict(BUILTIN_METRICS)
        self.types[CORRECTED] = (MetricType.TREND, Contains.TIME)
        self.http_series: dict[tuple[Any, ...], HttpSeries] = {}
        self.series: dict[tuple[str, tuple[tuple[str, str], ...]], Series] = {}
        self.checks: dict[tuple[str, str], Check] = {}
        self.buckets = Timeline()  # per-second buckets, spooled to disk (assay.load.timeline)
        self.keep_bucket_hdr = keep_bucket_hdr
        self.errors: dict[str, int] = {}
        self.error_samples: list[str] = []
        self.check_errors: dict[str, int] = {}
        self.error_where: dict[str, str] = {}
        self.t0 = time.time()
        # http timing trends kept per tag set (beyond http_req_duration): those thresholds filter by tag
        self.detailed: set[str] = set()
        self.http_global = [TrendAcc() for _ in range(NCOLS)]
        self.max_http_series = MAX_HTTP_SERIES
        self.overflowed = 0
        self._sec_hists = (Histogram(), Histogram())
        # k6's per-sample outputs (-o json=F / csv=F): written at each fold, when asked for
        self.sample_outs: list[SampleWriter] = []

    # -- declaring ------------------------------------------------------------------------------------

    def declare(self, name: str, mtype: MetricType, contains: Contains = Contains.DEFAULT) -> None:
        known = self.types.get(name)
        if known is None:
            self.types[name] = (MetricType(mtype), Contains(contains))
        elif known[0] is not MetricType(mtype):
            raise ValueError(f"metric {name!r} is a {known[0]}, it cannot also be a {mtype}")

    # -- recording --------------------------------------------------------------------------------------

    def new_http_series(self, key: tuple[Any, ...], tags: dict[str, str], failed: bool) -> HttpSeries:
        """A series for a new tag set; past `max_http_series` distinct sets, new URLs share one
        series named OVERFLOW_NAME (memory stays bounded when URLs carry ids and no `name` tag)."""
        if len(self.http_series) >= self.max_http_series and tags.get("name") != OVERFLOW_NAME:
            self.overflowed += 1
            folded = dict(tags)
            folded["name"] = OVERFLOW_NAME
            okey = ("overflow", tuple(sorted(folded.items())), failed)
            series = self.http_series.get(okey)
            if series is None:
                series = self.http_series[okey] = HttpSeries(folded, failed)
            self.http_series[key] = series
            return series
        series = HttpSeries(tags, failed)
        self.http_series[key] = series
        return series

    def add(self, name: str, value: float, tags: Mapping[str, str]) -> None:
        """One sample of any metric (the general path: custom metrics, ws_*, iterations, ...)."""
        key = (name, tuple(sorted(tags.items())))
        series = self.series.get(key)
        if series is None:
            declared = self.types.get(name)
            if declared is None:
                raise KeyError(f"metric {name!r} is not declared; create it with Trend/Counter/Rate/Gauge({name!r})")
            series = self.series[key] = Series(name, declared[0], dict(tags))
        mtype = series.type
        if mtype is MetricType.TREND:
            series.buf.append(value)
        elif mtype is MetricType.COUNTER:
            series.count += 1
            series.sum += value
        elif mtype is MetricType.RATE:
            if value:
                series.passes += 1
            else:
                series.fails += 1
        else:
            series.count += 1
            series.value = value
            series.min = value if series.min is None else min(series.min, value)
            series.max = value if series.max is None else max(series.max, value)

    def get_series(self, name: str, tags: Mapping[str, str], key: tuple[tuple[str, str], ...] | None = None) -> Series:
        """The series of `name` with these tags (hold on to it to record without lookups)."""
        k = (name, key if key is not None else tuple(sorted(tags.items())))
        series = self.series.get(k)
        if series is None:
            declared = self.types.get(name)
            if declared is None:
                raise KeyError(f"metric {name!r} is not declared; create it with Trend/Counter/Rate/Gauge({name!r})")
            series = self.series[k] = Series(name, declared[0], dict(tags))
        return series

    def add_check(self, name: str, group: str, ok: bool, tags: Mapping[str, str]) -> None:
        path = f"{group}::{name}"
        check = self.checks.get((group, name))
        if check is None:
            check = self.checks[(group, name)] = Check(name=name, path=path)
        if ok:
            check.passes += 1
        else:
            check.fails += 1
        self.add("checks", 1.0 if ok else 0.0, {**tags, "check": name})

    def add_error(self, scenario: str, message: str, limit: int = 10, exc: BaseException | None = None) -> None:
        """An exception raised by an iteration: counted per message, the first few kept with
        the file and line that raised it (`exc`'s innermost frame outside assay).

        Memory addresses are masked (`<Transport 0x55d...>` would make every object its own
        message), and past MAX_ERROR_KINDS distinct messages the rest share one key."""
        if "0x" in message:
            message = _ADDRESS.sub("0x…", message)
        key = f"{scenario}: {message}"
        if key not in self.errors and len(self.errors) >= MAX_ERROR_KINDS:
            key = f"{scenario}: (other errors: more than {MAX_ERROR_KINDS} distinct messages)"
        self.errors[key] = self.errors.get(key, 0) + 1
        if len(self.error_samples) < limit and self.errors[key] == 1:
            self.error_samples.append(key)
            if exc is not None:
                where = raised_at(exc)
                if where:
                    self.error_where[key] = where

    def add_check_error(self, path: str, exc: BaseException) -> None:
        """A check predicate raised: the check failed; the error is kept once, with its count."""
        key = f"check {path.lstrip(':')!r}: {type(exc).__name__}: {exc}"
        n = self.check_errors.get(key, 0)
        if n == 0 and len(self.check_errors) >= MAX_ERROR_KINDS:
            key = "check errors of other kinds"
        self.check_errors[key] = self.check_errors.get(key, 0) + 1
        if n == 0:
            where = raised_at(exc)
            if where:
                self.error_where[key] = where

    def set_gauge(self, name: str, value: float, tags: Mapping[str, str] | None = None) -> None:
        self.add(name, value, tags or {})

    # -- folding ----------------------------------------------------------------------------------------

    def tick(self, t: float) -> TickStats:
        """Fold every buffer into the totals; return and keep the bucket for second `t`."""
        bucket = TimeBucket(t=t)
        stats = TickStats(t=t)
        bm = bucket.metrics
        # two histograms reused every second (allocating ~300 KB twice a second churns the heap)
        sec_hist, sec_corr = self._sec_hists
        hist_reset(sec_hist)
        hist_reset(sec_corr)
        reqs = failed = sent = received = 0
        dsum = 0.0
        dmin = float("inf")
        dmax = float("-inf")
        per_scn: dict[str, list[Any]] = {}
        detailed_cols = [c for c in range(DURATION_COL) if HTTP_TRENDS[c] in self.detailed]
        timing_parts: list[np.ndarray] = []
        seen: set[int] = set()
        for series in self.http_series.values():
            if id(series) in seen:
                continue
            seen.add(id(series))
            buf = series.buf
            if buf:
                # the filled buffer is swapped for an empty one (nobody keeps a reference to
                # it), so numpy reads it in place instead of copying a second's samples
                series.buf = array("d")
                values = np.frombuffer(buf, dtype=np.float64).reshape(-1, NCOLS)
                n = values.shape[0]
                if self.sample_outs:
                    self._write_http_samples(series, values, t)
                series.requests += n
                timing_parts.append(values[:, :DURATION_COL])
                for col in detailed_cols:
                    series.accs[col].fold(values[:, col])
                durations = values[:, DURATION_COL]
                # the series' trend and this second's histogram: buckets computed once
                series.accs[DURATION_COL].fold(durations, also=sec_hist)
                corr = values[:, CORRECTED_COL]
                corr = corr[corr >= 0]
                if corr.size:
                    series.accs[CORRECTED_COL].fold(corr, also=sec_corr)
                dsum += float(durations.sum())
                dmin = min(dmin, float(durations.min()))
                dmax = max(dmax, float(durations.max()))
                reqs += n
                if series.failed:
                    failed += n
                scn = series.tags.get("scenario", "default")
                acc = per_scn.setdefault(scn, [0, 0, []])
                acc[0] += n
                acc[1] += n if series.failed else 0
                acc[2].append(durations)
            if self.sample_outs and (series.sent != series._sent_folded or series.received != series._recv_folded):
                for out in self.sample_outs:
                    out.write("data_sent", series.tags, (float(series.sent - series._sent_folded),), t)
                    out.write("data_received", series.tags, (float(series.received - series._recv_folded),), t)
            sent += series.sent - series._sent_folded
            received += series.received - series._recv_folded
            series._sent_folded = series.sent
            series._recv_folded = series.received
        if timing_parts:
            timings = np.concatenate(timing_parts) if len(timing_parts) > 1 else timing_parts[0]
            for col in range(DURATION_COL):
                self.http_global[col].fold(timings[:, col])
        if reqs:
            bm["http_reqs"] = {"count": float(reqs)}
            bm["http_req_failed"] = {"passes": float(failed), "fails": float(reqs - failed), "rate": failed / reqs}
            med, p90, p95, p99 = values_at(sec_hist, [50, 90, 95, 99])
            bm["http_req_duration"] = {
                "count": float(reqs),
                "sum": dsum,
                "avg": dsum / reqs,
                "min": dmin,
                "max": dmax,
                "med": min(max(med, dmin), dmax),
                "p(90)": min(max(p90, dmin), dmax),
                "p(95)": min(max(p95, dmin), dmax),
                "p(99)": min(max(p99, dmin), dmax),
            }
            stats.p95 = bm["http_req_duration"]["p(95)"]
            if self.keep_bucket_hdr:
                bucket.hdr["http_req_duration"] = sec_hist.encode()
            if sec_corr.count:
                c95, c99 = values_at(sec_corr, [95, 99])
                bm[CORRECTED] = {"count": float(sec_corr.count), "p(95)": c95, "p(99)": c99}
                if self.keep_bucket_hdr:
                    bucket.hdr[CORRECTED] = sec_corr.encode()
        if sent:
            bm["data_sent"] = {"count": float(sent)}
        if received:
            bm["data_received"] = {"count": float(received)}
        stats.requests = reqs
        stats.failed = failed
        for scn, (n, nf, durs) in per_scn.items():
            allv = np.concatenate(durs) if len(durs) > 1 else durs[0]
            k = int(0.95 * (allv.size - 1))
            # the same element a full sort would put at k, in linear time
            stats.per_scenario[scn] = {"requests": float(n), "failed": float(nf), "p95": float(np.partition(allv, k)[k])}
        # the general series
        counters: dict[str, float] = {}
        rates: dict[str, list[int]] = {}
        gauges: dict[str, float] = {}
        outs = self.sample_outs
        for s in self.series.values():
            if outs:
                self._write_series_samples(s, t)
            if s.type is MetricType.TREND:
                if s.buf:
                    buf = s.buf
                    s.buf = array("d")
                    values = np.frombuffer(buf, dtype=np.float64)
                    s.acc.fold(values)  # type: ignore[union-attr]
                    if s.metric == "iteration_duration":
                        entry = bm.setdefault("iteration_duration", {"count": 0.0, "sum": 0.0})
                        entry["count"] += float(values.size)
                        entry["sum"] += float(values.sum())
            elif s.type is MetricType.COUNTER:
                dc = s.sum - s._sum_folded
                if s.count != s._count_folded:
                    counters[s.metric] = counters.get(s.metric, 0.0) + dc
                    s._count_folded = s.count
                    s._sum_folded = s.sum
                    if s.metric == "iterations":
                        scn = s.tags.get("scenario", "default")
                        stats.per_scenario.setdefault(scn, {"requests": 0.0, "failed": 0.0})
                        stats.per_scenario[scn]["iterations"] = stats.per_scenario[scn].get("iterations", 0.0) + dc
                        stats.iterations += int(dc)
            elif s.type is MetricType.RATE:
                dp, df = s.passes - s._passes_folded, s.fails - s._fails_folded
                if dp or df:
                    r = rates.setdefault(s.metric, [0, 0])
                    r[0] += dp
                    r[1] += df
                    s._passes_folded, s._fails_folded = s.passes, s.fails
            elif s.value is not None:
                gauges[s.metric] = gauges.get(s.metric, 0.0) + s.value
        for name, total in counters.items():
            bm[name] = {"count": total}
        for name, (p, f) in rates.items():
            bm[name] = {"passes": float(p), "fails": float(f), "rate": p / (p + f) if p + f else 0.0}
        for name, value in gauges.items():
            bm[name] = {"value": value}
        if "iteration_duration" in bm:
            e = bm["iteration_duration"]
            e["avg"] = e["sum"] / e["count"] if e["count"] else 0.0
        self.buckets.append(bucket)
        return stats

    def restart_totals(self) -> None:
        """Count from zero (the end of a warm-up, assay.load.warmup): call right after `tick()`.

        The series objects stay (VUs and clients hold them); only their totals restart.
        Per-second buckets, errors and gauges' last values are kept."""
        self.http_global = [TrendAcc() for _ in range(NCOLS)]
        for hs in {id(s): s for s in self.http_series.values()}.values():
            hs.accs = [TrendAcc() for _ in range(NCOLS)]
            hs.requests = 0
            hs.sent -= hs._sent_folded
            hs.received -= hs._recv_folded
            hs._sent_folded = hs._recv_folded = 0
        for s in self.series.values():
            if s.acc is not None:
                s.acc = TrendAcc()
            s.count -= s._count_folded
            s.sum -= s._sum_folded
            s.passes -= s._passes_folded
            s.fails -= s._fails_folded
            s._count_folded = s._passes_folded = s._fails_folded = 0
            s._sum_folded = 0.0
            if s.type is MetricType.GAUGE:
                s.count = 0
                s.min = s.max = s.value
        for check in self.checks.values():
            check.passes = check.fails = 0

    # -- per-sample outputs ----------------------------------------------------------------------------

    def _write_http_samples(self, series: HttpSeries, values: np.ndarray, t: float) -> None:
        """k6's samples of each request: http_reqs, the timings, http_req_failed."""
        n = values.shape[0]
        tags = series.tags
        for out in self.sample_outs:
            out.write("http_reqs", tags, [1.0] * n, t)
            for col in range(NCOLS):
                column = values[:, col]
                if col == CORRECTED_COL:
                    column = column[column >= 0]
                out.write(HTTP_TRENDS[col], tags, column.tolist(), t)
            out.write("http_req_failed", tags, [1.0 if series.failed else 0.0] * n, t)

    def _write_series_samples(self, s: Series, t: float) -> None:
        """This second's samples of a general series (called before the fold)."""
        values: list[float]
        if s.type is MetricType.TREND:
            values = s.buf.tolist()
        elif s.type is MetricType.COUNTER:
            dc = s.count - s._count_folded
            if not dc:
                return
            # one sample per add() for the built-in counters (each adds 1), one with the sum otherwise
            values = [1.0] * dc if s.metric in ("iterations", "dropped_iterations") and s.sum - s._sum_folded == dc else [s.sum - s._sum_folded]
        elif s.type is MetricType.RATE:
            values = [1.0] * (s.passes - s._passes_folded) + [0.0] * (s.fails - s._fails_folded)
        else:
            values = [] if s.value is None else [s.value]
        if values:
            for out in self.sample_outs:
                out.write(s.metric, s.tags, values, t)

    def open_sample_outputs(self, specs: Iterable[tuple[str, Any]], limit: int = 0, thresholds: Mapping[str, list[str]] | None = None) -> None:
        for kind, path in specs:
            self.sample_outs.append(SampleWriter(kind, path, limit, self.types, thresholds))

    def close_sample_outputs(self) -> list[SampleWriter]:
        outs, self.sample_outs = self.sample_outs, []
        for out in outs:
            out.close()
        return outs

    # -- the result ---------------------------------------------------------------------------------------

    def to_metrics(self, extra_filters: Iterable[str] = (), *, only: set[str] | None = None) -> dict[str, Metric]:
        """k6 metrics and sub-metrics from everything folded so far (call `tick()` first); see assay.load.sink_metrics."""
        return sink_metrics(self, extra_filters, only=only)

    def check_list(self) -> list[Check]:
        return [c.model_copy() for c in self.checks.values()]



def raised_at(exc: BaseException) -> str:
    """`file:line in function` of the innermost frame of `exc` that is not assay's own code."""
    import os
    import traceback

    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    where = ""
    for frame in traceback.extract_tb(exc.__traceback__):
        if not os.path.abspath(frame.filename).startswith(package + os.sep):
            where = f"{frame.filename}:{frame.lineno} in {frame.name}"
    return where
