"""Bad input to `assay load run`, `assay results` and `assay slo check`: each is exit 64 with
one located line and no traceback, before any traffic (nothing listens on the target)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from assay.results import Metric, MetricType, RunResult, TimeBucket

pytestmark = pytest.mark.slow  # ~30 short child processes

DEAD = "http://127.0.0.1:9/"  # the discard port: nothing answers, and no case may get that far


def good_result(tmp: Path) -> Path:
    result = RunResult(name="r")
    trend = Metric(type=MetricType.TREND, contains="time")
    for v in (1.0, 2.0, 3.0):
        trend.add(v)
    result.metrics["http_req_duration"] = trend
    result.metrics["http_reqs"] = Metric(type=MetricType.COUNTER, count=3, sum=3.0)
    result.timeseries = [TimeBucket(t=1.0, metrics={"http_reqs": {"count": 3.0}})]
    path = tmp / "good.json"
    path.write_text(result.to_json() + "\n")
    return path


def edit_result(edit: Callable[[str], str]) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        text = good_result(tmp).read_text()
        changed = edit(text)
        assert changed != text
        path = tmp / "bad.json"
        path.write_text(changed)
        return path

    return make


def corrupt_hdr(text: str) -> str:
    data = json.loads(text)
    hdr = data["metrics"]["http_req_duration"]["hdr"]
    data["metrics"]["http_req_duration"]["hdr"] = hdr[:16] + "A" * 8 + hdr[24:]
    return json.dumps(data, indent=2)


def file_with(name: str, text: str) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        path = tmp / name
        path.write_text(text)
        return path

    return make


NDJSON_NAN = (
    '{"type":"Metric","data":{"name":"http_reqs","type":"counter","contains":"default","thresholds":[],"submetrics":null},"metric":"http_reqs"}\n'
    '{"type":"Point","data":{"time":"2024-01-01T00:00:00Z","value":NaN,"tags":{}},"metric":"http_reqs"}\n'
)
BOMB = "".join(f"{k}: &{k} [{', '.join(['*' + p] * 9)}]\n" for p, k in zip("abcdefgh", "bcdefghi", strict=True))
BOMB = 'a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]\n' + BOMB + "requests: *i\n"
PY_NAN = 'options = {"vus": 1, "duration": float("nan")}\nasync def default(vu):\n    pass\n'
YAML_SCENARIO = "base_url: http://127.0.0.1:9\noptions:\n  scenarios:\n    s: {{executor: constant-arrival-rate, {params}, duration: 2s, preAllocatedVUs: 1}}\nrequests:\n  - url: /\n"
DUP_YAML = "requests:\n  - url: http://127.0.0.1:9/\n    name: a\n    name: b\n"

# (id, argv builder given tmp_path, what the one error line must mention)
CASES: list[tuple[str, Callable[[Path], list[str]], str]] = [
    ("vus-huge", lambda t: ["load", "run", DEAD, "--vus", "99999999999"], "100000"),
    ("vus-negative", lambda t: ["load", "run", DEAD, "--vus", "-1"], "--vus"),
    ("max-vus-negative", lambda t: ["load", "run", DEAD, "--rate", "5", "--max-vus", "-1"], "--max-vus"),
    ("max-vus-huge", lambda t: ["load", "run", DEAD, "--rate", "5", "--max-vus", "99999999999"], "100000"),
    ("rate-inf", lambda t: ["load", "run", DEAD, "--rate", "inf"], "--rate"),
    ("rate-nan", lambda t: ["load", "run", DEAD, "--rate", "nan"], "--rate"),
    ("rate-1e308", lambda t: ["load", "run", DEAD, "--rate", "1e308"], "limit"),
    ("rate-negative", lambda t: ["load", "run", DEAD, "--rate", "-3"], "--rate"),
    ("duration-huge", lambda t: ["load", "run", DEAD, "--duration", "99999999h"], "limit"),
    ("iterations-huge", lambda t: ["load", "run", DEAD, "--iterations", "99999999999999"], "--iterations"),
    ("method-with-space", lambda t: ["load", "run", DEAD, "-X", "GE T"], "method"),
    ("header-crlf", lambda t: ["load", "run", DEAD, "-H", "X-A: b\r\nX-Evil: 1"], "line breaks"),
    ("header-bad-name", lambda t: ["load", "run", DEAD, "-H", "X A: b"], "header name"),
    ("out-json-directory", lambda t: ["load", "run", DEAD, "--out", f"json={t}"], "folder"),
    ("output-missing-folder", lambda t: ["load", "run", DEAD, "-o", f"assay={t / 'no' / 'r.json'}"], "does not exist"),
    ("python-duration-nan", lambda t: ["load", "run", str(file_with("nan.py", PY_NAN)(t))], "nan.py"),
    ("yaml-rate-inf", lambda t: ["load", "run", str(file_with("s.yaml", YAML_SCENARIO.format(params="rate: .inf"))(t))], "rate"),
    ("yaml-rate-1e308", lambda t: ["load", "run", str(file_with("s.yaml", YAML_SCENARIO.format(params="rate: 1e308"))(t))], "limit"),
    ("yaml-max-vus-huge", lambda t: ["load", "run", str(file_with("s.yaml", YAML_SCENARIO.format(params="rate: 5, maxVUs: 99999999999"))(t))], "maxVUs"),
    ("yaml-alias-bomb", lambda t: ["load", "run", str(file_with("bomb.yaml", BOMB)(t))], "bomb.yaml:"),
    ("yaml-duplicate-key", lambda t: ["load", "run", str(file_with("dup.yaml", DUP_YAML)(t))], "first at line 3"),
    ("show-5000-digit-int", lambda t: ["results", "show", str(edit_result(lambda s: s.replace('"count": 3', '"count": ' + "9" * 5000, 1))(t))], "digits"),
    ("show-1e999", lambda t: ["results", "show", str(edit_result(lambda s: s.replace('"sum": 3.0', '"sum": 1e999', 1))(t))], "1e999"),
    ("show-nan-ndjson", lambda t: ["results", "show", str(file_with("k6.ndjson", NDJSON_NAN)(t))], "k6.ndjson:2:"),
    ("show-deep-nesting", lambda t: ["results", "show", str(file_with("deep.json", '{"schema": "assay.run/1", "extra": ' + '{"a": ' * 100_000 + "1" + "}" * 100_001)(t))], "nested"),
    ("show-duplicate-schema", lambda t: ["results", "show", str(edit_result(lambda s: s.replace('"schema": "assay.run/1",', '"schema": "assay.run/1",\n  "schema": "x",', 1))(t))], "duplicate key 'schema'"),
    ("show-corrupt-histogram", lambda t: ["results", "show", str(edit_result(corrupt_hdr)(t))], "histogram"),
    ("convert-corrupt-histogram", lambda t: ["results", "convert", str(edit_result(corrupt_hdr)(t)), "--to", "k6-summary"], "histogram"),
    ("slo-check-corrupt-histogram", lambda t: ["slo", "check", str(edit_result(corrupt_hdr)(t)), "--slo", str(file_with("slo.yaml", SLO)(t))], "histogram"),
]
SLO = "objectives:\n  - sli: http_req_duration\n    aggregation: p(95)\n    pass: ['<500']\n"


@pytest.mark.parametrize("build, mentions", [(b, m) for _, b, m in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_located_line_and_exit_64(build: Callable[[Path], list[str]], mentions: str, tmp_path: Path) -> None:
    argv = build(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "assay", *argv], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 64, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ") and mentions in lines[0], lines[0]
