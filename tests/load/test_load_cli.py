"""`assay load run` end to end: exit codes, k6 summary-export shape, outputs, bad input, Ctrl-C."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from assay.cli.app import main
from assay.formats import load_result
from assay.harness.ports import free_port

ASSAY = [sys.executable, "-m", "assay"]


def assay(*args: str) -> subprocess.CompletedProcess[str]:
    """Run `assay load run ARGS` in this process (the CLI's real main(), exit code included)."""
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(["load", "run", *args])
        except SystemExit as exc:
            code = int(exc.code or 0)
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def assay_process(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The same in a fresh process (for worker processes and signals)."""
    return subprocess.run([*ASSAY, "load", "run", *args], capture_output=True, text=True, timeout=timeout)


def served(target_url: str) -> int:
    with urllib.request.urlopen(target_url + "/count") as resp:
        return int(resp.read())


def wait_until_served(target_url: str, at_least: int, timeout: float = 60.0) -> None:
    """Wait until the target has answered `at_least` more requests: start-up time varies with the box's load."""
    start, polls = served(target_url), 0
    deadline = time.monotonic() + timeout
    while served(target_url) - start - (polls := polls + 1) < at_least:  # each /count is counted too
        assert time.monotonic() < deadline, "the load run never started sending"
        time.sleep(0.2)


SCENARIO = '''
import os
from assay.load import Trend
step = Trend("step_time", contains="time")
options = {
    "scenarios": {"main": {"executor": "per-vu-iterations", "vus": 2, "iterations": 5, "tags": {"team": "qa"}}},
    "thresholds": {"checks": ["rate>0.99"], "http_req_duration{name:item}": ["p(95)<5000"], "step_time": ["max<100000"]},
}
def setup(vu):
    return {"base": os.environ["BASE"]}
async def default(vu):
    async with vu.group("read"):
        res = await vu.http.get(vu.data["base"] + "/json", tags={"name": "item"})
        vu.check(res, {"status is 200": lambda r: r.status == 200, "has id": lambda r: r.json("id") == 7})
    step.add(res.timings.duration)
'''


def test_python_scenario_summary_export_and_outputs(tmp_path: Path, target_url: str) -> None:
    script = tmp_path / "scenario.py"
    script.write_text(SCENARIO)
    export, result, nd, table = tmp_path / "summary.json", tmp_path / "result.json", tmp_path / "ts.ndjson", tmp_path / "ts.csv"
    proc = assay(str(script), "-e", f"BASE={target_url}", "--workers", "1", "--summary-export", str(export),
                 "-o", f"assay={result}", "--out", f"json={nd}", "-o", f"csv={table}")
    assert proc.returncode == 0, proc.stderr
    assert "█ read" in proc.stdout and "✓ status is 200" in proc.stdout

    summary = json.loads(export.read_text())
    assert set(summary) == {"root_group", "metrics"}
    root = summary["root_group"]
    assert root["path"] == "" and root["id"] == "d41d8cd98f00b204e9800998ecf8427e"
    read = root["groups"]["read"]
    assert read["path"] == "::read" and read["checks"]["has id"]["passes"] == 10
    metrics = summary["metrics"]
    assert metrics["http_reqs"]["count"] == 10
    assert set(metrics["http_req_duration"]) >= {"avg", "min", "med", "max", "p(90)", "p(95)"}
    assert metrics["checks"]["value"] == 1.0 and metrics["checks"]["passes"] == 20  # a rate's `rate` is `value` here
    assert metrics["http_req_duration{name:item}"]["thresholds"] == {"p(95)<5000": False}  # false = not failed
    assert metrics["step_time"]["thresholds"] == {"max<100000": False}
    assert metrics["iterations"]["count"] == 10

    run = json.loads(result.read_text())
    assert run["schema"] == "assay.run/1" and run["kind"] == "load" and run["status"] == "passed"
    assert run["metrics"]["http_reqs{team:qa}"]["sum"] == 10
    assert "git_sha" in run["labels"] or "host" in run["labels"]

    # k6's per-sample shapes: Metric lines, then one Point per sample; one CSV row per sample
    lines = [json.loads(line) for line in nd.read_text().splitlines()]
    declared = [x["metric"] for x in lines if x["type"] == "Metric"]
    assert len(declared) == len(set(declared)) and {"http_reqs", "http_req_duration", "checks", "step_time"} <= set(declared)
    points = [x for x in lines if x["type"] == "Point"]
    durations = [x for x in points if x["metric"] == "http_req_duration"]
    assert len(durations) == 10 and set(durations[0]["data"]) == {"time", "value", "tags"}
    assert durations[0]["data"]["tags"]["name"] == "item" and durations[0]["data"]["tags"]["group"] == "::read"
    # as k6: `url` takes the name the script set, `proto` the answer's protocol, `group` is "" at the root
    assert durations[0]["data"]["tags"]["url"] == "item" and durations[0]["data"]["tags"]["proto"] == "HTTP/1.1"
    assert all(x["data"]["tags"]["group"] == "" and x["data"]["tags"]["scenario"] == "main" for x in points if x["metric"] == "iterations")
    assert sum(x["data"]["value"] for x in points if x["metric"] == "http_reqs") == 10
    rows = list(csv.DictReader(table.open()))
    assert list(rows[0])[:5] == ["metric_name", "timestamp", "metric_value", "check", "error"]
    assert sum(1 for r in rows if r["metric_name"] == "http_req_duration") == 10
    assert {r["check"] for r in rows if r["metric_name"] == "checks"} == {"status is 200", "has id"}
    assert {(r["url"], r["proto"]) for r in rows if r["metric_name"] == "http_reqs"} == {("item", "HTTP/1.1")}
    # `results show|convert` read every file the engine writes, to the same totals
    for path in (nd, table, result):
        back = load_result(path)
        assert back.metrics["http_reqs"].sum == 10 and back.metrics["checks"].passes == 20, path
        assert back.metrics["http_req_duration"].count == 10
    # thresholds travel in the NDJSON's Metric lines, as in k6's
    assert [t.source for t in load_result(nd).metrics["http_req_duration{name:item}"].thresholds] == ["p(95)<5000"]


def test_quick_mode_threshold_crossed_exits_99(tmp_path: Path, target_url: str) -> None:
    export = tmp_path / "s.json"
    proc = assay(target_url + "/", "--vus", "2", "-d", "1s", "--workers", "1", "--threshold", "http_req_duration:p(95)<0.0001",
                 "--threshold", "http_reqs:count>1", "--summary-export", str(export), "-q")
    assert proc.returncode == 99, proc.stderr
    assert "threshold crossed: http_req_duration: p(95)<0.0001" in proc.stderr
    thresholds = json.loads(export.read_text())["metrics"]["http_req_duration"]["thresholds"]
    assert thresholds == {"p(95)<0.0001": True}  # k6's inverted boolean: true = failed


def test_rate_mode_is_an_open_model(tmp_path: Path, target_url: str) -> None:
    result = tmp_path / "r.json"
    proc = assay(target_url + "/", "--rate", "50", "-d", "1s", "--workers", "1", "--result", str(result), "-q")
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads(result.read_text())["metrics"]
    assert metrics["iterations"]["sum"] == 50
    assert metrics["http_req_corrected_duration"]["count"] == 50


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--threshold", "http_req_duration:p(95<1"], "needs a percentile"),
        (["--threshold", "http_reqs:p(95)<1"], "a counter metric allows count, rate"),
        (["--threshold", "nope:avg<1"], "unknown metric 'nope'"),
        (["--rate", "0"], "--rate must be greater than 0"),
        (["--duration", "soon"], "is not a duration"),
        (["--out", "xml=f"], "expected json=FILE, csv=FILE or assay=FILE"),
        (["-o", "run.json"], "-o/--out takes TYPE=FILE as in k6"),
        (["-o", "csv=/no/such/dir/s.csv"], "no folder '/no/such/dir' to write into"),
        (["-o", "json=r.ndjson", "--out-limit", "lots"], "expected a size such as 500MB"),
        (["--profile", "stres"], "unknown profile"),
        (["--workers", "many"], "--workers"),
    ],
)
def test_bad_input_exits_64_before_any_traffic(target_url: str, args: list[str], message: str) -> None:
    before = served(target_url)
    proc = assay(target_url + "/", "-d", "1s", "--workers", "1", *args)
    assert proc.returncode == 64, proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert served(target_url) == before + 1  # only our own /count probe


def test_bad_scenario_files_are_located(tmp_path: Path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("options = {}\nasync def default(vu)\n    pass\n")
    proc = assay(str(broken))
    assert proc.returncode == 64 and f"{broken}:2" in proc.stderr and "syntax error" in proc.stderr

    wrong = tmp_path / "wrong.py"
    wrong.write_text('options = {"scenarios": {"a": {"executor": "constant-vus", "vus": 1, "duration": "1s", "exec": "nope"}}}\n'
                     "async def default(vu):\n    pass\n")
    proc = assay(str(wrong))
    assert proc.returncode == 64 and "no iteration function 'nope' (defined: default)" in proc.stderr

    typo = tmp_path / "typo.py"
    typo.write_text('options = {"vus": 1, "duraton": "1s"}\nasync def default(vu):\n    pass\n')
    proc = assay(str(typo))
    assert proc.returncode == 64 and "options.duraton: unknown option; did you mean 'duration'?" in proc.stderr

    proc = assay(str(tmp_path / "missing.py"))
    assert proc.returncode == 64 and "does not exist" in proc.stderr


def test_unreachable_target_completes_and_counts_errors(tmp_path: Path) -> None:
    result = tmp_path / "r.json"
    dead = free_port()
    proc = assay(f"http://127.0.0.1:{dead}/", "--iterations", "20", "--vus", "2", "--workers", "1", "--result", str(result), "-q")
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads(result.read_text())["metrics"]
    assert metrics["http_req_failed"]["passes"] == 20
    assert metrics["http_reqs{error_code:1212}"]["sum"] == 20


def test_workers_split_iterations_exactly(tmp_path: Path, target_url: str) -> None:
    result = tmp_path / "r.json"
    proc = assay_process(target_url + "/", "--iterations", "101", "--vus", "3", "--workers", "2", "--result", str(result), "-q")
    assert proc.returncode == 0, proc.stderr
    run = json.loads(result.read_text())
    assert run["metrics"]["iterations"]["sum"] == 101
    assert run["metrics"]["http_req_duration"]["count"] == 101
    assert run["extra"]["workers"] == 2


def test_ctrl_c_stops_gracefully_and_writes_results(tmp_path: Path, target_url: str) -> None:
    result = tmp_path / "r.json"
    proc = subprocess.Popen([*ASSAY, "load", "run", target_url + "/delay/20", "--vus", "2", "-d", "30s", "--workers", "1",
                             "--result", str(result), "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    wait_until_served(target_url, 12)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 1, err
    run = json.loads(result.read_text())
    assert run["status"] == "aborted"
    assert run["metrics"]["iterations"]["sum"] > 10
    assert run["duration_s"] < 10


def test_ctrl_c_with_two_workers(tmp_path: Path, target_url: str) -> None:
    result = tmp_path / "r.json"
    proc = subprocess.Popen([*ASSAY, "load", "run", target_url + "/delay/20", "--vus", "4", "-d", "30s", "--workers", "2",
                             "--result", str(result), "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_until_served(target_url, 12)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 1, err
    run = json.loads(result.read_text())
    assert run["status"] == "aborted" and run["extra"]["workers"] == 2
    assert run["metrics"]["iterations"]["sum"] > 10


FLAGS_SCENARIO = '''
import os
options = {"iterations": 3, "summaryTrendStats": ["avg"]}
async def default(vu):
    res = await vu.http.get(os.environ["BASE"] + "/echo")
    vu.check(res, {"user agent": lambda r: r.json()["headers"]["user-agent"] == "flags-test/2.0"})
'''

FLAGS_YAML = '''
base_url: "{{ env.BASE }}"
flow:
  - name: echo
    url: /echo
    check:
      json: {"$.headers.user-agent": "flags-test/2.0"}
think_time: 0
'''


@pytest.mark.parametrize(("name", "text"), [("flags.py", FLAGS_SCENARIO), ("flags.yaml", FLAGS_YAML)])
def test_k6_run_flags_apply_to_python_and_yaml_scenarios(name: str, text: str, tmp_path: Path, target_url: str) -> None:
    """-s ramps VUs instead of the file's iterations; --user-agent and --summary-trend-stats replace its options."""
    script = tmp_path / name
    script.write_text(text)
    result = tmp_path / "r.json"
    proc = assay(str(script), "-s", "0.6s:3", "-s", "0.6s:3", "--user-agent", "flags-test/2.0",
                 "--summary-trend-stats", "med,p(99.5)", "-e", f"BASE={target_url}", "-w", "1", "-q", "--result", str(result))
    assert proc.returncode == 0, proc.stderr
    run = json.loads(result.read_text())
    assert run["trend_stats"] == ["med", "p(99.5)"]
    assert run["metrics"]["vus_max"]["max"] == 3  # ramping-vus up to the stages' target, not the file's 1 VU
    assert run["metrics"]["iterations"]["sum"] > 3
    assert [(c["passes"] > 0, c["fails"]) for c in run["checks"]] == [(True, 0)] * len(run["checks"]) != []


@pytest.mark.parametrize("target_kind", ["python", "url"])
def test_no_connection_reuse_is_refused_where_connections_are_always_kept(target_kind: str, tmp_path: Path, target_url: str) -> None:
    script = tmp_path / "s.py"
    script.write_text(FLAGS_SCENARIO)
    target = str(script) if target_kind == "python" else target_url + "/"
    proc = assay(target, "--no-connection-reuse", "-e", f"BASE={target_url}", "-w", "1", "-q")
    assert proc.returncode == 64, proc.stderr
    assert "--no-connection-reuse: only k6 scripts (.js)" in proc.stderr

    script.write_text(FLAGS_SCENARIO.replace('"iterations": 3', '"iterations": 3, "noConnectionReuse": True'))
    proc = assay(str(script), "-e", f"BASE={target_url}", "-w", "1", "-q")
    assert proc.returncode == 64 and f"{script}: options.noConnectionReuse: only k6 scripts (.js)" in proc.stderr, proc.stderr


def test_json_samples_of_a_request_without_an_answer_carry_url_but_no_proto(tmp_path: Path) -> None:
    """k6 sets `proto` from the response: a refused connection's samples have `url` and `status` 0 only."""
    nd = tmp_path / "s.ndjson"
    url = f"http://127.0.0.1:{free_port()}/"
    proc = assay(url, "--iterations", "2", "--workers", "1", "-q", "-o", f"json={nd}")
    assert proc.returncode == 0, proc.stderr
    tags = [json.loads(line)["data"]["tags"] for line in nd.read_text().splitlines() if '"metric":"http_reqs"' in line and '"Point"' in line]
    assert tags and all(t["url"] == url and t["status"] == "0" and "proto" not in t and t["group"] == "" for t in tags), tags


def test_stages_ramp_a_url_run_and_bad_trend_stats_in_a_file_are_located(tmp_path: Path, target_url: str) -> None:
    result = tmp_path / "r.json"
    proc = assay(target_url + "/", "-s", "0.5s:2", "-s", "0.5s:2", "--workers", "1", "-q", "--result", str(result))
    assert proc.returncode == 0, proc.stderr
    run = json.loads(result.read_text())
    assert run["metrics"]["vus_max"]["max"] == 2 and run["metrics"]["http_reqs"]["sum"] > 0

    script = tmp_path / "bad_stats.py"
    script.write_text('options = {"iterations": 1, "summaryTrendStats": ["avg", "p95"]}\nasync def default(vu):\n    pass\n')
    proc = assay(str(script), "--workers", "1", "-q")
    assert proc.returncode == 64, proc.stderr
    assert "options.summaryTrendStats: 'p95' is not a trend stat" in proc.stderr
