"""`assay slo check` as a subprocess: exit codes 0/1/2/64, k6 sample files, baselines, outputs."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
import xmlschema
from slo_helpers import T0, simple_result, write_k6_ndjson

HERE = Path(__file__).parent


def assay(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "assay", *map(str, args)], capture_output=True, text=True, timeout=120, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"}
    )


SAMPLE_SLO = """
objectives:
  - {sli: "http_req_duration{name:GET /items}", aggregation: p(95), pass: ["<LIMIT"], warning: ["<500"], priority: PRIO}
  - {sli: http_req_failed, aggregation: rate, pass: ["<0.01"], key: true}
  - {sli: checks, pass: [">0.99"]}
  - {sli: dropped_iterations, aggregation: count, pass: ["<10"], priority: P2}
total_score: {pass: 90, warning: 75}
"""


@pytest.mark.parametrize(
    ("sample", "limit", "prio", "code", "status"),
    [
        ("k6-summary-export.sample.json", "400", "P1", 0, "PASS"),  # p(95) of GET /items is 381 ms
        ("k6-handle-summary.sample.json", "350", "P1", 1, "WARNING"),
        ("k6-summary-export.sample.json", "300", "P0", 1, "WARNING"),  # a P0 warning is not critical
    ],
)
def test_k6_sample_files_exit_codes(
    reference_dir: Path, write_slo: Callable[..., Path], sample: str, limit: str, prio: str, code: int, status: str
) -> None:
    slo = write_slo(SAMPLE_SLO.replace("LIMIT", limit).replace("PRIO", prio))
    proc = assay("slo", "check", reference_dir / sample, "--slo", slo, "--format", "json")
    assert proc.returncode == code, proc.stderr
    data = json.loads(proc.stdout)
    assert data["status"] == status and data["exit_code"] == code
    assert data["evaluations"][0]["result"]["format"].startswith("k6-")


def test_fail_and_critical_exit_two(reference_dir: Path, write_slo: Callable[..., Path]) -> None:
    critical = write_slo(SAMPLE_SLO.replace("LIMIT", "100").replace("<500", "<200").replace("PRIO", "P0"), "critical.yaml")
    proc = assay("slo", "check", reference_dir / "k6-summary-export.sample.json", "--slo", critical)
    assert proc.returncode == 2
    assert "CRITICAL" in proc.stdout and "does not meet <100" in proc.stdout
    failing = write_slo(
        "objectives:\n  - {sli: http_req_failed, pass: ['<0.0001']}\n  - {sli: checks, pass: ['>0.9999']}\n", "fail.yaml"
    )
    proc = assay("slo", "check", reference_dir / "k6-handle-summary.sample.json", "--slo", failing, "-f", "markdown")
    assert proc.returncode == 2
    assert proc.stdout.startswith("## \u274c SLO fail: FAIL")


def test_bad_slo_file_exits_64_with_the_accepted_forms(reference_dir: Path, write_slo: Callable[..., Path]) -> None:
    slo = write_slo("objectives:\n  - sli: http_req_failed\n    pass: ['less than 1%']\n")
    proc = assay("slo", "check", reference_dir / "k6-summary-export.sample.json", "--slo", slo)
    assert proc.returncode == 64
    assert "slo.yaml:3" in proc.stderr and "accepted forms: '<350'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unknown_metric_exits_64_listing_the_result_metrics(reference_dir: Path, write_slo: Callable[..., Path]) -> None:
    slo = write_slo("objectives: [{sli: http_req_latency, aggregation: p(95), pass: ['<300']}]")
    proc = assay("slo", "check", reference_dir / "k6-summary-export.sample.json", "--slo", slo)
    assert proc.returncode == 64
    assert "unknown metric 'http_req_latency'" in proc.stderr
    for name in ("http_req_duration", "http_req_failed", "dropped_iterations", "vus_max"):
        assert name in proc.stderr


def test_baseline_dir_junit_output_and_metrics_file(tmp_path: Path, write_slo: Callable[..., Path]) -> None:
    baseline = tmp_path / "baseline"
    baseline.mkdir()
    for i, latency in enumerate([100.0, 104.0, 96.0]):
        simple_result({"latency": latency}, name=f"b{i}", when=T0 - timedelta(days=i + 1)).save(baseline / f"b{i}.json")
    # One newer k6 run as history too, read through the NDJSON importer; then today's run.
    write_k6_ndjson(baseline / "k6-yesterday.ndjson", seconds=3, rps=5, latency=lambda t, n: 100.0, start=T0 - timedelta(hours=1))
    today = write_k6_ndjson(tmp_path / "today.ndjson", seconds=5, rps=10, latency=lambda t, n: 130.0)
    slo = write_slo(
        """
comparison: {compare_with: several_results, number_of_comparison_results: 4}
objectives:
  - {sli: http_req_duration, aggregation: p(95), pass: ["<=+10%"], warning: ["<=+50%"]}
total_score: {pass: 90, warning: 50}
"""
    )
    report = tmp_path / "out" / "slo.xml"
    metrics = tmp_path / "slo.prom"
    proc = assay("slo", "check", today, "--slo", slo, "--baseline", baseline, "-f", "junit", "-o", report, "--metrics-file", metrics)
    assert proc.returncode == 1, proc.stderr
    assert "WARNING" in proc.stdout and "vs" in proc.stdout  # the console table still prints, with the delta
    schema = xmlschema.XMLSchema(str(HERE / "junit.xsd"))
    schema.validate(str(report))
    props = {p["@name"]: p["@value"] for p in schema.to_dict(str(report))["testsuite"][0]["properties"]["property"]}
    assert props["status"] == "WARNING"
    assert 'assay_slo_objective_status{' in metrics.read_text()
    as_json = assay("slo", "check", today, "--slo", slo, "--baseline", baseline, "-f", "json")
    objective = json.loads(as_json.stdout)["evaluations"][0]["objectives"][0]
    assert objective["baseline_runs"] == 4 and 95 < objective["baseline"] < 110


def test_several_results_exit_with_the_worst(reference_dir: Path, tmp_path: Path, write_slo: Callable[..., Path]) -> None:
    slow = write_k6_ndjson(tmp_path / "slow.ndjson", seconds=3, rps=5, latency=lambda t, n: 900.0)
    slo = write_slo("objectives: [{sli: http_req_duration, aggregation: p(95), pass: ['<500']}]")
    proc = assay("slo", "check", reference_dir / "k6-summary-export.sample.json", slow, "--slo", slo, "-f", "html", "-o", tmp_path / "r.html")
    assert proc.returncode == 2
    page = (tmp_path / "r.html").read_text()
    assert page.count('<section class="result"') == 2 and 'data-status="PASS"' in page and 'data-status="FAIL"' in page


def test_validate_and_schema(write_slo: Callable[..., Path]) -> None:
    slo = write_slo("objectives: [{sli: http_req_failed, pass: ['<0.01'], priority: P0, key: true, weight: 3}]")
    proc = assay("slo", "validate", slo)
    assert proc.returncode == 0
    assert "http_req_failed: pass <0.01 (P0, key, weight 3)" in proc.stdout
    schema = assay("schema", "slo")
    assert schema.returncode == 0
    doc = json.loads(schema.stdout)
    assert "objectives" in doc["properties"] and "total_score" in doc["properties"]
    bad = assay("slo", "check", slo, "--slo", slo, "--format", "pdf")
    assert bad.returncode == 64 and "unknown --format 'pdf'" in bad.stderr


def test_record_builds_the_baseline_for_the_next_check(tmp_path: Path, write_slo: Callable[..., Path]) -> None:
    history = tmp_path / "history"
    history.mkdir()
    slo = write_slo("objectives: [{sli: http_req_duration, aggregation: p(95), pass: ['<=+20%'], priority: P0}]")
    monday = write_k6_ndjson(tmp_path / "monday.ndjson", seconds=3, rps=5, latency=lambda t, n: 100.0)
    first = assay("slo", "check", monday, "--slo", slo, "--baseline", history, "--record", "-f", "json")
    assert first.returncode == 0, first.stderr
    assert "no passing history" in first.stdout
    [saved] = list(history.iterdir())
    assert json.loads(saved.read_text())["extra"]["slo"]["status"] == "pass"
    tuesday = write_k6_ndjson(
        tmp_path / "tuesday.ndjson", seconds=3, rps=5, latency=lambda t, n: 200.0, start=T0 + timedelta(days=1)
    )
    second = assay("slo", "check", tuesday, "--slo", slo, "--baseline", history, "--record", "-f", "json")
    assert second.returncode == 2
    objective = json.loads(second.stdout)["evaluations"][0]["objectives"][0]
    assert objective["baseline_runs"] == 1 and objective["status"] == "FAIL" and objective["critical"]
    assert len(list(history.iterdir())) == 2  # recorded as a failure: never a baseline for the next run


def test_report_files_follow_the_umask(reference_dir: Path, tmp_path: Path, write_slo: Callable[..., Path]) -> None:
    slo = write_slo("objectives: [{sli: http_req_failed, pass: ['<0.5']}]")
    for mask, mode in ((0o022, 0o644), (0o002, 0o664)):
        report, metrics = tmp_path / f"r{mask:o}.html", tmp_path / f"m{mask:o}.prom"
        args = ["slo", "check", reference_dir / "k6-summary-export.sample.json", "--slo", slo, "-f", "html", "-o", report, "--metrics-file", metrics]
        proc = subprocess.run([sys.executable, "-m", "assay", *map(str, args)], capture_output=True, text=True, timeout=120, umask=mask)
        assert proc.returncode == 0, proc.stderr
        assert (report.stat().st_mode & 0o777, metrics.stat().st_mode & 0o777) == (mode, mode)
