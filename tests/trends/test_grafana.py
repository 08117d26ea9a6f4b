"""`assay trend export grafana|prometheus`: the dashboard's SQL runs on the real store and reads the judged numbers."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from assay.cli.app import main
from assay.results import RunResult
from assay.trends.analyze import analyze
from assay.trends.series import SeriesSpec
from assay.trends.store import open_store


def cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


@pytest.mark.postgres
def test_dashboard_queries_the_store_tables_on_postgresql(pg_url: str, tmp_path: Path, run_factory: Callable[..., RunResult], capsys: pytest.CaptureFixture[str]) -> None:
    with open_store(pg_url) as store:
        with store.engine.begin() as conn:
            conn.execute(text("delete from trend_points"))
            conn.execute(text("delete from trend_runs"))
        for day in range(6):
            store.record(run_factory(100 + 10 * day, day=day, labels={"scenario": "it's nightly"}))
    out = tmp_path / "dash.json"
    code, _, err = cli(["trend", "export", "grafana", "-o", str(out), "--store", pg_url], capsys)
    assert code == 0 and "5 panels" in err
    dash = json.loads(out.read_text())
    assert dash["schemaVersion"] >= 36 and dash["templating"]["list"][0]["type"] == "datasource"
    titles = [p["title"] for p in dash["panels"]]
    assert titles == [f"it's nightly: {t}" for t in ("http_req_duration med", "http_req_duration p(95)", "http_req_duration p(99)", "http_reqs rate", "http_req_failed rate")]
    with open_store(pg_url) as store:
        series = analyze(store, [SeriesSpec("http_req_duration", "p(95)")]).outcomes[0].series
        sql = dash["panels"][1]["targets"][0]["rawSql"].replace("$__timeFilter(r.at)", "r.at > now() - interval '10 years'")
        with store.engine.connect() as conn:
            rows = conn.execute(text(sql)).all()
    assert [r[1] for r in rows] == pytest.approx(series.values)  # Grafana sees the numbers assay judges
    assert [r[0] for r in rows] == [r.at for r in series.runs]


def test_prometheus_dashboard_and_exposition(tmp_path: Path, run_factory: Callable[..., RunResult], capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 't.db'}"
    with open_store(url) as store:
        for day in range(3):
            store.record(run_factory(100, day=day))
    out = tmp_path / "dash.json"
    assert cli(["trend", "export", "grafana", "http_reqs rate", "--datasource", "prometheus", "-o", str(out), "--store", url], capsys)[0] == 0
    [panel] = json.loads(out.read_text())["panels"]
    assert panel["targets"][0]["expr"] == 'assay_trend_value{scenario="nightly",metric="http_reqs",aggregation="rate"}'
    code, exposition, _ = cli(["trend", "export", "prometheus", "--store", url], capsys)
    samples = {(s.name, s.labels["aggregation"]): s.value for f in text_string_to_metric_families(exposition) for s in f.samples if s.labels.get("metric") == "http_reqs"}
    assert samples[("assay_trend_value", "rate")] == pytest.approx(50.0) and samples[("assay_trend_regression", "rate")] == 0
    assert cli(["trend", "export", "grafana", "--datasource", "influx", "-o", str(out), "--store", url], capsys)[0] == 64
