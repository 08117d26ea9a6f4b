"""`assay trend combine`: stored runs combined into one result from their histograms, exactly."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from assay.cli.app import main
from assay.formats import load_result
from assay.results import RunResult, combine_results
from assay.trends.store import open_store


def cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


def test_combine_a_day_of_runs_is_the_exact_merge_of_their_histograms(
    tmp_path: Path, run_factory: Callable[..., RunResult], capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'trends.db'}"
    runs = []
    with open_store(url) as store:
        for day in range(4):
            for hour in (0, 8, 16):  # three runs a day
                run = run_factory(100 + 20 * day, day=day, seed=day * 10 + hour, samples=300)
                run.started_at += timedelta(hours=hour)  # type: ignore[operator]
                run.finished_at += timedelta(hours=hour)  # type: ignore[operator]
                store.record(run)
                runs.append((day, run))
        other = run_factory(500, day=2, labels={"scenario": "other"})
        store.record(other)
    out = tmp_path / "tuesday.json"
    # day 1 is 2026-03-03; a bare --until date includes its whole day
    code, _, err = cli(["trend", "combine", "--store", url, "--scenario", "nightly", "--since", "2026-03-03", "--until", "2026-03-03", "-o", str(out)], capsys)
    assert code == 0, err
    assert "combined 3 run(s) of nightly" in err
    combined = load_result(out)
    expected = combine_results([r for day, r in runs if day == 1])
    for name in ("http_req_duration", "http_req_duration{name:create}"):
        for agg in ("p(99.9)", "p(50)", "max", "count"):
            assert combined.metrics[name].stat(agg) == expected.metrics[name].stat(agg), (name, agg)
    assert combined.metrics["http_reqs"].count == 900
    with open_store(url) as store:
        tuesday = [r for r in store.runs(scenario="nightly") if r.at.day == 3]
        assert store.merged_metric("http_req_duration", tuesday).stat("p(99.9)") == combined.metrics["http_req_duration"].stat("p(99.9)")  # type: ignore[union-attr]

    # runs named by id prefix
    with open_store(url) as store:
        ids = [r.run_id[:10] for r in store.runs(scenario="nightly")[:2]]
    code, _, err = cli(["trend", "combine", "--store", url, *ids, "-o", str(tmp_path / "two.json")], capsys)
    assert code == 0 and "combined 2 run(s)" in err


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], "2 scenarios (nightly, other); choose one with --scenario"),
        (["--scenario", "nightly", "--since", "2027-01-01"], "no runs in the store"),
        (["--scenario", "nightly", "--until", "2026-02-31"], "--until '2026-02-31': expected an ISO 8601 time"),
        (["--scenario", "nightly", "--to", "pdf"], "--to 'pdf'"),
        (["deadbeef"], "no run 'deadbeef'"),
    ],
)
def test_combine_bad_input_is_a_located_usage_error(
    tmp_path: Path, run_factory: Callable[..., RunResult], capsys: pytest.CaptureFixture[str], args: list[str], expected: str
) -> None:
    url = f"sqlite:///{tmp_path / 'trends.db'}"
    with open_store(url) as store:
        store.record(run_factory(100, day=0))
        store.record(run_factory(100, day=1, labels={"scenario": "other"}))
    code, out, err = cli(["trend", "combine", "--store", url, *args, "-o", str(tmp_path / "c.json")], capsys)
    assert code == 64 and expected in err and "Traceback" not in err + out, err


def test_combine_runs_without_histograms_says_why(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sample = Path(__file__).resolve().parents[1] / "data" / "k6" / "k6-summary-export.sample.json"
    url = f"sqlite:///{tmp_path / 'trends.db'}"
    for at in ("2026-03-01", "2026-03-02"):
        assert cli(["trend", "record", str(sample), "--at", at, "--store", url], capsys)[0] == 0
    code, _, err = cli(["trend", "combine", "--store", url, "-o", str(tmp_path / "c.json")], capsys)
    assert code == 64 and "cannot combine" in err and "hold percentiles, not histograms" in err, err
