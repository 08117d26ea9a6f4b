"""Each executor's schedule against a real server: iteration counts, VUs and timing within tolerance."""

from __future__ import annotations

import time
from typing import Any

import pytest

from assay.load.coordinator import run_load
from assay.load.executors import Segment
from assay.load.executors.ramping_arrival_rate import RampingArrivalRate
from assay.load.options import build_plan, parse_scenario
from assay.load.scenario import LoadedScenario, ScenarioError
from assay.results import RunResult


def run(options: dict[str, Any], fns: dict[str, Any], workers: int = 1) -> RunResult:
    loaded = LoadedScenario(source="test.py", format="python", options=options, functions=fns)
    return run_load(loaded, build_plan(loaded), workers=workers)


def recorder(url: str, log: list[tuple[float, int, int]], sleep: float = 0.0) -> Any:
    async def default(vu: Any) -> None:
        log.append((time.perf_counter(), vu.id, vu.iteration))
        res = await vu.http.get(url)
        assert res.status == 200
        if sleep:
            await vu.sleep(sleep)

    return default


def count(result: RunResult, name: str) -> float:
    return result.stat(name, "count") or 0.0


def test_shared_iterations_runs_exactly_n_spread_over_vus(target_url: str) -> None:
    log: list[tuple[float, int, int]] = []
    r = run({"scenarios": {"s": {"executor": "shared-iterations", "vus": 4, "iterations": 40}}}, {"default": recorder(target_url + "/", log)})
    assert count(r, "iterations") == 40 == len(log)
    assert count(r, "http_reqs") == 40
    assert {vu for _, vu, _ in log} == {1, 2, 3, 4}
    assert r.stat("vus_max", "value") == 4


def test_per_vu_iterations_each_vu_runs_its_own(target_url: str) -> None:
    log: list[tuple[float, int, int]] = []
    r = run({"scenarios": {"p": {"executor": "per-vu-iterations", "vus": 3, "iterations": 5}}}, {"default": recorder(target_url + "/", log)})
    assert count(r, "iterations") == 15
    per_vu: dict[int, int] = {}
    for _, vu, _ in log:
        per_vu[vu] = per_vu.get(vu, 0) + 1
    assert per_vu == {1: 5, 2: 5, 3: 5}


def test_max_duration_drops_the_rest(target_url: str) -> None:
    log: list[tuple[float, int, int]] = []
    r = run(
        {"scenarios": {"s": {"executor": "shared-iterations", "vus": 1, "iterations": 1000, "maxDuration": "1s", "gracefulStop": "0s"}}},
        {"default": recorder(target_url + "/delay/100", log)},
    )
    done = count(r, "iterations")
    assert 5 <= done <= 11
    assert count(r, "dropped_iterations") + done + 1 >= 1000 >= count(r, "dropped_iterations") + done - 1


def test_constant_vus_keeps_vus_busy_for_the_duration(target_url: str) -> None:
    log: list[tuple[float, int, int]] = []
    t0 = time.perf_counter()
    r = run({"vus": 5, "duration": "1.5s"}, {"default": recorder(target_url + "/", log, sleep=0.05)})
    elapsed = time.perf_counter() - t0
    assert 1.4 <= r.duration_s <= 2.5 and elapsed < 4.0
    assert {vu for _, vu, _ in log} == set(range(1, 6))
    # ~20 iterations per VU per second with a 50 ms sleep; allow a wide margin for a shared CI box
    assert 5 * 1.5 * 8 <= count(r, "iterations") <= 5 * 1.5 * 21
    assert max(t for t, _, _ in log) - t0 <= 2.5


def test_ramping_vus_follows_stages(target_url: str) -> None:
    log: list[tuple[float, int, int]] = []
    options = {"scenarios": {"r": {"executor": "ramping-vus", "startVUs": 0, "gracefulRampDown": "0s",
                                   "stages": [{"duration": "1s", "target": 6}, {"duration": "1s", "target": 6}, {"duration": "0.5s", "target": 0}]}}}
    r = run(options, {"default": recorder(target_url + "/", log, sleep=0.05)})
    t0 = min(t for t, _, _ in log)
    early = {vu for t, vu, _ in log if t - t0 < 0.3}
    middle = {vu for t, vu, _ in log if 1.2 < t - t0 < 1.8}
    assert len(early) <= 3
    assert middle == set(range(1, 7))
    assert r.stat("vus_max", "value") == 6
    assert max(t for t, _, _ in log) - t0 <= 2.7


def test_constant_arrival_rate_schedule(target_url: str) -> None:
    log: list[tuple[float, int, int]] = []
    options = {"scenarios": {"c": {"executor": "constant-arrival-rate", "rate": 40, "timeUnit": "1s", "duration": "1.5s",
                                   "preAllocatedVUs": 5, "maxVUs": 20}}}
    r = run(options, {"default": recorder(target_url + "/", log)})
    assert count(r, "iterations") == 60
    starts = sorted(t for t, _, _ in log)
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert sum(gaps) / len(gaps) == pytest.approx(1 / 40, rel=0.15)
    assert (r.stat("dropped_iterations", "count") or 0) == 0
    # the corrected latency is reported for open-model scenarios and is never below the measured one
    assert count(r, "http_req_corrected_duration") == 60
    assert r.stat("http_req_corrected_duration", "max") >= r.stat("http_req_duration", "max")


def test_arrival_rate_without_free_vus_drops_iterations(target_url: str) -> None:
    log: list[tuple[float, int, int]] = []
    options = {"scenarios": {"c": {"executor": "constant-arrival-rate", "rate": 20, "duration": "1s", "preAllocatedVUs": 1,
                                   "gracefulStop": "1s"}}}
    r = run(options, {"default": recorder(target_url + "/delay/200", log)})
    done = count(r, "iterations")
    dropped = count(r, "dropped_iterations")
    assert 4 <= done <= 6
    assert done + dropped == 20


def test_ramping_arrival_rate_integrates_the_rate(target_url: str) -> None:
    log: list[tuple[float, int, int]] = []
    options = {"scenarios": {"ra": {"executor": "ramping-arrival-rate", "startRate": 0, "preAllocatedVUs": 10,
                                    "stages": [{"duration": "1s", "target": 60}, {"duration": "1s", "target": 60}]}}}
    r = run(options, {"default": recorder(target_url + "/", log)})
    assert count(r, "iterations") == 90  # 30 while ramping 0->60/s, then 60
    starts = sorted(t for t, _, _ in log)
    first_half = [t for t in starts if t - starts[0] < 1.0]
    assert 25 <= len(first_half) <= 35


def test_ramping_arrival_rate_times_are_exact() -> None:
    cfg = parse_scenario("x", {"executor": "ramping-arrival-rate", "startRate": 10, "timeUnit": "1s", "preAllocatedVUs": 1,
                               "stages": [{"duration": "2s", "target": 30}, {"duration": "1s", "target": 0}]}, "t")
    ex = RampingArrivalRate(cfg, Segment())
    times = [ex.time_of(i) for i in range(100)]
    planned = [t for t in times if t is not None]
    assert len(planned) == 55  # (10+30)/2*2 + 30/2*1
    assert planned == sorted(planned) and planned[0] == 0.0
    assert ex.rate_at(1.0) == pytest.approx(20.0)


def test_start_time_delays_a_scenario_and_graceful_stop_interrupts(target_url: str) -> None:
    log_a: list[tuple[float, int, int]] = []
    log_b: list[tuple[float, int, int]] = []
    slow: list[float] = []

    async def long_iteration(vu: Any) -> None:
        await vu.http.get(target_url + "/delay/3000")
        slow.append(time.perf_counter())

    options = {"scenarios": {
        "a": {"executor": "constant-vus", "vus": 1, "duration": "1s", "exec": "a"},
        "b": {"executor": "per-vu-iterations", "vus": 1, "iterations": 2, "startTime": "0.7s", "exec": "b"},
        "c": {"executor": "constant-vus", "vus": 1, "duration": "1s", "gracefulStop": "0.3s", "exec": "c"},
    }}
    t0 = time.perf_counter()
    r = run(options, {"a": recorder(target_url + "/", log_a, 0.05), "b": recorder(target_url + "/", log_b), "c": long_iteration})
    assert min(t for t, _, _ in log_b) - t0 >= 0.65
    assert slow == []  # interrupted after gracefulStop, never completed
    assert time.perf_counter() - t0 < 3.0
    assert count(r, "iterations{scenario:b}") == 2
    assert "iterations{scenario:c}" not in r.metrics or count(r, "iterations{scenario:c}") == 0


def test_exceptions_are_counted_and_the_run_continues(target_url: str) -> None:
    async def flaky(vu: Any) -> None:
        await vu.http.get(target_url + "/")
        if vu.iteration % 2 == 0:
            raise RuntimeError(f"bad {vu.iteration % 4}")

    r = run({"scenarios": {"s": {"executor": "per-vu-iterations", "vus": 2, "iterations": 4}}}, {"default": flaky})
    assert count(r, "iterations") == 8
    assert sum(r.extra["errors"].values()) == 4
    assert set(r.extra["error_samples"]) == {"s: RuntimeError: bad 0", "s: RuntimeError: bad 2"}


def test_unknown_executor_and_options_are_located_errors() -> None:
    with pytest.raises(ScenarioError, match=r"scenarios\.x\.executor: unknown executor 'constant-vu'; did you mean 'constant-vus'"):
        parse_scenario("x", {"executor": "constant-vu"}, "f.py: scenarios.x")
    with pytest.raises(ScenarioError, match=r"unknown option 'vu' .*did you mean 'vus'"):
        parse_scenario("x", {"executor": "constant-vus", "vu": 3, "duration": "1s"}, "f.py: scenarios.x")
    with pytest.raises(ScenarioError, match=r"duration: 'ten' is not a duration"):
        parse_scenario("x", {"executor": "constant-vus", "duration": "ten"}, "f.py: scenarios.x")
    with pytest.raises(ScenarioError, match=r"maxVUs \(2\) must be at least preAllocatedVUs \(5\)"):
        parse_scenario("x", {"executor": "constant-arrival-rate", "rate": 1, "duration": "1s", "preAllocatedVUs": 5, "maxVUs": 2}, "w")
