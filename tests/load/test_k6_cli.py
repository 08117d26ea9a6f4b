"""`assay load run script.js` and `assay load inspect` end to end: exit codes 64 and 99, located
errors before any traffic, handleSummary outputs, k6's summary-export, two worker processes."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from assay.cli.app import main

SCRIPTS = Path(__file__).resolve().parent / "k6_scripts"
BAD = SCRIPTS / "bad"


def assay(*args: str) -> subprocess.CompletedProcess[str]:
    """Run `assay ARGS` in this process (the CLI's real main(), exit code included)."""
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(list(args))
        except SystemExit as exc:
            code = int(exc.code or 0)
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def served(target_url: str) -> int:
    with urllib.request.urlopen(target_url + "/count") as resp:
        return int(resp.read())


@pytest.mark.parametrize(
    ("script", "located"),
    [
        ("unsupported_api.js", "unsupported_api.js:5: k6/http.asyncRequest is not supported by assay"),
        ("unsupported_twice.js", "unsupported_twice.js:5: k6/http.asyncRequest is not supported by assay"),  # the first use
        ("response_html.js", "response_html.js:5: k6/http.Response.html is not supported by assay: res.html() needs k6/html"),
        ("digest_auth.js", "digest_auth.js:5: k6/http.params.auth=digest is not supported by assay: digest auth"),
        ("unsupported_module.js", "unsupported_module.js:2: k6/browser is not supported by assay"),
        ("extension.js", "extension.js:1: k6/x/kafka is not supported by assay"),
        ("remote_import.js", "remote_import.js:2: remote import 'https://jslib.k6.io/k6-summary/0.0.2/index.js'"),
        ("syntax_error.js", "syntax_error.js:4:11: syntax error"),
        ("request_in_init.js", "not allowed in the init context (outside functions), as in k6 (at request_in_init.js:3)"),
        ("unknown_option.js", "options.iterashuns: unknown option; did you mean 'iterations'?"),
        ("missing_exec.js", "no iteration function 'nothere' (defined: other)"),
    ],
)
def test_bad_scripts_fail_before_any_traffic_with_a_located_error(script: str, located: str, target_url: str) -> None:
    before = served(target_url)
    proc = assay("load", "run", str(BAD / script), "-e", f"BASE={target_url}", "-q", "-w", "1")
    assert proc.returncode == 64, proc.stderr
    assert located in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert served(target_url) == before + 1  # only our own /count


def test_remote_import_names_the_file_to_vendor() -> None:
    proc = assay("load", "run", str(BAD / "remote_import.js"), "-q")
    assert "vendor it: save that file as" in proc.stderr and "import './index.js'" in proc.stderr


def test_crossed_threshold_exits_99_and_export_has_k6_shape(target_url: str, tmp_path: Path) -> None:
    export = tmp_path / "summary.json"
    proc = assay("load", "run", str(SCRIPTS / "thresholds_crossed.js"), "-e", f"BASE={target_url}", "-w", "1",
                 "--summary-export", str(export))
    assert proc.returncode == 99, proc.stderr
    assert "threshold crossed: checks: rate==1" in proc.stderr
    data = json.loads(export.read_text())
    assert data["metrics"]["checks"]["thresholds"] == {"rate==1": True}  # k6's inverted flag: crossed
    assert data["metrics"]["http_reqs"]["count"] == 3
    assert data["root_group"]["checks"]["is 200"]["fails"] == 3


def test_abort_on_fail_stops_the_run_early_and_exits_99(target_url: str, tmp_path: Path) -> None:
    proc = assay("load", "run", str(SCRIPTS / "thresholds_abort.js"), "-e", f"BASE={target_url}", "-w", "1", "-q",
                 "--result", str(tmp_path / "run.json"))
    assert proc.returncode == 99, proc.stderr
    assert "aborted by threshold http_req_failed: rate<0.01" in proc.stderr or "threshold crossed: http_req_failed" in proc.stderr


def test_handle_summary_replaces_the_default_summary(target_url: str, tmp_path: Path) -> None:
    proc = assay("load", "run", str(SCRIPTS / "06_handle_summary.js"), "-e", f"BASE={target_url}",
                 "-e", f"OUT_DIR={tmp_path}", "-w", "1")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("requests=3 failed_rate=0")
    assert "http_req_duration" not in proc.stdout  # no default summary, as in k6
    assert json.loads((tmp_path / "summary.json").read_text()) == {"requests": 3, "ok": True}


def test_handle_summary_output_that_cannot_be_written_is_reported_not_a_crash(target_url: str, tmp_path: Path) -> None:
    """As k6: the other outputs are delivered, the failed one is reported, the exit code is the run's."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    proc = assay("load", "run", str(SCRIPTS / "summary_unwritable.js"), "-e", f"BASE={target_url}",
                 "-e", f"BLOCKER={blocker}", "-w", "1")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("requests=1")
    assert f"handleSummary: could not save the summary to '{blocker}/summary.json'" in proc.stderr
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("args", [("-w", "2"), ("-w", "1", "-d", "1s")], ids=["two-workers", "cli-duration"])
def test_iteration_in_test_is_unique_across_workers_and_under_a_cli_duration(args: tuple[str, ...], tmp_path: Path) -> None:
    """shared-iterations' own numbering is unique across worker processes; `-d 1s` replaces the
    file's iterations with constant-vus, whose iterations are numbered as they first ask."""
    out = tmp_path / "run.json"
    proc = assay("load", "run", str(SCRIPTS / "iteration_numbers.js"), "-q", "--result", str(out), *args)
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads(out.read_text())["metrics"]
    assert {k: v["count"] for k, v in metrics.items() if k.startswith("numbered{n:")} == {f"numbered{{n:{i}}}": 1 for i in range(5)}


def test_two_worker_processes_run_a_script_exactly(target_url: str, tmp_path: Path) -> None:
    """Workers re-load the script from its path (forked processes): totals are the script's."""
    out = tmp_path / "result.json"
    proc = subprocess.run(
        [sys.executable, "-m", "assay", "load", "run", str(SCRIPTS / "01_hello.js"), "-e", f"BASE={target_url}",
         "-w", "2", "-q", "--result", str(out)],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())
    assert result["metrics"]["http_reqs"]["count"] == 5
    assert result["metrics"]["iterations"]["count"] == 5
    assert {c["name"]: c["passes"] for c in result["checks"]} == {"status is 200": 5}
    assert result["source"]["format"] == "assay-load-k6-js"


def test_inspect_lists_uses_with_verdicts() -> None:
    proc = assay("load", "inspect", str(SCRIPTS / "25_ws.js"), "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    apis = {u["api"]: u for u in report["uses"]}
    assert apis["k6/ws.connect"]["supported"] is True
    assert apis["k6/ws.connect"]["lines"] == ["25_ws.js:10"]
    assert report["functions"] == ["default"]
    assert report["ok"] is True


def test_inspect_flags_unsupported_parts_and_exits_64() -> None:
    proc = assay("load", "inspect", str(BAD / "unsupported_api.js"), "--json")
    assert proc.returncode == 64
    report = json.loads(proc.stdout)
    bad = [u for u in report["uses"] if not u["supported"]]
    assert [(u["api"], u["lines"]) for u in bad] == [("k6/http.asyncRequest", ["unsupported_api.js:5"])]
    proc = assay("load", "inspect", str(BAD / "unsupported_twice.js"), "--json")
    apis = {u["api"]: u for u in json.loads(proc.stdout)["uses"]}
    assert apis["k6/http.asyncRequest"]["lines"] == ["unsupported_twice.js:5", "unsupported_twice.js:7"]  # the file's order
    assert apis["k6/http.get"]["lines"] == ["unsupported_twice.js:4", "unsupported_twice.js:6"]
    proc = assay("load", "inspect", str(BAD / "remote_import.js"))
    assert proc.returncode == 64
    assert "refused:" in proc.stdout and "does not run on assay" in proc.stdout


def test_exec_test_abort_exits_108_as_k6(target_url: str, tmp_path: Path) -> None:
    out = tmp_path / "run.json"
    proc = assay("load", "run", str(SCRIPTS / "30_test_abort.js"), "-e", f"BASE={target_url}", "-w", "1", "-q", "--result", str(out))
    assert proc.returncode == 108, proc.stderr
    result = json.loads(out.read_text())
    assert result["status"] == "aborted" and result["extra"]["script_aborted"] == "enough seen"


def _checks(path: Path) -> dict[str, tuple[int, int]]:
    return {c["name"]: (c["passes"], c["fails"]) for c in json.loads(path.read_text())["checks"]}


@pytest.mark.parametrize("workers", ["1", "2"])
def test_k6_run_flags_reach_every_worker_process(workers: str, target_url: str, tmp_path: Path) -> None:
    """-s replaces the script's iterations with ramping-vus; --user-agent, --no-connection-reuse and
    --summary-trend-stats replace its options; worker processes see the same as the parent."""
    out = tmp_path / "run.json"
    stages = [{"duration": "1s", "target": 2}, {"duration": "0.5s", "target": 0}]
    proc = subprocess.run(
        [sys.executable, "-m", "assay", "load", "run", str(SCRIPTS / "cli_flags.js"), "-q", "--result", str(out), "-w", workers,
         "-s", "1s:2", "--stage", "0.5s", "--user-agent", "assay-flags/1.0", "--no-connection-reuse",
         "--summary-trend-stats", "avg,p(99.9),count",
         "-e", f"BASE={target_url}", "-e", "EXECUTOR=ramping-vus", "-e", f"STAGES={json.dumps(stages, separators=(',', ':'))}",
         "-e", "UA=assay-flags/1.0", "-e", "NO_REUSE=1"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    checks = _checks(out)
    assert set(checks) == {"executor", "test.options", "user agent", "connection reuse"}
    assert all(passes > 0 and fails == 0 for passes, fails in checks.values()), checks
    result = json.loads(out.read_text())
    assert result["trend_stats"] == ["avg", "p(99.9)", "count"]


def test_a_cli_duration_reaches_worker_processes_options(target_url: str, tmp_path: Path) -> None:
    """Worker processes rebuild the script from its file: -u/-d must still replace its iterations there."""
    out = tmp_path / "run.json"
    proc = subprocess.run(
        [sys.executable, "-m", "assay", "load", "run", str(SCRIPTS / "cli_flags.js"), "-q", "--result", str(out), "-w", "2",
         "-u", "2", "-d", "1s", "-e", f"BASE={target_url}", "-e", "EXECUTOR=constant-vus"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    checks = _checks(out)
    assert all(passes > 0 and fails == 0 for passes, fails in checks.values()), checks


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("-s", "fast:2"), "--stage 'fast:2' (stage 0)"),
        (("-s", "10s:many"), "the target must be a whole number of VUs"),
        (("-s", ":5"), "needs a duration"),
        (("-s", "1s:2", "-d", "5s"), "--stage cannot be combined with --duration"),
        (("--summary-trend-stats", "avg,p(200)"), "'p(200)' is not a trend stat"),
        (("--summary-trend-stats", "avg,,max"), "expected a comma-separated list"),
        (("--user-agent", "bad\r\nX-Injected: 1"), "--user-agent:"),
    ],
)
def test_bad_k6_run_flags_exit_64_before_any_traffic(args: tuple[str, ...], message: str, target_url: str) -> None:
    before = served(target_url)
    proc = assay("load", "run", str(SCRIPTS / "cli_flags.js"), "-q", "-w", "1", "-e", f"BASE={target_url}", *args)
    assert proc.returncode == 64, proc.stderr
    assert message in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert served(target_url) == before + 1  # only our own /count
