"""The ledger's judgement of a run, and its k6-style metrics for thresholds and SLO gates.

Names follow k6's habits so `thresholds: {messages_lost: ["count==0"]}` and SLO objectives
read them like any other metric: counters `messages_sent`, `messages_acked`,
`messages_delivered`, `messages_lost`, `messages_in_flight`, `messages_duplicated`,
`messages_out_of_order`, `messages_misdelivered`, `messages_unrouted`, `messages_failed`, and
the trend `message_delivery_latency` (ms, send to first receipt). Per-key sub-metrics are
tagged `key` (`message_delivery_latency{key:conv-7}`, `messages_lost{key:conv-7}`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from assay.histo import values_at
from assay.results import Contains, Histogram, Metric, MetricType

__all__ = ["Verdict", "KeyVerdict", "LEDGER_METRICS", "LATENCY_METRIC", "COUNTER_METRICS"]

LATENCY_METRIC = "message_delivery_latency"
COUNTER_METRICS = (
    "messages_sent",
    "messages_acked",
    "messages_failed",
    "messages_delivered",
    "messages_lost",
    "messages_in_flight",
    "messages_duplicated",
    "messages_out_of_order",
    "messages_misdelivered",
    "messages_unrouted",
)
LEDGER_METRICS: dict[str, tuple[MetricType, Contains]] = {
    **{name: (MetricType.COUNTER, Contains.DEFAULT) for name in COUNTER_METRICS},
    LATENCY_METRIC: (MetricType.TREND, Contains.TIME),
}
"""Every metric the ledger writes, with its k6 type (threshold validation reads this)."""

_PCTS = (50.0, 95.0, 99.0)


@dataclass
class KeyVerdict:
    """The verdict for one key (conversation, partition, topic)."""

    sent: int = 0
    acked: int = 0
    delivered: int = 0
    lost: int = 0
    duplicated: int = 0
    out_of_order: int = 0
    misdelivered: int = 0
    latency: Histogram | None = None
    latency_count: int = 0
    latency_sum: float = 0.0
    latency_min: float = 0.0
    latency_max: float = 0.0

    def percentiles(self) -> dict[str, float]:
        return _percentiles(self.latency, self.latency_count, self.latency_min, self.latency_max)


@dataclass
class Verdict:
    """What the ledger concluded. `final`: after the grace period (in-flight is then lost)."""

    final: bool = False
    grace: float = 0.0
    sent: int = 0
    acked: int = 0
    failed: int = 0
    unacked: int = 0
    delivered: int = 0
    lost: int = 0
    in_flight: int = 0
    unrouted: int = 0
    duplicated: int = 0
    out_of_order: int = 0
    misdelivered: int = 0
    receipts: int = 0
    unmarked: int = 0
    lost_ids: list[str] = field(default_factory=list)
    in_flight_ids: list[str] = field(default_factory=list)
    per_key: dict[str, KeyVerdict] = field(default_factory=dict)
    latency: Histogram | None = None
    latency_count: int = 0
    latency_sum: float = 0.0
    latency_min: float | None = None
    latency_max: float | None = None
    keys_without_latency: int = 0
    latency_percentiles: dict[str, float] | None = None
    """Set instead of `latency` by `verdict(histograms=False)`."""

    @property
    def ok(self) -> bool:
        """Nothing lost, duplicated, reordered or misdelivered (and, when final, nothing in flight)."""
        return not (self.lost or self.duplicated or self.out_of_order or self.misdelivered or self.in_flight)

    def percentiles(self) -> dict[str, float]:
        """p50/p95/p99 of end-to-end latency in ms (empty when nothing arrived)."""
        if self.latency_percentiles is not None:
            return dict(self.latency_percentiles)
        return _percentiles(self.latency, self.latency_count, self.latency_min or 0.0, self.latency_max or 0.0)

    def problems(self) -> list[str]:
        """One line per kind of failure, for people (empty when ok)."""
        out = []
        if self.lost:
            shown = ", ".join(self.lost_ids[:5])
            out.append(f"{self.lost} message(s) lost (acked, never delivered within {self.grace:g} s): {shown}{' ...' if self.lost > 5 else ''}")
        if self.in_flight:
            out.append(f"{self.in_flight} message(s) still in flight")
        if self.duplicated:
            out.append(f"{self.duplicated} duplicate receipt(s)")
        if self.out_of_order:
            out.append(f"{self.out_of_order} receipt(s) out of order")
        if self.misdelivered:
            out.append(f"{self.misdelivered} receipt(s) at a receiver not entitled to the key")
        return out

    def counts(self) -> dict[str, int]:
        return {
            "messages_sent": self.sent,
            "messages_acked": self.acked,
            "messages_failed": self.failed,
            "messages_delivered": self.delivered,
            "messages_lost": self.lost,
            "messages_in_flight": self.in_flight,
            "messages_duplicated": self.duplicated,
            "messages_out_of_order": self.out_of_order,
            "messages_misdelivered": self.misdelivered,
            "messages_unrouted": self.unrouted,
        }

    def metrics(self, *, per_key: bool = True) -> dict[str, Metric]:
        """The verdict as RunResult metrics (counters and the latency trend, k6 names)."""
        out: dict[str, Metric] = {}
        # one sample, the verdict, whose value is the count: a measured 0 lost is a value for
        # SLO gates and thresholds, not "no samples"
        for name, n in self.counts().items():
            out[name] = Metric(type=MetricType.COUNTER, count=1, sum=float(n))
        out[LATENCY_METRIC] = _trend(self.latency, self.latency_count, self.latency_sum, self.latency_min, self.latency_max)
        if per_key:
            for key, kv in sorted(self.per_key.items()):
                tags = {"key": key}
                for name, n in (
                    ("messages_lost", kv.lost),
                    ("messages_duplicated", kv.duplicated),
                    ("messages_out_of_order", kv.out_of_order),
                    ("messages_misdelivered", kv.misdelivered),
                ):
                    if n:
                        out[f"{name}{{key:{key}}}"] = Metric(type=MetricType.COUNTER, tags=tags, count=1, sum=float(n))
                if kv.latency is not None and kv.latency_count:
                    full = Histogram()
                    full.add(kv.latency)
                    m = _trend(full, kv.latency_count, kv.latency_sum, kv.latency_min, kv.latency_max)
                    m.tags = tags
                    out[f"{LATENCY_METRIC}{{key:{key}}}"] = m
        return out

    def to_dict(self, *, keys_limit: int = 50) -> dict[str, Any]:
        """JSON-able summary (RunResult.extra["ledger"]): counts, ids, latency, the worst keys."""
        worst = sorted(
            self.per_key.items(),
            key=lambda kv: (-(kv[1].lost + kv[1].duplicated + kv[1].out_of_order + kv[1].misdelivered), -kv[1].latency_max, kv[0]),
        )[:keys_limit]
        return {
            "final": self.final,
            "grace_s": self.grace,
            "ok": self.ok,
            **self.counts(),
            "unacked": self.unacked,
            "receipts": self.receipts,
            "unmarked": self.unmarked,
            "lost_ids": list(self.lost_ids),
            "in_flight_ids": list(self.in_flight_ids),
            "latency_ms": self.percentiles(),
            "keys": len(self.per_key),
            "keys_without_latency": self.keys_without_latency,
            "per_key": {
                k: {
                    "sent": v.sent,
                    "delivered": v.delivered,
                    "lost": v.lost,
                    "duplicated": v.duplicated,
                    "out_of_order": v.out_of_order,
                    "misdelivered": v.misdelivered,
                    "latency_ms": v.percentiles(),
                }
                for k, v in worst
            },
        }


def _trend(hist: Histogram | None, count: int, total: float, lo: float | None, hi: float | None) -> Metric:
    m = Metric(type=MetricType.TREND, contains=Contains.TIME)
    if hist is not None and count:
        m.count, m.sum, m.min, m.max = count, total, lo, hi
        m.set_histogram(hist)
    return m


def _percentiles(hist: Histogram | None, count: int, lo: float, hi: float) -> dict[str, float]:
    if hist is None or not count:
        return {}
    values = values_at(hist, list(_PCTS))
    return {f"p({p:g})": round(min(max(v, lo), hi), 3) for p, v in zip(_PCTS, values, strict=True)}
