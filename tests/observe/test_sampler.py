"""The sampler against real processes: known steps of memory and fds, a leaking process, a steady one."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from assay.errors import UsageError
from assay.observe.leak import judge
from assay.observe.sampler import Sampler, Target, parse_target, series_of
from assay.observe.watch import ResourceWatch
from assay.results import RunResult, utcnow

# Holds 0, then 50 MB, then 100 MB of touched memory, and 0 / 20 / 40 extra open files,
# advancing one step each time a line arrives on stdin, printing "ready N" after each.
STEPPER = """
import os, sys
held, files = [], []
print("ready 0", flush=True)
for step in (1, 2):
    sys.stdin.readline()
    held.append(bytearray(os.urandom(1) * (50 * 1024 * 1024)))
    files += [open(os.devnull) for _ in range(20)]
    print(f"ready {step}", flush=True)
sys.stdin.readline()
"""

# Grows by LEAK_KB every tick; the steady variant allocates and frees the same amount (a sawtooth).
LEAKER = """
import sys, time
leak, kb, tick, steady = [], int(sys.argv[1]), float(sys.argv[2]), sys.argv[3] == "steady"
print("ready", flush=True)
while True:
    chunk = bytearray(b"x" * (kb * 1024))
    if steady:
        leak.append(chunk)
        if len(leak) >= 8:
            leak.clear()
    else:
        leak.append(chunk)
    time.sleep(tick)
"""


def _start(code: str, *args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", code, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().startswith("ready")
    return proc


@pytest.fixture
def stepper() -> Iterator[subprocess.Popen[str]]:
    proc = _start(STEPPER)
    yield proc
    proc.kill()
    proc.wait()


def test_memory_and_fds_follow_known_steps(stepper: subprocess.Popen[str]) -> None:
    assert stepper.stdin is not None and stepper.stdout is not None
    sampler = Sampler([Target("stepper", pid=stepper.pid)], include_self=False)
    sampler.start()
    sampler.stop()  # manual readings only from here on
    readings: list[tuple[float, float, float]] = []
    for step in range(3):
        sampler.sample_once()
        store = sampler.series["stepper"]
        readings.append((store["proc_rss_bytes"].values[-1], store["proc_uss_bytes"].values[-1], store["proc_open_fds"].values[-1]))
        if step < 2:
            stepper.stdin.write("\n")
            stepper.stdin.flush()
            assert stepper.stdout.readline().strip() == f"ready {step + 1}"
    mib = 1024 * 1024
    for (rss0, uss0, fd0), (rss1, uss1, fd1) in zip(readings, readings[1:], strict=False):
        assert rss1 - rss0 == pytest.approx(50 * mib, rel=0.05)
        assert uss1 - uss0 == pytest.approx(50 * mib, rel=0.05)
        assert fd1 - fd0 == 20
    store = sampler.series["stepper"]
    assert store["proc_threads"].values[-1] == 1
    assert store["proc_children"].values[-1] == 0


def test_attach_makes_gauges_and_series(stepper: subprocess.Popen[str]) -> None:
    result = RunResult(name="t", started_at=utcnow())
    with Sampler([Target("stepper", pid=stepper.pid)], interval=0.2) as sampler:
        _wait_readings(sampler, "stepper", 3)
    sampler.attach(result)
    rss = result.metrics["proc_rss_bytes{proc:stepper}"]
    assert rss.type == "gauge" and rss.tags == {"proc": "stepper"} and rss.count >= 3
    assert result.metrics["proc_rss_bytes{proc:assay}"].value == pytest.approx(psutil.Process().memory_info().rss, rel=0.2)
    assert "proc_tcp_connections{proc:assay,state:ESTABLISHED}" in result.metrics
    times, values = series_of(result, "proc_open_fds{proc:stepper}")
    assert times and all(t > 1e9 for t in times)  # epoch seconds, as the load engine's buckets
    again = RunResult.from_json(result.to_json())
    assert again.metrics["proc_rss_bytes{proc:stepper}"].value == rss.value


def test_pattern_follows_a_process_by_command_line(stepper: subprocess.Popen[str], tmp_path: Path) -> None:
    marker = f"assay-observe-marker-{os.getpid()}"
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", marker])
    try:
        target = parse_target(f"marked=re:{marker}")
        assert target.pattern == marker and target.name == "marked"
        deadline = time.monotonic() + 5
        found = None
        while found is None and time.monotonic() < deadline:
            found = target.resolve()
        assert found is not None and found.pid == proc.pid
    finally:
        proc.kill()
        proc.wait()


def test_a_pattern_never_matches_the_command_that_names_it(tmp_path: Path) -> None:
    """`assay load run ... --sample NAME`: its own command line (and the shell's that ran it, and
    forked workers') holds NAME; a process that does not exist must be "not found", not assay."""
    marker = f"assay-absent-{os.getpid()}-{time.monotonic_ns()}"
    result_file = tmp_path / "r.json"
    script = (
        f"{sys.executable} -m assay load run http://127.0.0.1:9/ --duration 2s --workers 2 --quiet --no-thresholds "
        f"--sample {marker} --result {result_file}"
    )
    done = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=120)
    result = RunResult.from_json(result_file.read_text())
    assert not [m for m in result.metrics if marker in m], sorted(result.metrics)  # nothing sampled: no assay process matched
    assert f"note: sampler: {marker} was not found in" in done.stderr, done.stderr


def test_target_specs() -> None:
    assert parse_target("1234") == Target("1234", pid=1234)
    assert parse_target("db=99") == Target("db", pid=99)
    assert parse_target("courier", {"courier": 7}) == Target("courier", pid=7)
    assert parse_target("uvicorn").pattern == "uvicorn"
    with pytest.raises(UsageError, match="not a valid pattern"):
        parse_target("re:(")
    # a number is a PID: one no process can have is refused, not searched for in command lines
    for spec in ("x=-1", "0", "x=99999999999999999999", "+0"):
        with pytest.raises(UsageError, match="is no process id"):
            parse_target(spec)
    assert parse_target("re:-1").pattern == "-1"
    assert parse_target("x=²").pattern == "²"  # not a digit of a PID: a pattern like any other word
    with pytest.raises(UsageError, match="two targets"):
        Sampler([Target("a", pid=1), Target("a", pid=2)])


def test_a_vanished_process_is_noted_not_fatal() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    result = RunResult(started_at=utcnow())
    with Sampler([Target("gone", pid=proc.pid)], interval=0.1, include_self=False) as sampler:
        time.sleep(0.35)
    sampler.attach(result)
    assert any("gone was not found" in n for n in result.notes)


@pytest.mark.slow
def test_real_leak_found_and_steady_process_not_flagged() -> None:
    leaker = _start(LEAKER, "400", "0.1", "leak")  # 4 MB/s
    steady = _start(LEAKER, "400", "0.1", "steady")  # climbs 3.2 MB, frees, again
    try:
        watch = ResourceWatch(
            [f"leaker={leaker.pid}", f"steady={steady.pid}"],
            [("proc_rss_bytes{proc:leaker}", "slope<10MB/h"), ("proc_rss_bytes{proc:steady}", "growth<5%")],
            interval=0.25,
        )
        result = RunResult(started_at=utcnow())
        with watch:
            assert watch.sampler is not None
            _wait_readings(watch.sampler, "leaker", 24)
            _wait_readings(watch.sampler, "steady", 24)
        watch.finish(result)
    finally:
        for p in (leaker, steady):
            p.kill()
            p.wait()
    verdicts = {v["metric"]: v for v in result.extra["leaks"]}
    assert verdicts["proc_rss_bytes{proc:leaker}"]["verdict"] == "leak"
    assert verdicts["proc_rss_bytes{proc:steady}"]["verdict"] == "no leak"
    failed = {(m, t.source) for m, t in result.failed_thresholds()}
    assert failed == {("proc_rss_bytes{proc:leaker}", "slope<10MB/h")}
    assert result.status == "failed"
    # the same verdict from the raw series, with the slope's interval around the true 4 MB/s
    times, values = series_of(result, "proc_rss_bytes{proc:leaker}")
    assert times
    verdict = judge("x", *_per_reading(watch))
    assert verdict.slope_low_per_h is not None and verdict.slope_high_per_h is not None
    assert verdict.slope_low_per_h < 4096e3 * 3600 * 1.3 and verdict.slope_high_per_h > 4096e3 * 3600 * 0.7


def _wait_readings(sampler: Sampler, target: str, n: int, limit: float = 120.0) -> None:
    """Wait for n readings of a target (a loaded box stretches the sampler's clock; counts, not seconds)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        series = sampler.series[target].get("proc_rss_bytes")
        if series is not None and len(series.values) >= n:
            return
        time.sleep(0.1)
    pytest.fail(f"fewer than {n} readings of {target} in {limit:.0f}s")


def _per_reading(watch: ResourceWatch) -> tuple[list[float], list[float]]:
    assert watch.sampler is not None
    s = watch.sampler.series["leaker"]["proc_rss_bytes"]
    return s.times, s.values


def test_children_counted_recursively() -> None:
    # bash -> (sleep, bash -> sleep): three descendants
    proc = subprocess.Popen(["bash", "-c", "sleep 30 & bash -c 'sleep 30 & wait' & wait"])
    try:
        sampler = Sampler([Target("tree", pid=proc.pid)], include_self=False)
        sampler.start()
        sampler.stop()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            sampler.sample_once()
            if sampler.series["tree"]["proc_children"].values[-1] == 3:
                break
            time.sleep(0.1)
        assert sampler.series["tree"]["proc_children"].values[-1] == 3
    finally:
        for child in psutil.Process(proc.pid).children(recursive=True):
            child.kill()
        proc.kill()
        proc.wait()
