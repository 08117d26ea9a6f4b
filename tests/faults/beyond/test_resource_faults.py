"""Resource faults with the real stress-ng, a real leaking process and real files; SIGKILL of the owner."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
from fault_helpers import sigkill, start_owner, wait_until

from assay.config import ConfigError
from assay.faults import detached, injector
from assay.faults.model import FaultError

needs_stress_ng = pytest.mark.skipif(shutil.which("stress-ng") is None, reason="stress-ng is not installed")


def _group(pgid: int) -> list[psutil.Process]:
    out = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if os.getpgid(proc.pid) == pgid and proc.status() != psutil.STATUS_ZOMBIE:
                out.append(proc)
        except (ProcessLookupError, psutil.NoSuchProcess):
            pass
    return out


def _cpu_seconds(procs: list[psutil.Process]) -> float:
    total = 0.0
    for proc in procs:
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


@needs_stress_ng
def test_cpu_workers_burn_cpu_and_are_gone_after_revert() -> None:
    with injector.inject("stress.cpu", duration=30, workers=2, load=50) as fault:
        pgid = fault.record["pgid"]
        assert wait_until(lambda: len(_group(pgid)) >= 3, 30)  # the leader and two workers
        assert wait_until(lambda: _cpu_seconds(_group(pgid)) > 0.1, 30)
    assert wait_until(lambda: not _group(pgid), 30)


@needs_stress_ng
def test_memory_is_held_resident() -> None:
    with injector.inject("stress.memory", duration=30, size="64MiB") as fault:
        pgid = fault.record["pgid"]

        def resident() -> int:
            return sum(p.memory_info().rss for p in _group(pgid))

        assert wait_until(lambda: resident() >= 60 * 2**20, 30)
    assert wait_until(lambda: not _group(pgid), 30)


def test_slow_leak_has_the_slope_a_detector_finds() -> None:
    rate_per_min = 600 * 10**6  # 10 MB/s, so two seconds show it
    with injector.inject("memory.leak", duration=30, rate=str(rate_per_min), limit="200MB") as fault:
        proc = psutil.Process(fault.record["pid"])
        time.sleep(0.3)
        samples = []
        t0 = time.monotonic()
        while time.monotonic() - t0 < 2.0:
            samples.append((time.monotonic() - t0, proc.memory_info().rss))
            time.sleep(0.1)
    slope = np.polyfit([s[0] for s in samples], [s[1] for s in samples], 1)[0]  # bytes per second
    assert 0.6 * rate_per_min / 60 < slope < 1.4 * rate_per_min / 60
    assert not detached.group_alive(fault.record)


@needs_stress_ng
def test_io_pressure_writes_in_the_path_and_cleans_up(tmp_path: Path) -> None:
    tmp_path = tmp_path / "io"
    tmp_path.mkdir()
    with injector.inject("stress.io", duration=30, path=str(tmp_path), size="8MB") as fault:
        pgid = fault.record["pgid"]

        def written() -> int:
            return sum(p.io_counters().write_bytes for p in _group(pgid))

        assert wait_until(lambda: written() > 0 or any(tmp_path.iterdir()), 30)
    assert wait_until(lambda: not _group(pgid), 30)
    assert wait_until(lambda: not any(tmp_path.iterdir()), 30), list(tmp_path.iterdir())


def test_disk_fill_by_size_and_by_share_of_free_space(tmp_path: Path) -> None:
    with injector.inject("disk.fill", duration=30, path=str(tmp_path), size="20MiB") as fault:
        path = Path(fault.record["file"])
        assert path.stat().st_blocks * 512 >= 20 * 2**20
    assert not path.exists()
    free = shutil.disk_usage(tmp_path).free
    with injector.inject("disk.fill", duration=30, path=str(tmp_path), size="0.01%") as fault:
        assert abs(fault.record["bytes"] - free * 0.0001) < free * 0.00002
        assert Path(fault.record["file"]).exists()
    assert not Path(fault.record["file"]).exists()


def test_bad_resource_parameters_are_located(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="size.*expected a size"):
        injector.inject("disk.fill", duration=1, path=str(tmp_path), size="12 parsecs")
    with pytest.raises(ConfigError, match="path"):
        injector.inject("disk.fill", duration=1)
    with pytest.raises(FaultError, match="more than"):
        injector.inject("disk.fill", duration=1, path=str(tmp_path), size="1000TB")
    with pytest.raises(ConfigError, match="load"):
        injector.inject("stress.cpu", duration=1, load=150)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(FaultError, match="stress-ng is not installed"):
        injector.inject("stress.cpu", duration=1)


@needs_stress_ng
def test_sigkill_owner_mid_stress_kills_the_workers() -> None:
    owner, fault_id = start_owner("stress.cpu", "", "30s", {"workers": 1, "load": 20})
    pgid = injector.active()[0]["record"]["pgid"]
    assert wait_until(lambda: len(_group(pgid)) >= 2, 30)
    sigkill(owner)
    assert wait_until(lambda: not _group(pgid), 30)
    assert wait_until(lambda: injector.active() == [], 30)


def test_sigkill_owner_mid_disk_fill_removes_the_file(tmp_path: Path) -> None:
    owner, _ = start_owner("disk.fill", "", "30s", {"path": str(tmp_path), "size": "1MiB"})
    filled = Path(injector.active()[0]["record"]["file"])
    assert filled.exists()
    sigkill(owner)
    assert wait_until(lambda: not filled.exists(), 30)
