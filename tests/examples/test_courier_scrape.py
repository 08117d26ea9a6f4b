"""`assay load run --scrape` against courier: its own Prometheus metrics land in the RunResult."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from courier_helpers import Courier


def _run(*args: str) -> tuple[int, str, str]:
    from assay.cli.app import main

    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(list(args))
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.slow
def test_scraped_counter_deltas_match_the_requests_sent(start_courier: Callable[..., Courier], tmp_path: Path) -> None:
    courier = start_courier(wait="/health/live")
    result_path = tmp_path / "run.json"
    export = tmp_path / "summary.json"
    route = "courier_http_request_duration_seconds_count{route:/health/live}"
    code, out, err = _run(
        "load", "run", f"{courier.url}/health/live", "--vus", "2", "--duration", "3s", "--workers", "1",
        "--scrape", f"{courier.url}/metrics",
        "--threshold", f"{route}:delta == http_reqs.count",
        "--threshold", "courier_http_in_flight:max < 1000",
        "--result", str(result_path), "--summary-export", str(export), "-o", f"json={tmp_path / 'samples.ndjson'}", "--quiet",
    )
    assert code == 0, err
    data = json.loads(result_path.read_text())
    sent = data["metrics"]["http_reqs"]["sum"]
    assert sent > 10
    # the service counted exactly the requests assay sent (the scrapes themselves are route /metrics)
    assert data["metrics"][route]["sum"] == sent
    verdicts = {t["source"]: t for t in data["metrics"][route]["thresholds"]}
    assert verdicts["delta == http_reqs.count"]["ok"] is True
    # histograms become trends with percentiles under the service's own name, in ms
    trend = data["metrics"]["courier_http_request_duration_seconds"]
    assert trend["type"] == "trend" and trend["contains"] == "time" and trend["count"] >= sent
    scrape = data["extra"]["scrape"]
    assert scrape["scrapes"] >= 3 and scrape["gaps"] == []
    # findable under the service's name in the k6 summary export too
    exported = json.loads(export.read_text())["metrics"]
    assert exported[route]["count"] == sent
    assert "p(95)" in exported["courier_http_request_duration_seconds"]
    # and in k6's per-sample NDJSON: one Point a scrape, the counter's increase since the previous one
    points = [json.loads(line) for line in (tmp_path / "samples.ndjson").read_text().splitlines()]
    scraped = [p["data"]["value"] for p in points if p["type"] == "Point" and p["metric"] == "courier_http_request_duration_seconds_count"]
    assert len(scraped) >= 3 and sum(scraped) >= sent
    # SLO objectives read the same names: a gauge's max and a ratio of two counters
    slo = tmp_path / "slo.yaml"
    slo.write_text(
        "objectives:\n"
        "  - {sli: courier_http_in_flight, aggregation: max, pass: ['<1000']}\n"
        "  - name: served by courier\n"
        "    ratio:\n"
        f"      numerator: {{sli: '{route}', aggregation: delta}}\n"
        "      denominator: {sli: http_reqs, aggregation: count}\n"
        "    pass: ['>=1']\n"
    )
    code, out, err = _run("slo", "check", str(result_path), "--slo", str(slo))
    assert code == 0, out + err


@pytest.mark.slow
def test_a_cross_metric_threshold_that_does_not_hold_fails_the_run(start_courier: Callable[..., Courier], tmp_path: Path) -> None:
    courier = start_courier(wait="/health/live")
    code, _, err = _run(
        "load", "run", f"{courier.url}/health/live", "--vus", "1", "--duration", "2s", "--workers", "1",
        "--scrape", f"{courier.url}/metrics",
        # courier delivered no message: 0 is not what was sent
        "--threshold", "courier_messages_delivered_total:delta >= http_reqs.count",
        "--quiet",
    )
    assert code == 99, err
    assert "courier_messages_delivered_total: delta >= http_reqs.count" in err


@pytest.mark.slow
def test_a_threshold_on_a_metric_the_service_does_not_have_is_refused_before_the_run(
    start_courier: Callable[..., Courier],
) -> None:
    courier = start_courier(wait="/health/live")
    code, _, err = _run(
        "load", "run", f"{courier.url}/health/live", "--vus", "1", "--duration", "1s",
        "--scrape", f"{courier.url}/metrics", "--threshold", "courier_mesages_delivered_total:delta > 0",
    )
    assert code == 64
    assert "did you mean 'courier_messages_delivered_total'" in err
