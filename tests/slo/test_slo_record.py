"""`assay slo check --record [--store URL]`: the judged runs, with their verdict, land in the trend store."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from slo_helpers import simple_result

from assay.cli.app import main
from assay.trends.store import open_store

SLO = "objectives: [{sli: http_req_duration, aggregation: p(95), pass: ['<100']}]"


def cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    _, err = capsys.readouterr()
    return int(exit_info.value.code or 0), err


def test_slo_check_records_the_judged_runs(
    tmp_path: Path, write_slo: Callable[..., Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    slo = write_slo(SLO)
    fast = simple_result({"latency": 50.0}, name="checkout").save(tmp_path / "fast.json")
    slow = simple_result({"latency": 150.0}, name="checkout").save(tmp_path / "slow.json")
    url = f"sqlite:///{tmp_path / 'trends.db'}"
    code, err = cli(["slo", "check", str(fast), "--slo", str(slo), "--record", "--store", url], capsys)
    assert code == 0 and "recorded run" in err and "(checkout)" in err
    # without --store nor --baseline: the default store ($ASSAY_DB_URL here); a failed verdict is recorded too
    monkeypatch.setenv("ASSAY_DB_URL", url)
    code, err = cli(["slo", "check", str(slow), "--slo", str(slo), "--record"], capsys)
    assert code == 2 and "recorded run" in err
    # a folder baseline keeps its copy, and --store gets one as well
    history = tmp_path / "history"
    history.mkdir()
    again = simple_result({"latency": 60.0}, name="checkout").save(tmp_path / "again.json")
    code, err = cli(["slo", "check", str(again), "--slo", str(slo), "--baseline", str(history), "--record", "--store", url], capsys)
    assert code == 0 and len(list(history.iterdir())) == 1, err
    with open_store(url) as store:
        runs = store.runs()
        assert [(r.scenario, r.kind) for r in runs] == [("checkout", "load")] * 3
        verdicts = [result.extra["slo"]["status"] for result in store.results(runs)]
        assert sorted(verdicts) == ["fail", "pass", "pass"]


def test_a_bad_store_fails_before_judging(tmp_path: Path, write_slo: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    slo = write_slo(SLO)
    run = simple_result({"latency": 50.0}).save(tmp_path / "run.json")
    report = tmp_path / "report.json"
    code, err = cli(["slo", "check", str(run), "--slo", str(slo), "--record", "--store", "mysql://nowhere/x", "-o", str(report)], capsys)
    assert code == 64 and "--store" in err and "Traceback" not in err
    assert not report.exists()  # nothing was judged
    code, err = cli(["slo", "check", str(run), "--slo", str(slo), "--store", f"sqlite:///{tmp_path / 'x.db'}"], capsys)
    assert code == 64 and "--record" in err
