"""Custom metrics, as k6's `new Trend(name)`: declared at import, fed from iterations.

    from assay.load import Trend
    order_latency = Trend("order_latency", contains="time")

    async def default(vu):
        order_latency.add(12.5, tags={"kind": "card"})

A metric created at module level is found by the scenario loader, so thresholds on it are
validated before the run. `.add()` records into the run of the VU executing the current task.
"""

from __future__ import annotations

from collections.abc import Mapping

from assay.load.context import CURRENT_VU
from assay.results import BUILTIN_METRICS, Contains, MetricType

_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


class CustomMetric:
    """A named metric of one type; `.add(value, tags=None)` records one sample."""

    type: MetricType = MetricType.TREND

    __slots__ = ("name", "contains")

    def __init__(self, name: str, contains: str | Contains = Contains.DEFAULT) -> None:
        if not name or len(name) > 128 or not set(name) <= _NAME_CHARS or name[0].isdigit():
            raise ValueError(
                f"metric name {name!r} must be 1-128 characters of letters, digits and '_', not starting with a digit"
            )
        if name in BUILTIN_METRICS:
            raise ValueError(f"metric name {name!r} is a built-in k6 metric; choose another name")
        self.name = name
        self.contains = Contains(contains)

    def add(self, value: float | bool, tags: Mapping[str, str] | None = None) -> None:
        vu = CURRENT_VU.get()
        if vu is None:
            raise RuntimeError(f"{type(self).__name__}({self.name!r}).add() called outside a VU iteration")
        vu.sink.declare(self.name, self.type, self.contains)
        vu.record(self.name, float(value), tags)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class Trend(CustomMetric):
    type = MetricType.TREND
    __slots__ = ()


class Counter(CustomMetric):
    type = MetricType.COUNTER
    __slots__ = ()


class Rate(CustomMetric):
    type = MetricType.RATE
    __slots__ = ()


class Gauge(CustomMetric):
    type = MetricType.GAUGE
    __slots__ = ()


KINDS: dict[str, type[CustomMetric]] = {"trend": Trend, "counter": Counter, "rate": Rate, "gauge": Gauge}


def make_metric(name: str, kind: str | MetricType, contains: str | Contains = Contains.DEFAULT) -> CustomMetric:
    try:
        cls = KINDS[str(kind).lower()]
    except KeyError:
        raise ValueError(f"metric kind {kind!r}: expected one of trend, counter, rate, gauge") from None
    return cls(name, contains)
