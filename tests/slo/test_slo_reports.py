"""Every report format, parsed back by a real reader: JSON, Markdown, JUnit (XSD), HTML (Chromium), Prometheus."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
import xmlschema
from markdown_it import MarkdownIt
from prometheus_client.parser import text_string_to_metric_families
from slo_helpers import count_colour

from assay.config import parse_config
from assay.harness.ports import free_port
from assay.harness.process import ServiceProcess
from assay.results import RunResult
from assay.slo.check import check
from assay.slo.report import SloCheck
from assay.slo.reports import console, html, junit, markdown, prometheus
from assay.slo.reports.chart import LINE_COLOUR
from assay.slo.spec import SloFile

HERE = Path(__file__).parent
SLO = """
name: courier
objectives:
  - {sli: "http_req_duration{name:read}", aggregation: p(95), pass: ["<300"], warning: ["<600"], priority: P0}
  - {sli: http_req_duration, aggregation: p(95), pass: ["<=+10%"]}
  - {name: "errors | all", sli: http_req_failed, pass: ["<0.01"], warning: ["<0.05"], key: true}
  - {sli: "http_req_duration{name:missing}", aggregation: avg, pass: ["<100"], priority: P2}
  - {sli: http_reqs, aggregation: count}
total_score: {pass: 90, warning: 60}
"""


@pytest.fixture
def outcome(k6_run: Callable[..., RunResult]) -> SloCheck:
    """A run whose latency climbs from ~100 ms to ~400 ms, with a few 503s on one endpoint."""
    result = k6_run(
        seconds=30,
        rps=10,
        latency=lambda t, name: 100.0 + 10.0 * t,
        status=lambda t, name, i: 503 if name == "write" and i % 40 == 1 else 200,
    )
    spec = parse_config(SLO, SloFile, source="slo.yaml")
    return check(spec, [result], slo_name="courier")


def test_json_report_round_trips_with_its_schema_version(outcome: SloCheck) -> None:
    data = json.loads(outcome.to_json())
    assert data["schema"] == "assay.slo/1"
    assert data["status"] == outcome.status and data["exit_code"] == outcome.exit_code
    report = data["evaluations"][0]
    assert report["schema"] == "assay.slo/1"
    assert [o["id"] for o in report["objectives"]] == [
        "http_req_duration{name:read} p(95)",
        "http_req_duration p(95)",
        "errors | all",
        "http_req_duration{name:missing} avg",
        "http_reqs count",
    ]
    again = SloCheck.model_validate_json(outcome.to_json())
    assert again.evaluations[0].objectives == outcome.evaluations[0].objectives
    missing = report["objectives"][3]
    assert missing["status"] == "FAIL" and "no samples" in missing["reason"]


def test_markdown_renders_to_a_table_per_objective(outcome: SloCheck) -> None:
    text = markdown.render(outcome)
    rendered = MarkdownIt("commonmark", {"html": True}).enable("table").render(text)
    tokens = MarkdownIt("commonmark", {"html": True}).enable("table").parse(text)
    rows = [t for t in tokens if t.type == "tr_open"]
    assert len(rows) == 1 + len(outcome.evaluations[0].objectives)
    cells_per_row = []
    count = 0
    for t in tokens:
        if t.type == "tr_open":
            count = 0
        elif t.type in ("td_open", "th_open"):
            count += 1
        elif t.type == "tr_close":
            cells_per_row.append(count)
    assert set(cells_per_row) == {7}  # the pipe in "errors | all" stays inside its cell
    assert "<td>errors | all</td>" in rendered
    assert "<h2>" in rendered and outcome.evaluations[0].status in rendered
    assert "<details><summary>Recommendations" in rendered
    assert "evidence:" in rendered


def test_junit_validates_against_the_schema_and_has_one_testcase_per_objective(outcome: SloCheck) -> None:
    text = junit.render(outcome)
    schema = xmlschema.XMLSchema(str(HERE / "junit.xsd"))
    schema.validate(text)
    doc = schema.to_dict(text)
    suite = doc["testsuite"][0]
    cases = suite["testcase"]
    assert len(cases) == len(outcome.evaluations[0].objectives)
    by_name = {c["@name"]: c for c in cases}
    assert "error" in by_name["http_req_duration{name:missing} avg"]  # no value: an error, not a failure
    assert by_name["http_req_duration{name:missing} avg"]["error"]["@type"] == "NoValue"
    assert "failure" not in by_name["http_reqs count"]
    statuses = {p["@name"]: p["@value"] for p in suite["properties"]["property"]}
    assert statuses["status"] == outcome.evaluations[0].status
    assert suite["@errors"] == 1


def test_junit_of_a_critical_objective_is_a_failure(k6_run: Callable[..., RunResult]) -> None:
    result = k6_run(seconds=5, rps=10, latency=lambda t, name: 900.0)
    spec = parse_config("objectives: [{sli: http_req_duration, aggregation: p(95), pass: ['<300'], priority: P0}]", SloFile)
    text = junit.render(check(spec, [result, result.model_copy(update={"id": "other"})]))
    schema = xmlschema.XMLSchema(str(HERE / "junit.xsd"))
    schema.validate(text)
    doc = schema.to_dict(text)
    assert len(doc["testsuite"]) == 2 and doc["@failures"] == 2
    failure = doc["testsuite"][0]["testcase"][0]["failure"]
    assert failure["@type"] == "CRITICAL" and "does not meet <300" in failure["@message"]


def test_html_is_self_contained_and_chromium_draws_the_latency_chart(
    outcome: SloCheck, tmp_path: Path, screenshot: Callable[[Path], Path]
) -> None:
    page = html.render(outcome)
    # Works offline: no script, stylesheet link or remote resource.
    assert "<script" not in page and "<link" not in page
    assert not re.search(r"""(src|href|url)\s*[=(]\s*["']?https?:""", page)
    assert 'class="series"' in page and "http_req_duration p(95)" in page
    path = tmp_path / "report.html"
    path.write_text(page)
    png = screenshot(path)
    # The chart's p(95) line is drawn in LINE_COLOUR with crisp edges: hundreds of exact pixels.
    assert count_colour(png, LINE_COLOUR) > 500
    # Control: the same report without a time series draws no chart, so no such pixels.
    outcome.results[0].timeseries = []
    bare = tmp_path / "bare.html"
    bare.write_text(html.render(outcome))
    assert count_colour(screenshot(bare), LINE_COLOUR) == 0


def test_console_report_shows_value_target_delta_and_status(outcome: SloCheck) -> None:
    text = console.render_text(outcome, width=160)
    for header in ("Objective", "Value", "Target", "baseline", "Status"):
        assert header in text
    assert "http_req_duration{name:read} p(95)" in text
    assert "no samples" in text
    assert "Recommendations" in text and "evidence:" in text


def _families(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((sample.labels, sample.value))
    return out


def test_prometheus_exposition(outcome: SloCheck) -> None:
    samples = _families(prometheus.exposition(outcome))
    report = outcome.evaluations[0]
    [(labels, score)] = samples["assay_slo_score"]
    assert labels["slo"] == "courier" and score == pytest.approx(report.score)
    statuses = {s[0]["objective"]: s[1] for s in samples["assay_slo_objective_status"]}
    assert statuses["http_req_duration{name:missing} avg"] == 2
    assert statuses["http_reqs count"] == -1
    breaches = {s[0]["name"]: s[1] for s in samples["assay_threshold_breaches_total"]}
    assert breaches["http_req_duration{name:missing} avg"] == 1


def test_push_to_a_real_pushgateway(outcome: SloCheck, tmp_path: Path, system_tool: Callable[..., str]) -> None:
    binary = system_tool("prometheus-pushgateway")
    port = free_port()
    with ServiceProcess(
        # its own persistence file: Debian's default is shared by every Pushgateway on the machine
        [binary, f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn", f"--persistence.file={tmp_path / 'pushgateway.data'}"],
        health_url=f"http://127.0.0.1:{port}/-/ready",
        log_path=tmp_path / "pushgateway.log",
    ):
        prometheus.push(outcome, f"http://127.0.0.1:{port}")
        # And through the CLI flag, as CI would call it.
        slo_file = tmp_path / "slo.yaml"
        slo_file.write_text(SLO)
        source = str(outcome.evaluations[0].result.source)
        command = ["slo", "check", source, "--slo", str(slo_file), "--name", "from-cli", "-f", "json"]
        command += ["--pushgateway", f"http://127.0.0.1:{port}"]
        proc = subprocess.run([sys.executable, "-m", "assay", *command], capture_output=True, text=True, timeout=120)
        assert proc.returncode == outcome.exit_code, proc.stderr
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            samples = _families(response.read().decode())
    from_cli = [labels for labels, _ in samples["assay_slo_score"] if labels["slo"] == "from-cli"]
    assert from_cli and from_cli[0]["job"] == "assay_slo"
    samples["assay_slo_score"] = [s for s in samples["assay_slo_score"] if s[0]["slo"] == "courier"]
    samples["assay_slo_objective_status"] = [s for s in samples["assay_slo_objective_status"] if s[0]["slo"] == "courier"]
    [(labels, score)] = samples["assay_slo_score"]
    assert labels["job"] == "assay_slo" and labels["slo"] == "courier"
    assert score == pytest.approx(outcome.evaluations[0].score)
    assert len(samples["assay_slo_objective_status"]) == len(outcome.evaluations[0].objectives)
