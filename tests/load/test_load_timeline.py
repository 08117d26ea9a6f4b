"""The per-second timeline of a run: spooled to disk so a soak's memory stays flat, read back exactly."""

from __future__ import annotations

import math
import tracemalloc

from assay.load.sink import MetricsSink
from assay.load.timeline import Timeline
from assay.results import TimeBucket


def _bucket(t: float) -> TimeBucket:
    return TimeBucket(
        t=t,
        metrics={
            "http_reqs": {"count": 500.0},
            "http_req_duration": {"count": 500.0, "avg": 1.25, "min": 0.1, "max": 9.5, "p(95)": 2.0 + t / 1e6},
            "vus": {"value": 4.0, "max": 9.0},
            "odd": {"min": math.inf, "max": -math.inf},
        },
        hdr={"http_req_duration": "HISTFAAAACl4nJNpmSzMwMDAxwABzFCaEUKzMID4AA"},
    )


def test_buckets_come_back_exactly_in_order() -> None:
    timeline = Timeline()
    made = [_bucket(1_800_000_000.0 + i) for i in range(5)]
    for b in made:
        timeline.append(b)
    assert len(timeline) == 5 and timeline.last is made[-1]
    back = timeline.to_list()
    assert back == made
    timeline.append(_bucket(1_800_000_005.0))  # appending after a read goes on at the end
    assert [b.t for b in timeline] == [1_800_000_000.0 + i for i in range(6)]
    timeline.close()


def test_a_soaks_buckets_keep_memory_flat() -> None:
    """Twenty minutes: as objects ~4 MB; spooled, only the newest bucket stays in memory."""
    timeline = Timeline()
    timeline.append(_bucket(0.0))
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(1, 1200):
            timeline.append(_bucket(float(i)))
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 64 * 1024, grown
    assert len(timeline.to_list()) == 1200
    timeline.close()


def test_the_sink_keeps_its_seconds_in_a_timeline() -> None:
    sink = MetricsSink()
    for second in range(3):
        sink.add("iterations", 1.0, {"scenario": "s"})
        sink.tick(float(second))
    seconds = sink.buckets.to_list()
    assert [b.t for b in seconds] == [0.0, 1.0, 2.0]
    assert all(b.metrics["iterations"]["count"] == 1.0 for b in seconds)
