"""Bad SLO input through the real CLI: each case exits 64 with one located line and no traceback.

Corrupt result files (histograms, numbers, nesting) are the results readers' cases; these are
the SLO file's own, plus the flags of `slo check`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "k6" / "k6-summary-export.sample.json"
GOOD = "objectives: [{sli: http_req_failed, pass: ['<0.01']}]\n"
OPENSLO = """apiVersion: openslo/v1
kind: SLO
metadata:
  name: errors
spec:
  service: courier
  indicator:
    metadata: {name: failed}
    spec:
      thresholdMetric: {metricSource: {type: assay, spec: {metric: http_req_failed}}}
  budgetingMethod: Occurrences
  objectives:
    - displayName: few errors
      op: lte
      value: 0.01
      target: 0.99
"""
BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
    for i in range(7)
)

# (case id, file name, content (str or bytes), what the one error line must contain)
CASES: list[tuple[str, str, str | bytes, str]] = [
    ("empty file", "slo.yaml", "", "slo.yaml: the file is empty; an SLO needs at least one objective"),
    ("comments only", "slo.yaml", "# objectives to come\n", "slo.yaml: the file is empty"),
    ("no objectives", "slo.yaml", "objectives: []\n", "slo.yaml:1:1: objectives: an SLO needs at least one objective"),
    ("no objectives key", "slo.yaml", "name: checkout\n", "slo.yaml: objectives: required key is missing"),
    ("empty JSON object", "slo.json", "{}", "slo.json: objectives: required key is missing"),
    ("empty TOML", "slo.toml", "", "slo.toml: objectives: required key is missing"),
    ("objectives null", "slo.yaml", "objectives:\n", "objectives: expected a list"),
    ("objectives a mapping", "slo.yaml", "objectives: {sli: http_req_failed}\n", "objectives: expected a list"),
    ("top level a list", "slo.yaml", "- sli: http_req_failed\n", "slo.yaml: expected a mapping"),
    ("malformed criterion", "slo.yaml", "objectives:\n  - sli: http_req_failed\n    pass: ['under 1%']\n", "slo.yaml:3"),
    ("criterion overflows", "slo.yaml", "objectives: [{sli: http_req_failed, pass: ['<" + "9" * 5000 + "']}]\n", "no usable number"),
    ("criterion not a string", "slo.yaml", "objectives: [{sli: http_req_failed, pass: [[1]]}]\n", "slo.yaml:1"),
    ("unknown key", "slo.yaml", "objectives: [{sli: http_req_failed, pas: ['<0.01']}]\n", "did you mean 'pass'"),
    ("two sources", "slo.yaml", "objectives: [{sli: http_req_failed, promql: up}]\n", "exactly one SLI source"),
    ("no source", "slo.yaml", "objectives: [{pass: ['<1']}]\n", "exactly one SLI source"),
    ("duplicate objective", "slo.yaml", "objectives: [{sli: checks}, {sli: checks}]\n", "both named 'checks'"),
    ("bad priority", "slo.yaml", "objectives: [{sli: checks, priority: P7}]\n", "'P0', 'P1' or 'P2'"),
    ("negative weight", "slo.yaml", "objectives: [{sli: checks, weight: -1}]\n", "weight"),
    ("score over 100", "slo.yaml", GOOD + "total_score: {pass: 150}\n", "total_score.pass"),
    ("score not a number", "slo.yaml", GOOD + "total_score: {pass: 'ninety%'}\n", "total_score.pass"),
    ("bad metric name", "slo.yaml", "objectives: [{sli: 'http_req_duration{name', aggregation: avg}]\n", "slo.yaml:1"),
    ("YAML syntax", "slo.yaml", "objectives: [{sli: checks\n", "invalid YAML"),
    ("JSON syntax", "slo.json", '{"objectives": [', "invalid JSON"),
    ("not UTF-8", "slo.yaml", b"objectives: [{sli: \xff}]\n", "not UTF-8"),
    ("unknown suffix", "slo.txt", GOOD, "unknown config format '.txt'"),
    ("OpenSLO without an SLO", "slo.yaml", "apiVersion: openslo/v1\nkind: SLI\nmetadata: {name: x}\nspec: {}\n", "no OpenSLO SLO object"),
    ("duplicate key", "slo.yaml", GOOD + "name: a\nname: b\n", "slo.yaml:3:1: invalid YAML: duplicate key 'name' (first at line 2, column 1)"),
    # OpenSLO files are multi-document streams: read as strictly as any config file
    ("OpenSLO duplicate key", "slo.yaml", OPENSLO.replace("  op: lte\n", "  op: lte\n      op: gt\n"), "slo.yaml:15:7: invalid YAML: duplicate key 'op' (first at line 14, column 7)"),
    ("OpenSLO YAML syntax", "slo.yaml", OPENSLO + "---\nkind: [SLO\n", "slo.yaml:19:1: invalid YAML: expected ',' or ']'"),
    ("OpenSLO alias bomb", "slo.yaml", OPENSLO + "---\n" + BOMB, "a YAML alias bomb"),
]


def assay(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "assay", *map(str, args)], capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"}
    )


def one_located_line(proc: subprocess.CompletedProcess[str], where: str, expected: str) -> None:
    assert proc.returncode == 64, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert where in lines[0] and expected in lines[0], lines[0]


@pytest.mark.parametrize("command", ["validate", "check"])
@pytest.mark.parametrize(("name", "content", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_slo_file(tmp_path: Path, command: str, name: str, content: str | bytes, expected: str) -> None:
    slo = tmp_path / name
    if isinstance(content, bytes):
        slo.write_bytes(content)
    else:
        slo.write_text(content)
    args = ["slo", "validate", slo] if command == "validate" else ["slo", "check", SAMPLE, "--slo", slo]
    one_located_line(assay(*args), str(tmp_path), expected)


def test_slo_path_that_is_missing_or_a_directory(tmp_path: Path) -> None:
    one_located_line(assay("slo", "validate", tmp_path / "nope.yaml"), "nope.yaml", "no such file")
    folder = tmp_path / "slo.yaml"
    folder.mkdir()
    one_located_line(assay("slo", "check", SAMPLE, "--slo", folder), "slo.yaml", "is a directory")


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--format", "pdf"], "unknown --format 'pdf'"),
        (["--store", "sqlite:///unused.db"], "--store is only used with --record"),
        (["--record", "--store", "nosuch://host/db"], "nosuch"),
    ],
)
def test_bad_check_flags(tmp_path: Path, flags: list[str], expected: str) -> None:
    slo = tmp_path / "slo.yaml"
    slo.write_text(GOOD)
    proc = assay("slo", "check", SAMPLE, "--slo", slo, *flags)
    assert proc.returncode == 64 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and expected in proc.stderr


def test_record_without_baseline_records_the_verdicts(tmp_path: Path) -> None:
    """`--record` alone records the judged result into the store (it once required --baseline)."""
    slo = tmp_path / "slo.yaml"
    slo.write_text(GOOD)
    store = tmp_path / "trends.db"
    proc = assay("slo", "check", SAMPLE, "--slo", slo, "--record", "--store", f"sqlite:///{store}")
    assert proc.returncode == 0, proc.stderr
    assert "recorded run" in proc.stderr and str(store) in proc.stderr
    assert store.stat().st_size > 0


def test_baseline_that_is_a_file(tmp_path: Path) -> None:
    slo = tmp_path / "slo.yaml"
    slo.write_text("objectives: [{sli: http_req_duration, aggregation: p(95), pass: ['<=+10%']}]\n")
    not_a_dir = tmp_path / "baseline.json"
    not_a_dir.write_text(json.dumps({"schema": "assay.run/1"}))
    one_located_line(assay("slo", "check", SAMPLE, "--slo", slo, "--baseline", not_a_dir), "baseline.json", "is a file, expected a folder")
    one_located_line(assay("slo", "check", SAMPLE, "--slo", slo, "--baseline", tmp_path / "gone"), "gone", "does not exist")


def test_unknown_metric_and_disallowed_aggregation(tmp_path: Path) -> None:
    slo = tmp_path / "slo.yaml"
    slo.write_text("objectives: [{sli: http_req_latency, aggregation: p(95), pass: ['<300']}]\n")
    one_located_line(assay("slo", "check", SAMPLE, "--slo", slo), "k6-summary-export.sample.json", "unknown metric 'http_req_latency'")
    slo.write_text("objectives: [{sli: http_req_failed, aggregation: p(95), pass: ['<300']}]\n")
    one_located_line(assay("slo", "check", SAMPLE, "--slo", slo), "http_req_failed", "allows rate, passes, fails")
