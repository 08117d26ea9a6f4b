"""Evaluation: Keptn's scoring, key and P0 objectives, baselines from history, missing values, SLI kinds."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from slo_helpers import T0, simple_result

from assay.config import ConfigError, parse_config
from assay.harness.ports import free_port
from assay.results import RunResult
from assay.slo.evaluate import aggregate, evaluate
from assay.slo.files import load_slo
from assay.slo.history import DirectoryHistory, ListHistory
from assay.slo.sources import SliError
from assay.slo.spec import SloFile


def slo(text: str) -> SloFile:
    return parse_config(text, SloFile, source="slo.yaml")


def test_keptn_documented_scoring_example() -> None:
    """Keptn's spec: a maximum of 92 points with 85 achieved scores 92.39%."""
    spec = slo(
        """
objectives:
  - {sli: http_req_duration, aggregation: p(95), pass: ["<600"], warning: ["<800"], weight: 80}
  - {sli: http_req_failed, pass: ["<0.01"], warning: ["<0.05"], weight: 10}
  - {sli: throughput, aggregation: count, pass: [">1000"], weight: 2}
  - {sli: http_req_duration, name: latency-info, aggregation: avg}
total_score: {pass: "90%", warning: "75%"}
"""
    )
    result = simple_result({"latency": 500.0, "errors": 0.02, "throughput": 900.0})
    report = evaluate(spec, result)
    by_id = {o.id: o for o in report.objectives}
    assert by_id["http_req_duration p(95)"].status == "PASS" and by_id["http_req_duration p(95)"].score == 80
    assert by_id["http_req_failed"].status == "WARNING" and by_id["http_req_failed"].score == 5
    assert by_id["throughput count"].status == "FAIL" and by_id["throughput count"].score == 0
    assert by_id["latency-info"].status == "INFO"  # no pass criteria: shown, not scored
    assert report.max_score == 92
    assert report.achieved == 85
    assert round(report.score, 2) == 92.39
    assert report.score_status == "pass"
    # assay's gate: the score passes, but an objective failed, so it is not a clean pass.
    assert report.status == "WARNING"
    assert report.exit_code == 1


def test_or_of_criteria_groups_and_and_within_a_group() -> None:
    spec = slo(
        """
objectives:
  - sli: http_req_duration
    aggregation: p(95)
    pass:
      - criteria: ["<100"]
      - criteria: [">=300", "<=400"]
"""
    )
    assert evaluate(spec, simple_result({"latency": 350.0})).objectives[0].status == "PASS"
    assert evaluate(spec, simple_result({"latency": 50.0})).objectives[0].status == "PASS"
    assert evaluate(spec, simple_result({"latency": 200.0})).objectives[0].status == "FAIL"


def test_failed_key_objective_forces_fail_whatever_the_score() -> None:
    spec = slo(
        """
objectives:
  - {sli: http_req_duration, aggregation: p(95), pass: ["<600"], weight: 99}
  - {sli: http_req_failed, pass: ["<0.01"], key_sli: true, priority: P2}
"""
    )
    report = evaluate(spec, simple_result({"latency": 100.0, "errors": 0.5}))
    assert report.score == 99.0
    assert report.score_status == "fail"
    assert report.status == "CRITICAL"
    assert report.exit_code == 2
    assert report.objectives[1].critical and report.objectives[1].code == "CRITICAL"


def test_failed_p0_is_critical_and_failed_p1_is_not() -> None:
    text = """
objectives:
  - {sli: http_req_duration, aggregation: p(95), pass: ["<100"], priority: PRIO}
  - {sli: http_req_failed, pass: ["<0.01"], weight: 9}
total_score: {pass: 80, warning: 50}
"""
    result = simple_result({"latency": 500.0, "errors": 0.0})
    p0 = evaluate(slo(text.replace("PRIO", "P0")), result)
    assert p0.status == "CRITICAL" and p0.objectives[0].code == "CRITICAL"
    p1 = evaluate(slo(text.replace("PRIO", "P1")), result)
    assert p1.score == 90.0 and p1.score_status == "pass"
    assert p1.status == "WARNING" and p1.objectives[0].code == "FAIL"


def test_score_thresholds_decide_warning_and_fail() -> None:
    text = """
objectives:
  - {sli: http_req_duration, aggregation: p(95), pass: ["<100"], warning: ["<1000"]}
  - {sli: http_req_failed, pass: ["<0.01"]}
total_score: {pass: 90, warning: WARN}
"""
    result = simple_result({"latency": 500.0, "errors": 0.0})  # 1.5 of 2 points: 75%
    assert evaluate(slo(text.replace("WARN", "75")), result).status == "WARNING"
    assert evaluate(slo(text.replace("WARN", "76")), result).status == "FAIL"


def test_all_pass_exits_zero_and_edge_cases_of_keptn() -> None:
    spec = slo("objectives: [{sli: http_req_failed, pass: ['<0.01']}]")
    report = evaluate(spec, simple_result({"errors": 0.0}))
    assert (report.status, report.exit_code, report.score) == ("PASS", 0, 100.0)
    info_only = evaluate(slo("objectives: [{sli: http_req_failed}]"), simple_result({"errors": 0.5}))
    assert (info_only.score, info_only.score_status, info_only.status) == (100.0, "pass", "PASS")
    # Keptn fails a file without objectives; assay refuses it as a config error (exit 64), since it can only fail.
    with pytest.raises(ConfigError, match=r"slo.yaml:1:1: objectives: an SLO needs at least one objective"):
        slo("objectives: []")


def test_relative_criterion_without_history_passes_and_says_so() -> None:
    spec = slo("objectives: [{sli: http_req_duration, aggregation: p(95), pass: ['<=+10%']}]")
    report = evaluate(spec, simple_result({"latency": 999.0}), history=ListHistory([]))
    objective = report.objectives[0]
    assert objective.status == "PASS"
    assert objective.baseline is None
    assert any("no passing history" in n for n in objective.notes)
    assert objective.pass_criteria[0][0].note is not None


def _save(directory: Path, result: RunResult) -> None:
    result.save(directory / f"{result.name}.json")


def test_relative_criteria_against_a_directory_of_passing_runs(tmp_path: Path) -> None:
    history_dir = tmp_path / "history"
    history_dir.mkdir()
    # Newest first after sorting by time: 110 (pass), 900 (failed run: never a baseline), 100, 90, 5000 (old).
    for i, (latency, status) in enumerate([(5000.0, "passed"), (90.0, "passed"), (100.0, "passed"), (900.0, "failed"), (110.0, "passed")]):
        _save(history_dir, simple_result({"latency": latency}, name=f"run{i}", status=status, when=T0 + timedelta(hours=i)))
    spec = slo(
        """
comparison: {compare_with: several_results, number_of_comparison_results: 3, aggregate_function: avg}
objectives:
  - {sli: http_req_duration, aggregation: p(95), pass: ["<=+10%"], warning: ["<=+20%"]}
"""
    )
    history = DirectoryHistory(history_dir)
    current = simple_result({"latency": 115.0}, when=T0 + timedelta(hours=9))
    report = evaluate(spec, current, history=history)
    o = report.objectives[0]
    assert o.baseline == pytest.approx(100.0)  # avg(110, 100, 90)
    assert o.baseline_runs == 3
    assert o.status == "WARNING"  # 115 > 110 (+10%) but <= 120 (+20%)
    assert o.delta == pytest.approx(15.0) and o.delta_pct == pytest.approx(15.0)
    assert len(report.comparison.runs) == 3
    # single_result: only the newest passing run (110); pass_or_warn still skips the failed one.
    single = slo("comparison: {compare_with: single_result}\nobjectives: [{sli: http_req_duration, aggregation: p(95), pass: ['<=+10%']}]")
    assert evaluate(single, current, history=history).objectives[0].baseline == 110.0
    include_all = slo(
        "comparison: {compare_with: single_result, include_result_with_score: all}\n"
        "objectives: [{sli: http_req_duration, aggregation: p(95), pass: ['<=+10%']}]"
    )
    hist_all = DirectoryHistory(history_dir)
    assert evaluate(include_all, current, history=hist_all).objectives[0].baseline == 110.0
    # A comparison block without compare_with uses 3 results (Keptn's default).
    default_block = slo("comparison: {aggregate_function: p90}\nobjectives: [{sli: http_req_duration, aggregation: p(95), pass: ['<=+10%']}]")
    assert default_block.comparison_count() == 3
    assert slo("objectives: [{sli: checks}]").comparison_count() == 1


def test_keptn_percentile_aggregate() -> None:
    values = [10.0, 20.0, 30.0, 40.0]
    assert aggregate(values, "avg") == 25.0
    assert aggregate(values, "p50") == 25.0  # pos 2.5 -> between 20 and 30
    assert aggregate(values, "p90") == 40.0  # pos 4.5 >= n -> last
    assert aggregate([5.0], "p95") == 5.0
    assert aggregate(values, "p95") == 40.0


def test_no_samples_is_a_fail_with_the_reason() -> None:
    spec = slo(
        """
objectives:
  - {sli: "http_req_duration{name:checkout}", aggregation: p(95), pass: ["<300"]}
  - {sli: http_req_failed, pass: ["<0.01"]}
"""
    )
    result = simple_result({"latency": 100.0})
    report = evaluate(spec, result)
    missing, rate = report.objectives
    assert missing.status == "FAIL" and missing.value is None
    assert "no samples" in (missing.reason or "") and "http_req_duration{name:checkout}" in (missing.reason or "")
    assert rate.status == "FAIL" and "no samples" in (rate.reason or "")
    empty = simple_result({"errors": 0.0})
    empty.metrics["http_req_failed"].passes = empty.metrics["http_req_failed"].fails = 0
    assert "no samples" in (evaluate(spec, empty).objectives[1].reason or "")


def test_unknown_metric_lists_the_metrics_the_result_has() -> None:
    spec = slo("objectives: [{sli: http_req_duraton, aggregation: p(95), pass: ['<300']}]")
    with pytest.raises(SliError) as info:
        evaluate(spec, simple_result({"latency": 1.0, "errors": 0.0}))
    message = str(info.value)
    assert "unknown metric 'http_req_duraton'" in message
    assert "did you mean 'http_req_duration'" in message
    assert "http_req_duration, http_req_failed" in message


def test_disallowed_and_missing_aggregations_are_usage_errors() -> None:
    with pytest.raises(SliError, match="rate metric allows rate, passes, fails"):
        evaluate(slo("objectives: [{sli: http_req_failed, aggregation: p(95), pass: ['<1']}]"), simple_result({"errors": 0.0}))
    with pytest.raises(SliError, match="needs an 'aggregation'"):
        evaluate(slo("objectives: [{sli: http_req_duration, pass: ['<1']}]"), simple_result({"latency": 1.0}))


def test_bad_slo_files_are_located_config_errors(write_slo: Callable[..., Path]) -> None:
    path = write_slo(
        """objectives:
  - sli: http_req_failed
    pass: ["<0.01", "=< 3"]
    priority: P3
    wieght: 2
"""
    )
    with pytest.raises(ConfigError) as info:
        load_slo(path)
    text = str(info.value)
    assert "slo.yaml:3" in text and "'=< 3' is malformed; accepted forms:" in text
    assert "P3" in text and "'P0', 'P1' or 'P2'" in text
    assert "did you mean 'weight'?" in text
    with pytest.raises(ConfigError, match="exactly one SLI source"):
        load_slo(write_slo("objectives: [{sli: checks, promql: 'up', pass: ['>0']}]", "two.yaml"))


def test_checks_by_name_ratio_and_counter_rate(k6_run: Callable[..., RunResult]) -> None:
    result = k6_run(seconds=10, rps=10, status=lambda t, name, i: 503 if name == "write" and i % 5 == 1 else 200)
    spec = slo(
        """
objectives:
  - {sli: "checks{check:status is 2xx}", pass: [">0.95"]}
  - name: write-503-share
    ratio: {numerator: {sli: "http_reqs{status:503}", aggregation: count}, denominator: http_reqs}
    pass: ["<0.05"]
    warning: ["<0.2"]
  - {sli: http_reqs, aggregation: rate, pass: [">=9"]}
"""
    )
    report = evaluate(spec, result)
    checks, ratio, rate = report.objectives
    assert checks.value == pytest.approx(0.9) and checks.status == "FAIL"
    assert ratio.value == pytest.approx(0.1) and ratio.status == "WARNING"
    assert rate.value == pytest.approx(100 / result.duration_s) and rate.status == "PASS"


class _Prometheus(BaseHTTPRequestHandler):
    """A Prometheus HTTP API answering /api/v1/query like the real one (form-encoded POST)."""

    seen: list[dict[str, list[str]]] = []

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length", "0"))
        form = parse_qs(self.rfile.read(length).decode())
        self.seen.append(form)
        query = form["query"][0]
        if self.path != "/api/v1/query":
            self._send(404, {"status": "error", "errorType": "not_found", "error": "no such endpoint"})
        elif query.startswith("bad"):
            self._send(400, {"status": "error", "errorType": "bad_data", "error": "1:4: parse error: unexpected"})
        elif query.startswith("empty"):
            self._send(200, {"status": "success", "data": {"resultType": "vector", "result": []}})
        elif query.startswith("many"):
            series = [{"metric": {"__name__": "up", "job": str(j)}, "value": [1, "1"]} for j in range(2)]
            self._send(200, {"status": "success", "data": {"resultType": "vector", "result": series}})
        elif query.startswith("scalar"):
            self._send(200, {"status": "success", "data": {"resultType": "scalar", "result": [1, "0.25"]}})
        else:
            value = [float(form["time"][0]), "0.0042"]
            self._send(200, {"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}, "value": value}]}})

    def _send(self, code: int, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def prometheus() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _Prometheus)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Prometheus.seen = []
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_promql_slis_query_prometheus_over_the_run_window(prometheus: str) -> None:
    spec = slo(
        f"""
filter: {{service: checkout}}
prometheus: {{url: "{prometheus}"}}
objectives:
  - name: error-ratio
    promql: 'sum(rate(http_errors_total{{service="$service"}}[$DURATION_SECONDS])) / sum(rate(http_requests_total[$DURATION_SECONDS]))'
    pass: ["<0.01"]
  - {{name: scalar, promql: "scalar(vector(0.25))", pass: ["<0.5"]}}
  - {{name: empty, promql: "empty_series", pass: ["<1"]}}
  - {{name: many, promql: "many_series", pass: ["<1"]}}
  - {{name: bad, promql: "bad query", pass: ["<1"]}}
"""
    )
    result = simple_result({"latency": 1.0})
    report = evaluate(spec, result)
    by_id = {o.id: o for o in report.objectives}
    assert by_id["error-ratio"].value == pytest.approx(0.0042) and by_id["error-ratio"].status == "PASS"
    first = _Prometheus.seen[0]
    assert first["query"][0] == (
        'sum(rate(http_errors_total{service="checkout"}[60s])) / sum(rate(http_requests_total[60s]))'
    )
    assert float(first["time"][0]) == pytest.approx(result.finished_at.timestamp())  # type: ignore[union-attr]
    assert by_id["scalar"].value == 0.25
    assert by_id["empty"].status == "FAIL" and "no samples" in (by_id["empty"].reason or "")
    assert by_id["many"].status == "FAIL" and "2 series" in (by_id["many"].reason or "")
    assert by_id["bad"].status == "FAIL" and "parse error" in (by_id["bad"].reason or "")


def test_unreachable_prometheus_is_a_fail_not_a_pass() -> None:
    spec = slo(f"prometheus: {{url: 'http://127.0.0.1:{free_port()}', timeout_s: 2}}\nobjectives: [{{promql: up, pass: ['>0']}}]")
    o = evaluate(spec, simple_result({"latency": 1.0})).objectives[0]
    assert o.status == "FAIL" and "unreachable" in (o.reason or "")


def test_a_keptn_slo_file_loads_unchanged() -> None:
    """Keptn's own shape: spec_version, filter, comparison, displayName, key_sli, criteria groups, "90%"."""
    spec = slo(
        """
spec_version: "1.0"
filter: {handler: ItemsController, id: "somevalue"}
comparison:
  compare_with: "several_results"
  include_result_with_score: "pass"
  number_of_comparison_results: 3
  aggregate_function: avg
objectives:
  - sli: http_req_duration
    displayName: "Response time P95"
    aggregation: p(95)
    key_sli: false
    pass:
      - criteria:
          - "<=+10%"
          - "<600"
    warning:
      - criteria:
          - "<=800"
    weight: 1
  - sli: http_req_failed
    key_sli: true
    pass:
      - criteria:
          - "=0"
total_score:
  pass: "90%"
  warning: "75%"
"""
    )
    assert spec.comparison_count() == 3
    assert spec.objectives[0].title == "Response time P95"
    assert spec.objectives[1].key
    assert (spec.total_score.pass_, spec.total_score.warning) == (90.0, 75.0)
    report = evaluate(spec, simple_result({"latency": 700.0, "errors": 0.0}), history=ListHistory([]))
    assert [o.status for o in report.objectives] == ["WARNING", "PASS"]
    assert report.score == 75.0 and report.status == "WARNING"


def test_a_k6_csv_file_is_a_result_too(tmp_path: Path) -> None:
    """k6 --out csv rows (unix timestamps, one column per system tag) judged like any result."""
    from assay.formats import load_result

    rows = ["metric_name,timestamp,metric_value,check,expected_response,group,method,name,status,extra_tags,metadata"]
    for i in range(40):
        t = 1_790_000_000 + i // 4
        status = "500" if i % 10 == 0 else "200"
        failed = "1" if status == "500" else "0"
        rows.append(f"http_reqs,{t},1.000000,,{str(status == '200').lower()},,GET,read,{status},,")
        rows.append(f"http_req_duration,{t},{20 + i}.000000,,{str(status == '200').lower()},,GET,read,{status},,")
        rows.append(f"http_req_failed,{t},{failed}.000000,,{str(status == '200').lower()},,GET,read,{status},,")
    path = tmp_path / "run.csv"
    path.write_text("\n".join(rows) + "\n")
    spec = slo(
        """
objectives:
  - {sli: "http_req_duration{name:read}", aggregation: max, pass: ["<=59"]}
  - {sli: http_req_failed, pass: ["<0.05"], warning: ["<0.2"]}
"""
    )
    report = evaluate(spec, load_result(path))
    assert [(o.status, o.value) for o in report.objectives] == [("PASS", 59.0), ("WARNING", pytest.approx(0.1))]
    assert report.result.format == "k6-csv"


def test_a_percentile_missing_from_a_k6_summary_is_a_fail_naming_what_is_there(reference_dir: Path) -> None:
    from assay.formats import load_result

    result = load_result(reference_dir / "k6-summary-export.sample.json")
    o = evaluate(slo("objectives: [{sli: http_req_duration, aggregation: p(99), pass: ['<1000']}]"), result).objectives[0]
    assert o.status == "FAIL" and o.value is None
    assert o.reason == (
        "no p(99) value for http_req_duration in this result "
        "(its summary holds only avg, med, p(90), p(95); k6's --summary-trend-stats sets which)"
    )
