"""The live trend exporter: `assay trend export prometheus --port` serves the store's verdicts to a scrape."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from assay.harness.ports import free_port
from assay.results import RunResult
from assay.trends.exporter import StoreCollector
from assay.trends.store import TrendStore, open_store


def _scrape(port: int, deadline: float = 60.0) -> dict[tuple[str, str], float]:
    end = time.monotonic() + deadline
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as r:
                body = r.read().decode()
            break
        except OSError:
            if time.monotonic() > end:
                raise
            time.sleep(0.2)
    return {
        (s.name, s.labels.get("metric", "") + " " + s.labels.get("aggregation", "")): s.value
        for f in text_string_to_metric_families(body)
        for s in f.samples
    }


@pytest.mark.slow
def test_live_exporter_follows_the_store_and_flags_a_regression(tmp_path: Path, run_factory: Callable[..., RunResult]) -> None:
    url = f"sqlite:///{tmp_path / 't.db'}"
    with open_store(url) as store:
        for day in range(20):
            store.record(run_factory(100, day=day, seed=day))
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "assay", "trend", "export", "prometheus", "http_req_duration p(95)", "--port", str(port), "--store", url],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        before = _scrape(port)
        assert before[("assay_trend_runs", "http_req_duration p(95)")] == 20
        assert before[("assay_trend_regression", "http_req_duration p(95)")] == 0
        with open_store(url) as store:  # three slow nights arrive while the exporter runs
            for day in range(20, 23):
                store.record(run_factory(200, day=day, seed=day))
        after = _scrape(port)
        assert after[("assay_trend_runs", "http_req_duration p(95)")] == 23
        assert after[("assay_trend_regression", "http_req_duration p(95)")] == 1
        assert after[("assay_trend_value", "http_req_duration p(95)")] > 1.5 * before[("assay_trend_value", "http_req_duration p(95)")]
        assert after[("assay_trend_exporter_errors", " ")] == 0
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "serving trend metrics" in err


def test_collector_analyses_again_only_when_the_store_changed(store: TrendStore, run_factory: Callable[..., RunResult]) -> None:
    for day in range(12):
        store.record(run_factory(100, day=day))
    calls: list[int] = []

    def analyse(s: TrendStore) -> list[object]:
        from assay.trends.analyze import analyze

        calls.append(1)
        return analyze(s).outcomes  # type: ignore[return-value]

    collector = StoreCollector(store, analyse)  # type: ignore[arg-type]
    names = {f.name for f in collector.collect()}
    list(collector.collect())
    assert len(calls) == 1 and {"assay_trend_value", "assay_trend_regression", "assay_trend_runs"} <= names
    store.record(run_factory(100, day=12))
    list(collector.collect())
    assert len(calls) == 2
    store.retain(keep_runs=5)
    values = {s.labels["metric"]: s.value for f in collector.collect() if f.name == "assay_trend_runs" for s in f.samples}
    assert len(calls) == 3 and values["http_req_duration"] == 5


def test_port_and_output_together_are_a_usage_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "assay", "trend", "export", "prometheus", "--port", "1", "-o", str(tmp_path / "x.prom"),
         "--store", f"sqlite:///{tmp_path / 't.db'}"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 64 and "choose one" in done.stderr
