"""The Ray backend: workers as actors on a local Ray instance, merged exactly, thresholds across workers.

A local Ray instance takes seconds to start on a loaded box, so one is shared by the module
(RayBackend leaves a Ray it did not start running); the CLI tests start and stop their own.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assay.load.backends import InProcessBackend, ProcessBackend
from assay.load.coordinator import run_load
from assay.load.loaders import load_scenario
from assay.load.options import build_plan
from assay.load.quick import quick_scenario
from assay.load.ray_backend import RayBackend, RayOptions
from assay.results import RunStatus

SCENARIOS = Path(__file__).resolve().parent / "ray_scenarios"


def _ray() -> Any:
    """Ray, or skip: it is the optional extra assay[ray] (make install puts it in dev, so CI has it)."""
    return pytest.importorskip("ray", reason="Ray is the optional extra assay[ray] (make install installs it)")


@pytest.fixture
def ray_installed() -> None:
    _ray()


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray = _ray()
    ray.init(address="local", num_cpus=2, num_gpus=0, object_store_memory=80 * 1024 * 1024, include_dashboard=False, logging_level="WARNING")
    try:
        yield
    finally:
        ray.shutdown()


@pytest.mark.slow
def test_counts_and_arrival_rates_match_the_process_backend(local_ray: None, target_url: str) -> None:
    for kwargs, expected in (({"rate": 50, "duration": "2s", "vus": 4}, 100), ({"iterations": 37, "vus": 4}, 37)):
        loaded = quick_scenario(target_url + "/", **kwargs)
        plan = build_plan(loaded)
        by_ray = run_load(loaded, plan, workers=2, backend=RayBackend())
        by_processes = run_load(loaded, plan, workers=2, backend=ProcessBackend())
        for result in (by_ray, by_processes):
            assert result.extra["workers"] == 2
            assert result.stat("iterations", "count") == expected
            assert result.metrics["http_reqs"].count == expected
            assert sum(b.metrics.get("http_reqs", {}).get("count", 0) for b in result.timeseries) == expected
        assert by_ray.status is RunStatus.PASSED
        if "rate" in kwargs:  # the arrival rate holds across the two actors as across two processes
            rates = [r.stat("iterations", "rate") for r in (by_ray, by_processes)]
            assert all(40 <= rate <= 60 for rate in rates), rates


@pytest.mark.slow
def test_merged_percentiles_equal_one_process_of_the_same_samples(local_ray: None) -> None:
    loaded = load_scenario(str(SCENARIOS / "samples.py"))
    plan = build_plan(loaded)
    progress: list[Any] = []
    backend = RayBackend()
    merged = run_load(loaded, plan, workers=2, backend=backend, on_progress=progress.append)
    single = run_load(loaded, plan, workers=1, backend=InProcessBackend(loaded))
    a, b = merged.metrics["recorded_ms"].seal(), single.metrics["recorded_ms"].seal()
    assert a.count == b.count == 600
    assert (a.min, a.max) == (b.min, b.max)
    assert abs(a.sum - b.sum) < 1e-6
    assert a.hdr == b.hdr  # the same histogram, bucket for bucket
    for stat in ("med", "p(90)", "p(95)", "p(99)", "p(99.9)"):
        assert a.stat(stat) == b.stat(stat)
    assert merged.metrics["recorded_ms"].thresholds[0].ok is True
    # both actors ran on the (one) local node, and progress said so
    assert {w["pid"] for w in backend.workers} and len({w["pid"] for w in backend.workers}) == 2
    assert progress and list(progress[-1].per_node) == [backend.workers[0]["host"]]
    assert backend.bytes_received > 0


@pytest.mark.slow
def test_a_killed_worker_is_reported_and_the_rest_kept(local_ray: None, target_url: str) -> None:
    loaded = load_scenario(str(SCENARIOS / "steady.py"), env={"BASE": target_url})
    plan = build_plan(loaded)
    backend = RayBackend(RayOptions(on_worker_loss="continue"))
    killed: list[float] = []

    def kill_worker_1(p: Any) -> None:
        if p.elapsed >= 3.0 and not killed:
            killed.append(p.elapsed)
            os.kill(int(backend.workers[1]["pid"]), signal.SIGKILL)

    result = run_load(loaded, plan, workers=2, env={"BASE": target_url}, backend=backend, on_progress=kill_worker_1)
    assert killed
    lost = result.extra["lost_workers"]
    assert [w["worker"] for w in lost] == [1]
    assert lost[0]["node"] == backend.workers[1]["host"]
    assert killed[0] - 0.5 <= lost[0]["elapsed"] <= killed[0] + 3.0
    assert lost[0]["data_kept"] is True
    assert any(n.startswith("worker lost: worker 1 on node") for n in result.notes)
    # worker 0 ran its whole half (160 iterations); worker 1's data up to its last snapshot is included
    iterations = result.stat("iterations", "count")
    assert 160 + 20 <= iterations < 320, iterations
    assert result.metrics["http_reqs"].count == iterations
    assert not result.extra["errors"]  # the run's environment (BASE) reached the actors
    assert result.status is RunStatus.WARNING
    assert result.duration_s >= 7.5  # worker 0 went on to the scenario's end (8 s)


@pytest.mark.slow
def test_losing_a_worker_aborts_the_run_when_asked(local_ray: None, target_url: str) -> None:
    loaded = load_scenario(str(SCENARIOS / "steady.py"), env={"BASE": target_url})
    backend = RayBackend(RayOptions(on_worker_loss="abort"))
    killed: list[float] = []

    def kill_worker_0(p: Any) -> None:
        if p.elapsed >= 2.0 and not killed:
            killed.append(p.elapsed)
            os.kill(int(backend.workers[0]["pid"]), signal.SIGKILL)

    result = run_load(loaded, build_plan(loaded), workers=2, env={"BASE": target_url}, backend=backend, on_progress=kill_worker_0)
    assert result.duration_s < 7.0  # worker 0 stopped too, well before the scenario's 8 s
    assert result.status is RunStatus.ABORTED
    assert [w["worker"] for w in result.extra["lost_workers"]] == [0]
    assert any("--on-worker-loss abort" in n for n in result.notes)
    assert 0 < result.stat("iterations", "count") < 320


def _cli(*args: str, env: dict[str, str] | None = None, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "assay", *args], capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}
    )


@pytest.mark.slow
def test_a_threshold_crossed_only_in_aggregate_aborts_every_worker(ray_installed: None, target_url: str, tmp_path: Path) -> None:
    """Each worker stays below `count<450` by construction (at most 400 iterations); the whole
    passes it mid-run: the coordinator's live evaluation on the merged snapshots stops both."""
    out = tmp_path / "r.json"
    proc = _cli("load", "run", str(SCENARIOS / "aggregate_only.py"), "--backend", "ray", "--workers", "2", "--result", str(out), "-q",
                env={"BASE": target_url})
    assert proc.returncode == 99, proc.stderr[-3000:]
    from assay.results import RunResult

    result = RunResult.from_json(out.read_text())
    assert result.extra["aborted_by_threshold"] == ["iterations: count<450"]
    assert 450 <= result.stat("iterations", "count") < 800
    # stopped before the schedule's end, told by the schedule, not the clock (a loaded box stretches
    # the wall time of the stop): every iteration of the 8 s schedule is either started or dropped
    dropped = result.stat("dropped_iterations", "count") or 0
    assert result.stat("iterations", "count") + dropped < 760  # the whole schedule is 800
    assert "threshold crossed: iterations: count<450" in proc.stderr


def test_backend_ray_without_ray_says_how_to_install(tmp_path: Path) -> None:
    blocker = tmp_path / "noray"
    blocker.mkdir()
    (blocker / "ray.py").write_text("raise ImportError('No module named ray')\n")
    proc = _cli("load", "run", "http://127.0.0.1:9/", "--backend", "ray", "--iterations", "1",
                env={"PYTHONPATH": str(blocker)}, timeout=60)
    assert proc.returncode == 64, proc.stderr
    assert "pip install 'assay[ray]'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unknown_placement_and_loss_policy_are_usage_errors() -> None:
    from assay.errors import UsageError

    with pytest.raises(UsageError, match="--ray-placement: expected one of spread, pack"):
        RayOptions(placement="everywhere")
    with pytest.raises(UsageError, match="--on-worker-loss: expected one of continue, abort"):
        RayOptions(on_worker_loss="retry")


@pytest.mark.slow
def test_the_coordinator_stops_every_actor_at_once(local_ray: None, target_url: str) -> None:
    """Ctrl-C (or any stop) reaches both actors: a 60 s test ends within seconds, results kept."""
    loaded = quick_scenario(target_url + "/", rate=40, duration="60s", vus=4)
    plan = build_plan(loaded)
    stop = threading.Event()
    threading.Timer(3.0, stop.set).start()
    result = run_load(loaded, plan, workers=2, backend=RayBackend(), stop=stop)
    assert result.duration_s < 15
    assert result.status is RunStatus.ABORTED
    assert 40 <= result.stat("iterations", "count") < 400


SHIPPED = '''
import os
from pathlib import Path

WORDS = (Path(__file__).parent / "words.txt").read_text().split()
options = {"vus": 2, "iterations": 20}


async def default(vu):
    res = await vu.http.get(os.environ["BASE"] + "/")
    vu.check(res, {
        "ran from the copy Ray shipped": lambda r: "runtime_resources" in __file__,
        "read its data file": lambda r: WORDS == ["alpha", "beta"],
    })
'''


@pytest.mark.slow
def test_a_cluster_address_gets_the_scenario_and_its_data_shipped(ray_installed: None, target_url: str, tmp_path: Path) -> None:
    """A Ray head started apart (as a cluster is): the workers run the copy of the scenario's
    folder Ray shipped to them (runtime_env working_dir), data file included."""
    from assay.harness.ports import free_port

    (tmp_path / "shipped.py").write_text(SHIPPED)
    (tmp_path / "words.txt").write_text("alpha beta\n")
    port = free_port()
    head = subprocess.Popen(
        [str(Path(sys.executable).parent / "ray"), "start", "--head", "--block", f"--port={port}", "--node-ip-address=127.0.0.1",
         "--num-cpus=2", "--object-store-memory=80000000", "--include-dashboard=false", "--disable-usage-stats"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        proc = None
        for _ in range(3):  # the head takes a while to accept clients on a loaded box
            time.sleep(10)
            proc = _cli("load", "run", str(tmp_path / "shipped.py"), "--backend", "ray", "--ray-address", f"127.0.0.1:{port}",
                        "--workers", "2", "--result", str(tmp_path / "r.json"), env={"BASE": target_url})
            if proc.returncode != 64 or "cannot start or reach" not in proc.stderr:
                break
        assert proc is not None and proc.returncode == 0, proc.stderr[-3000:]
        assert "✓ ran from the copy Ray shipped" in proc.stdout
        assert "✓ read its data file" in proc.stdout
    finally:
        os.killpg(head.pid, signal.SIGTERM)  # the head drains, then stops what it started
        try:
            head.wait(timeout=45)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(head.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_backend_options_are_checked_before_any_traffic(run_cli: Any) -> None:
    code, _, err = run_cli("load", "run", "http://127.0.0.1:9/", "--backend", "bogus", "-i", "1")
    assert code == 64 and "--backend: expected process or ray, got 'bogus'" in err
    code, _, err = run_cli("load", "run", "http://127.0.0.1:9/", "--ray-address", "127.0.0.1:1", "-i", "1")
    assert code == 64 and "--ray-address needs --backend ray" in err


def test_an_unreachable_or_malformed_cluster_address_is_a_usage_error_at_once(ray_installed: None, tmp_path: Path) -> None:
    """Ray itself retries an unreachable GCS for a minute or more; assay answers before that."""
    from assay.harness.ports import free_port

    for address, expected in (
        (f"127.0.0.1:{free_port()}", "cannot reach the Ray cluster at 127.0.0.1:"),
        ("headnode", "--ray-address 'headnode': expected HOST:PORT"),
    ):
        proc = _cli("load", "run", "http://127.0.0.1:9/", "--backend", "ray", "--ray-address", address, "-i", "1", timeout=60)
        assert proc.returncode == 64 and expected in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    proc = _cli("load", "run", "http://127.0.0.1:9/", "--backend", "ray", "-i", "1", env={"RAY_ADDRESS": f"127.0.0.1:{free_port()}"}, timeout=60)
    assert proc.returncode == 64 and "cannot reach the Ray cluster" in proc.stderr, proc.stderr


def test_the_ray_backend_imports_only_public_names_of_other_modules() -> None:
    """It shares the process backend's SIGTERM handling through a public name (backends.trap_sigterm)."""
    import ast

    import assay.load.ray_backend as ray_backend

    tree = ast.parse(Path(ray_backend.__file__).read_text())
    private = [f"{n.module}.{a.name}" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
               for a in n.names if a.name.startswith("_") and not a.name.startswith("__")]
    assert private == []
    assert any(isinstance(n, ast.ImportFrom) and n.module == "assay.load.backends" for n in ast.walk(tree))
