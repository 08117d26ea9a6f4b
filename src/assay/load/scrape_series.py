"""Scraped series -> result metrics: counters' increases, gauges' extremes, histograms' percentiles.

The second half of `--scrape` (assay.load.scrape takes the samples): choose the series to
keep (every one that changed, busiest first, up to a bound; those `select` names; those
thresholds name), and build k6 metrics from them under the service's own names, with
labels as sub-metrics and the base metric summing every label set.
"""

from __future__ import annotations

import math
import re
from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from assay.load.scrape import MAX_TRACKED_SERIES, SeriesKey, metric_types
from assay.results import (
    Contains,
    Histogram,
    Metric,
    MetricType,
    RunResult,
    TimeBucket,
    parse_metric_name,
    submetric_name,
)

if TYPE_CHECKING:
    from assay.load.scrape import Scraper

SPREAD_POINTS = 16  # points per histogram bucket when rebuilding a trend from bucket counts


def summarize(scraper: Scraper, *, keep: Iterable[str] = (), window_start: float | None = None) -> ScrapeSummary:
    """The metrics to add to the result: changed series (bounded), selected ones and `keep` (threshold names)."""
    first = scraper.window(window_start)
    keep_bases = {k.split("{", 1)[0] for k in keep}
    patterns = scraper.opts.patterns()
    histo_families = {n for n, k in scraper.types.items() if k == "histogram"}
    summaries: dict[SeriesKey, _SeriesStats] = {}
    buckets: dict[tuple[str, tuple[tuple[str, str], ...]], dict[float, float]] = {}
    for key, column in scraper.values.items():
        name, labels = key
        family = _histogram_family(name, histo_families)
        if family is not None and name.endswith("_bucket"):
            le = dict(labels).get("le")
            if le is None:
                continue
            rest = tuple((k, v) for k, v in labels if k != "le")
            buckets.setdefault((family, rest), {})[_le(le)] = _increase(column, first)
            continue
        kind = "counter" if family is not None else scraper.types.get(name, "counter" if name.endswith("_total") else "gauge")
        stats = _series_stats(column, first, kind)
        if stats is not None:
            summaries[key] = stats
    chosen = _choose(scraper.opts.max_series, summaries, buckets, keep_bases, patterns)
    metrics: dict[str, Metric] = {}
    series_out: dict[str, list[tuple[float, float]]] = {}
    chosen_subs = {submetric_name(k[0], dict(k[1])) for k in chosen if k[1]}
    # a base metric sums every label set of its name; its sub-metrics are the chosen label sets
    for name in sorted({k[0] for k in chosen if k in summaries}):
        keys = [k for k in summaries if k[0] == name]
        _add_scalar_metric(metrics, name, [(dict(k[1]), summaries[k]) for k in keys], first)
        series_out[name] = _summed_series(scraper.times, [summaries[k] for k in keys], first)
    for family in sorted({k[0] for k in chosen if k in buckets}):
        keys = [k for k in buckets if k[0] == family]
        _add_histogram_metric(metrics, family, [(dict(k[1]), buckets[k]) for k in keys])
    for sub in [n for n in metrics if "{" in n and n not in chosen_subs]:
        del metrics[sub]
    for flt in keep:  # a threshold on some of a metric's labels: the series that carry them, summed
        if "{" not in flt or flt in metrics:
            continue
        base_name, want = parse_metric_name(flt)
        matching = [k for k in summaries if k[0] == base_name and all(dict(k[1]).get(a) == b for a, b in want.items())]
        scratch: dict[str, Metric] = {}
        if matching:
            _add_scalar_metric(scratch, base_name, [(dict(k[1]), summaries[k]) for k in matching], first)
        hist_keys = [k for k in buckets if k[0] == base_name and all(dict(k[1]).get(a) == b for a, b in want.items())]
        if hist_keys:
            _add_histogram_metric(scratch, base_name, [(dict(k[1]), buckets[k]) for k in hist_keys])
        if base_name in scratch:
            scratch[base_name].tags = dict(want)
            metrics[flt] = scratch[base_name]
    for name in keep_bases:  # a threshold on a series the target never showed: an empty metric of its type
        if name not in metrics and name in metric_types(scraper.types):
            mtype, contains = metric_types(scraper.types)[name]
            metrics[name] = Metric(type=mtype, contains=contains)
    changed = sum(1 for s in summaries.values() if s.changed) + sum(1 for b in buckets.values() if any(b.values()))
    return ScrapeSummary(
        metrics=metrics,
        series=series_out,
        gaps=[g.to_json() for g in scraper.gaps],
        info={
            "urls": list(scraper.opts.urls),
            "interval_s": scraper.opts.interval,
            "scrapes": len(scraper.times),
            "series_seen": len(scraper.values),
            "series_changed": changed,
            "series_kept": len(chosen),
            "series_not_tracked": scraper.dropped_series,
            "max_series": scraper.opts.max_series,
            "select": list(scraper.opts.select),
            "scrape_ms_mean": round(1000 * sum(scraper.scrape_seconds) / len(scraper.scrape_seconds), 3) if scraper.scrape_seconds else None,
            "scrape_ms_max": round(1000 * max(scraper.scrape_seconds), 3) if scraper.scrape_seconds else None,
            "scrape_cpu_s": round(scraper.cpu_seconds, 3),
            "window_from": scraper.times[first] if scraper.times else None,
            "problems": list(scraper.problems),
        },
    )


def _choose(
    max_series: int,
    summaries: Mapping[SeriesKey, _SeriesStats],
    buckets: Mapping[SeriesKey, dict[float, float]],
    keep: set[str],
    patterns: Sequence[re.Pattern[str]],
) -> list[SeriesKey]:
    wanted: list[SeriesKey] = []
    changed: list[SeriesKey] = []
    for key, stats in summaries.items():
        if key[0] in keep or any(p.search(key[0]) for p in patterns):
            wanted.append(key)
        elif not patterns and stats.changed:
            changed.append(key)
    for key, counts in buckets.items():
        if key[0] in keep or any(p.search(key[0]) for p in patterns):
            wanted.append(key)
        elif not patterns and any(counts.values()):
            changed.append(key)
    room = max(0, max_series - len(wanted))
    # the busiest series first when the bound cuts: they are the ones people look for
    changed.sort(key=lambda k: -(summaries[k].weight if k in summaries else sum(buckets[k].values())))
    return wanted + changed[:room]


@dataclass

class ScrapeSummary:
    metrics: dict[str, Metric]
    series: dict[str, list[tuple[float, float]]]  # base name -> (time, value or per-second increase)
    gaps: list[dict[str, Any]]
    info: dict[str, Any]

    def write_samples(self, outputs: Sequence[tuple[str, Any]], part: Any, types: Mapping[str, tuple[Any, Any]]) -> bool:
        """Add the scraped per-second points to k6's per-sample outputs (`-o json=F`, `-o csv=F`) as one more
        part file each (`part(path)`), so the service's names are in those files too; True if any was written."""
        from assay.load.sample_output import SampleWriter

        if not self.series or not outputs:
            return False
        for kind, path in outputs:
            writer = SampleWriter(kind, part(path), 0, {**types, **{n: (m.type, m.contains) for n, m in self.metrics.items()}})
            for name, points in sorted(self.series.items()):
                for t, v in points:
                    writer.write(name, {}, [v], t)
            writer.close()
        return True

    def apply(self, result: RunResult) -> None:
        """Put the scraped metrics, their per-second series, gaps and notes into `result`.

        A service metric named like one the run measured itself (`http_reqs`) never replaces it:
        it is left out, with a note."""
        clashes = [n for n in self.metrics if n in result.metrics and _measured(result.metrics[n])]
        for name in clashes:
            del self.metrics[name]
            self.series.pop(name, None)
            result.notes.append(f"scrape: the service's {name} has the name of a metric this run measured; left out")
        for name, metric in self.metrics.items():
            if name in result.metrics and result.metrics[name].thresholds:
                metric.thresholds = result.metrics[name].thresholds
            result.metrics[name] = metric
        by_t = {b.t: b for b in result.timeseries}
        for name, points in self.series.items():
            kind = self.metrics[name].type if name in self.metrics else MetricType.GAUGE
            for t, v in points:
                second = float(int(t))
                bucket = by_t.get(second)
                if bucket is None:
                    bucket = by_t[second] = TimeBucket(t=second)
                bucket.metrics[name] = {"count": v} if kind is MetricType.COUNTER else {"value": v}
        result.timeseries = [by_t[t] for t in sorted(by_t)]
        result.extra["scrape"] = {**self.info, "gaps": self.gaps, "metrics": sorted(self.metrics)}
        result.notes.extend(f"scrape: {p}" for p in self.info.get("problems", []))
        for gap in self.gaps:
            result.notes.append(
                f"scrape gap: {gap['url']} did not answer for {gap['seconds']:.1f}s ({gap['failed_scrapes']} scrape(s)): {gap['error']}"
            )
        if self.info.get("series_not_tracked"):
            result.notes.append(f"scrape: more than {MAX_TRACKED_SERIES} series; {self.info['series_not_tracked']} were not tracked")


# -- per-series statistics -----------------------------------------------------------------------------------


def _measured(m: Metric) -> bool:
    return bool(m.count or m.sum or m.passes or m.fails or m.value is not None or m.hdr)


@dataclass
class _SeriesStats:
    kind: str
    column: array[float]
    delta: float = 0.0
    last: float | None = None
    min: float | None = None
    max: float | None = None
    changed: bool = False
    weight: float = 0.0
    samples: int = 0


def _series_stats(column: array[float], first: int, kind: str) -> _SeriesStats | None:
    values = [v for v in column[first:] if not math.isnan(v)]
    if not values:
        return None
    stats = _SeriesStats(kind=kind, column=column, samples=len(values))
    if kind == "counter":
        stats.delta = _increase(column, first)
        stats.changed = stats.delta != 0
        stats.weight = stats.delta
    else:
        stats.last = values[-1]
        stats.min = min(values)
        stats.max = max(values)
        stats.changed = stats.min != stats.max
        stats.weight = stats.max - stats.min
    return stats


def _increase(column: array[float], first: int) -> float:
    """Prometheus' increase(): the sum of rises, a drop being a restart from 0."""
    total = 0.0
    prev: float | None = None
    for v in column[first:]:
        if math.isnan(v):
            continue
        if prev is not None:
            total += v - prev if v >= prev else v
        prev = v
    return total


def _summed_series(times: array[float], parts: Sequence[_SeriesStats], first: int) -> list[tuple[float, float]]:
    """Per scrape: gauges summed over label sets, counters' increase since the previous scrape."""
    out: list[tuple[float, float]] = []
    prev: list[float | None] = [None] * len(parts)
    for i in range(first, len(times)):
        total = 0.0
        seen = False
        for j, s in enumerate(parts):
            v = s.column[i] if i < len(s.column) else math.nan
            if math.isnan(v):
                continue
            if s.kind == "counter":
                p = prev[j]
                if p is not None:
                    total += v - p if v >= p else v
                    seen = True
                prev[j] = v
            else:
                total += v
                seen = True
        counter = bool(parts) and parts[0].kind == "counter"
        if seen and (i > first or not counter):
            out.append((times[i], total))
    return out


def _add_scalar_metric(metrics: dict[str, Metric], name: str, parts: list[tuple[dict[str, str], _SeriesStats]], first: int) -> None:
    kind = parts[0][1].kind
    base = Metric(type=MetricType.COUNTER if kind == "counter" else MetricType.GAUGE)
    for labels, s in parts:
        if kind == "counter":
            m = Metric(type=MetricType.COUNTER, count=s.samples, sum=s.delta, tags=labels)
            base.count += s.samples
            base.sum += s.delta
        else:
            m = Metric(type=MetricType.GAUGE, count=s.samples, value=s.last, min=s.min, max=s.max, tags=labels)
        if labels:
            metrics[submetric_name(name, labels)] = m
        elif kind != "counter":
            base = m
    if kind != "counter" and any(labels for labels, _ in parts):
        # the base of a labelled gauge: the label sets summed at each scrape (queue depth over all queues)
        columns = [s for _, s in parts]
        summed = _summed_series(array("d", range(len(columns[0].column))), columns, first)
        window = [v for _, v in summed]
        if window:
            base = Metric(type=MetricType.GAUGE, count=len(window), value=window[-1], min=min(window), max=max(window))
    metrics[name] = base


def _le(text: str) -> float:
    return math.inf if text in ("+Inf", "Inf", "inf") else float(text)


def _histogram_family(name: str, families: set[str]) -> str | None:
    for suffix in ("_bucket", "_count", "_sum"):
        if name.endswith(suffix) and name[: -len(suffix)] in families:
            return name[: -len(suffix)]
    return None


def _add_histogram_metric(metrics: dict[str, Metric], family: str, parts: list[tuple[dict[str, str], dict[float, float]]]) -> None:
    """A trend rebuilt from cumulative bucket increases: each bucket's count spread evenly inside it."""
    to_ms = family.endswith("_seconds")
    scale = 1000.0 if to_ms else 1.0
    contains = Contains.TIME if to_ms else Contains.DEFAULT
    total = Histogram()
    base = Metric(type=MetricType.TREND, contains=contains)
    for labels, cumulative in parts:
        hist, count, lo, hi, approx_sum = _rebuild(cumulative, scale)
        if labels:
            sub = Metric(type=MetricType.TREND, contains=contains, tags=labels, count=count, sum=approx_sum, min=lo, max=hi)
            sub.set_histogram(hist)
            metrics[submetric_name(family, labels)] = sub
        total.add(hist)
        base.count += count
        base.sum += approx_sum
        if lo is not None:
            base.min = lo if base.min is None else min(base.min, lo)
        if hi is not None:
            base.max = hi if base.max is None else max(base.max, hi)
    base.set_histogram(total)
    metrics[family] = base


def _rebuild(cumulative: Mapping[float, float], scale: float) -> tuple[Histogram, int, float | None, float | None, float]:
    hist = Histogram()
    bounds = sorted(cumulative)
    below = 0.0
    lower = 0.0
    count = 0
    approx_sum = 0.0
    lo: float | None = None
    hi: float | None = None
    for upper in bounds:
        in_bucket = max(0.0, cumulative[upper] - below)
        below = max(below, cumulative[upper])
        n = int(round(in_bucket))
        if n > 0:
            top = lower if math.isinf(upper) else upper  # +Inf: the last finite bound, as histogram_quantile
            points = min(SPREAD_POINTS, n)
            for j in range(points):
                share = n // points + (1 if j < n % points else 0)
                value = (lower + (top - lower) * (j + 1) / points) * scale
                hist.record(value, share)
                approx_sum += value * share
            first_value = (lower + (top - lower) / points) * scale
            lo = first_value if lo is None else lo
            hi = top * scale
            count += n
        if not math.isinf(upper):
            lower = upper
    return hist, count, lo, hi, approx_sum
