"""`assay slo check --baseline <store> [--baseline-window]`: relative criteria against recorded runs."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from assay.cli.app import main
from assay.results import RunResult, utcnow
from assay.trends.store import open_store

SLO = """
comparison: {compare_with: several_results, number_of_comparison_results: 5, aggregate_function: avg}
total_score: {pass: 90, warning: 50}
objectives:
  - {sli: http_req_duration, aggregation: p(95), pass: ["<=+10%"], warning: ["<=+50%"]}
"""


def cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


def at(run: RunResult, days_ago: float) -> RunResult:
    when = utcnow() - timedelta(days=days_ago)
    run.started_at, run.finished_at = when - timedelta(seconds=run.duration_s), when
    return run


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_store_is_the_slo_baseline_within_a_window(
    backend: str, tmp_path: Path, run_factory: Callable[..., RunResult], capsys: pytest.CaptureFixture[str], request: pytest.FixtureRequest
) -> None:
    url = f"sqlite:///{tmp_path / 'trends.db'}" if backend == "sqlite" else request.getfixturevalue("pg_url")
    slo = tmp_path / "slo.yaml"
    slo.write_text(SLO)
    with open_store(url) as store, store.engine.begin() as conn:
        from sqlalchemy import text

        conn.execute(text("delete from trend_points"))
        conn.execute(text("delete from trend_runs"))
    # five nights judged and recorded by the gate itself (verdict PASS: they may serve as baselines)
    for night in range(5):
        path = at(run_factory(100, day=night, seed=night), days_ago=20 - night).save(tmp_path / f"n{night}.json")
        code, _, err = cli(["slo", "check", str(path), "--slo", str(slo), "--baseline", url, "--record"], capsys)
        assert code == 0 and "recorded run" in err
    slower = at(run_factory(130, day=9, seed=9), days_ago=0).save(tmp_path / "today.json")
    code, out, _ = cli(["slo", "check", str(slower), "--slo", str(slo), "--baseline", url, "-f", "json"], capsys)
    objective = json.loads(out)["evaluations"][0]["objectives"][0]
    assert code == 1 and objective["status"] == "WARNING" and objective["baseline_runs"] == 5
    assert 95 < objective["baseline"] < 160
    # the runs are 16-20 days old: a 7-day window has no baseline, so the relative criterion passes (Keptn's rule)
    code, out, _ = cli(["slo", "check", str(slower), "--slo", str(slo), "--baseline", url, "--baseline-window", "last 7 days", "-f", "json"], capsys)
    objective = json.loads(out)["evaluations"][0]["objectives"][0]
    assert code == 0 and objective["baseline_runs"] == 0
    code, out, _ = cli(["slo", "check", str(slower), "--slo", str(slo), "--baseline", url, "--baseline-window", "last 2 runs", "-f", "json"], capsys)
    assert json.loads(out)["evaluations"][0]["objectives"][0]["baseline_runs"] == 2


def test_baseline_window_needs_a_store(tmp_path: Path, run_factory: Callable[..., RunResult], capsys: pytest.CaptureFixture[str]) -> None:
    slo = tmp_path / "slo.yaml"
    slo.write_text(SLO)
    path = run_factory(100).save(tmp_path / "r.json")
    (tmp_path / "dir").mkdir()
    code, _, err = cli(["slo", "check", str(path), "--slo", str(slo), "--baseline", str(tmp_path / "dir"), "--baseline-window", "7d"], capsys)
    assert code == 64 and "--baseline-window needs a store baseline" in err
