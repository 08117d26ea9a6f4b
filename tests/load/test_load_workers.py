"""Multi-worker runs: deterministic segments, exact merges of every metric and histogram."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from assay.load.backends import ProcessBackend
from assay.load.coordinator import run_load
from assay.load.executors import Segment
from assay.load.options import build_plan
from assay.load.quick import quick_scenario
from assay.load.sink import NCOLS, MetricsSink
from assay.results import RunResult, merge_results


@given(st.integers(min_value=0, max_value=10_000), st.integers(min_value=1, max_value=16))
def test_segments_split_integers_exactly(n: int, workers: int) -> None:
    shares = [Segment(i, workers).scale(n) for i in range(workers)]
    assert sum(shares) == n
    assert max(shares) - min(shares) <= 1
    offsets = [Segment(i, workers).offset(n) for i in range(workers)]
    assert offsets == [sum(shares[:i]) for i in range(workers)]


@given(st.integers(min_value=1, max_value=16), st.integers(min_value=0, max_value=5000))
def test_arrival_iterations_have_exactly_one_owner(workers: int, i: int) -> None:
    assert sum(Segment(w, workers).owns(i) for w in range(workers)) == 1


@given(st.integers(min_value=1, max_value=5000), st.integers(min_value=1, max_value=64), st.integers(min_value=1, max_value=16))
def test_shared_iterations_follow_the_vus_of_each_worker(iterations: int, vus: int, workers: int) -> None:
    """A worker's share of shared-iterations follows its share of the VUs: every iteration has a
    worker with VUs to run it (a worker without VUs used to get a share, and dropped it)."""
    shares = [Segment(w, workers).share_by(iterations, vus) for w in range(workers)]
    assert sum(count for _, count in shares) == iterations
    assert [offset for offset, _ in shares] == [sum(c for _, c in shares[:w]) for w in range(workers)]
    for w, (_, count) in enumerate(shares):
        if Segment(w, workers).scale(vus) == 0:
            assert count == 0


@given(st.integers(min_value=1, max_value=16), st.integers(min_value=1, max_value=40), st.integers(min_value=0, max_value=5000))
def test_arrival_iterations_go_only_to_workers_that_hold_vus(workers: int, max_vus: int, i: int) -> None:
    owners = []
    for w in range(workers):
        stripe = Segment(w, workers).stripe(max_vus)
        assert (stripe is None) == (Segment(w, workers).scale(max_vus) == 0)
        if stripe is not None and i >= stripe[0] and (i - stripe[0]) % stripe[1] == 0:
            owners.append(w)
    assert len(owners) == 1


def test_one_vu_on_two_workers_runs_every_iteration(target_url: str, tmp_path: Any) -> None:
    """1 VU with 2 workers (the default on two cores): shared-iterations and arrival-rate run all
    their iterations, as one k6 instance does; the worker without the VU drops nothing."""
    from assay.load.loaders import load_scenario

    for options, wanted in (
        ({"vus": 1, "iterations": 7}, 7),
        ({"scenarios": {"a": {"executor": "constant-arrival-rate", "rate": 20, "timeUnit": "1s", "duration": "1s", "preAllocatedVUs": 1, "maxVUs": 1}}}, 20),
    ):
        script = tmp_path / "one_vu.py"
        script.write_text(f"options = {options!r}\nasync def default(vu):\n    await vu.http.get({target_url + '/'!r})\n")
        loaded = load_scenario(script)
        result = run_load(loaded, build_plan(loaded), workers=2, backend=ProcessBackend())
        assert result.stat("iterations", "count") == wanted, options
        assert "dropped_iterations" not in result.metrics or result.stat("dropped_iterations", "count") == 0


def _sink_result(rows: np.ndarray, tags: dict[str, str]) -> RunResult:
    sink = MetricsSink()
    series = sink.new_http_series(("k", tuple(tags.items())), tags, False)
    series.buf.extend(rows.ravel().tolist())
    sink.tick(0.0)
    r = RunResult(duration_s=1.0)
    r.metrics = sink.to_metrics()
    return r


@given(st.lists(st.floats(min_value=0.0, max_value=5_000.0, allow_nan=False), min_size=2, max_size=200), st.data())
@settings(max_examples=15, deadline=None)
def test_merging_worker_results_equals_one_run(durations: list[float], data: st.DataObject) -> None:
    cut = data.draw(st.integers(min_value=1, max_value=len(durations) - 1))
    rows = np.zeros((len(durations), NCOLS))
    rows[:, 6] = durations
    rows[:, 7] = -1.0
    tags = {"scenario": "s", "name": "u", "method": "GET", "status": "200", "expected_response": "true"}
    whole = _sink_result(rows, tags)
    parts = [_sink_result(rows[:cut], tags), _sink_result(rows[cut:], tags)]
    merged = merge_results([RunResult.from_json(p.to_json()) for p in parts])
    for name in ("http_req_duration", "http_req_duration{name:u}", "http_reqs", "http_req_failed"):
        a, b = whole.metrics[name].seal(), merged.metrics[name].seal()
        assert (a.count, a.min, a.max, a.passes, a.fails) == (b.count, b.min, b.max, b.passes, b.fails)
        assert a.sum == b.sum or abs(a.sum - b.sum) < 1e-6
        assert a.hdr == b.hdr
        for key in ("med", "p(95)", "p(99)"):
            assert a.stat(key) == b.stat(key)


def test_two_worker_processes_merge_exactly(target_url: str) -> None:
    loaded = quick_scenario(target_url + "/", rate=60, duration="1s", vus=4)
    plan = build_plan(loaded, extra_thresholds={"http_req_duration": ["p(99)<5000"]})
    ticks: list[Any] = []
    result = run_load(loaded, plan, workers=2, backend=ProcessBackend(), on_progress=ticks.append)
    assert result.extra["workers"] == 2
    assert result.stat("iterations", "count") == 60
    assert result.metrics["http_req_duration"].count == 60
    assert result.metrics["http_req_duration"].thresholds[0].ok is True
    assert result.stat("vus_max", "value") == 4
    assert sum(b.metrics.get("http_reqs", {}).get("count", 0) for b in result.timeseries) == 60
    assert ticks and ticks[-1].requests == 60


BUSY_IN_TURN = """
import time

options = {
    "scenarios": {
        "turns": {"executor": "constant-arrival-rate", "rate": 10, "timeUnit": "1s", "duration": "4s",
                  "preAllocatedVUs": 10, "maxVUs": 10, "gracefulStop": "3s"},
    },
}
T0 = []


async def default(vu):
    # worker 0 holds VUs 1-5, worker 1 VUs 6-10: the first is busy in second 0 (till 1.9 s),
    # the second from 2.2 s on; otherwise iterations end at once
    if not T0:
        T0.append(time.monotonic())
    t = time.monotonic() - T0[0]
    if (t < 1.0) if vu.id <= 5 else (t >= 2.2):
        await vu.sleep(0.9)
"""


def test_vus_of_workers_add_up_per_second_not_per_maximum(tmp_path: Any) -> None:
    """Workers busy in turn: each peaks at 5 VUs, never at the same time. The run's `vus`
    max is the most VUs busy in one second across workers (k6 samples `vus` every second),
    not the sum of the workers' maxima; `vus_max` (VUs initialised, k6's meaning) adds up."""
    from assay.load.loaders import load_scenario

    script = tmp_path / "turns.py"
    script.write_text(BUSY_IN_TURN)
    loaded = load_scenario(str(script))
    result = run_load(loaded, build_plan(loaded), workers=2, backend=ProcessBackend())
    assert result.stat("vus_max", "value") == 10
    vus = result.metrics["vus"]
    assert vus.max is not None and 5 <= vus.max <= 7  # one worker's 5, plus the other's 0-2 short iterations
    per_second = [b.metrics["vus"]["max"] for b in result.timeseries if "vus" in b.metrics]
    assert max(per_second) == vus.max
