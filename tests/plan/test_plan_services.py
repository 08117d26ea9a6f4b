"""Plan services: readiness waits (HTTP, TCP, command) with retries, a service that never becomes
ready fails clearly naming itself, logs land in the artifacts, and services are always stopped,
also when the plan gets SIGTERM or Ctrl-C in the middle of a step."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from plan_helpers import PlanRun, latest_run

Run = Callable[..., PlanRun]
HERE = Path(__file__).resolve().parent
SERVICE = HERE / "slow_service.py"
GET = HERE / "http_get.py"


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "zombie" not in status.lower()


@pytest.mark.slow
def test_a_slow_service_is_waited_for_and_its_log_captured(run_plan: Run, tmp_path: Path) -> None:
    run = run_plan(f"""\
name: services
services:
  slow:
    command: [python, {SERVICE}, --port, "${{services.slow.port}}", --delay, "1.5", --pidfile, {tmp_path / 'slow.pid'}]
    port: auto
    ready: {{http: "${{services.slow.url}}/health", interval: 0.2s, timeout: 1s, retries: 50}}
  by-tcp:
    command: [python, {SERVICE}, --port, "${{services.by-tcp.port}}", --delay, "0.5"]
    port: auto
    ready: {{tcp: "127.0.0.1:${{services.by-tcp.port}}", interval: 0.2s, retries: 50}}
  by-command:
    command: [python, {SERVICE}, --port, "${{services.by-command.port}}"]
    port: auto
    ready: {{command: "python {GET} ${{services.by-command.url}}/", interval: 0.2s, retries: 50}}
stages:
  s:
    steps:
      - {{name: call, kind: run, command: "python {GET} ${{services.slow.url}}/hello && python {GET} ${{services.by-tcp.url}}/"}}
""")
    assert run.code == 0, run.err + json.dumps(run.report, indent=1)[:3000]
    slow = next(s for s in run.report["services"] if s["name"] == "slow")  # type: ignore[index]
    assert slow["status"] == "stopped" and slow["ready_after_s"] >= 1.4
    log = (run.run_dir / slow["log"]).read_text()  # type: ignore[operator]
    assert "starting, ready in 1.5s" in log and "GET /hello" in log
    assert not _alive(int((tmp_path / "slow.pid").read_text()))


def test_a_service_that_never_becomes_ready_fails_the_night_naming_it(run_plan: Run, tmp_path: Path) -> None:
    run = run_plan(f"""\
name: never
services:
  stuck:
    command: [python, {SERVICE}, --port, "${{services.stuck.port}}", --never, --pidfile, {tmp_path / 'stuck.pid'}]
    port: auto
    ready: {{http: "${{services.stuck.url}}/ready", interval: 0.1s, timeout: 0.5s, retries: 5}}
stages:
  s:
    steps: [{{name: a, kind: run, command: "touch ran"}}]
""")
    assert run.code == 2
    stuck = run.report["services"][0]  # type: ignore[index]
    assert stuck["status"] == "failed"
    assert stuck["error"].startswith("service 'stuck' never became ready: 5 checks 0.1s apart failed; last: http://127.0.0.1:")
    assert "service stuck: service 'stuck' never became ready" in run.report["reasons"][0]  # type: ignore[index]
    assert run.stage("s")["status"] == "skipped" and run.stage("s")["reason"] == "a service did not start"
    assert not (tmp_path / "ran").exists()
    assert not _alive(int((tmp_path / "stuck.pid").read_text()))
    assert "never ready" in (run.run_dir / "services" / "stuck.log").read_text()  # type: ignore[operator]
    assert "never became ready" in run.out and (run.run_dir / "report.html").is_file()  # type: ignore[operator]


def test_a_service_that_exits_while_starting_says_so(run_plan: Run) -> None:
    run = run_plan("""\
name: crash
services:
  crasher: {command: "python -c 'import sys; print(\\"bad config\\"); sys.exit(3)'", port: 1}
stages:
  s:
    steps: [{name: a, kind: run, command: "true"}]
""")
    assert run.code == 2
    error = run.report["services"][0]["error"]  # type: ignore[index]
    assert "service 'crasher' exited with 3 while starting" in error and "bad config" in error


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_step_and_the_services_and_still_writes_the_report(tmp_path: Path, sig: signal.Signals) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(f"""\
name: interrupted
services:
  api:
    command: [python, {SERVICE}, --port, "${{services.api.port}}", --pidfile, {tmp_path / 'api.pid'}]
    port: auto
stages:
  long:
    steps:
      - {{name: fault, kind: fault, type: process.pause, target: "pid:${{services.api.pid}}", duration: 5m, background: true}}
      - {{name: wait, kind: run, command: "echo $$ > step.pid; exec sleep 300"}}
  never:
    needs: [long]
    steps: [{{name: x, kind: run, command: "true"}}]
""")
    artifacts = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "assay", "plan", "run", str(plan), "--artifacts", str(artifacts),
                             "--no-record"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (tmp_path / "step.pid").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert (tmp_path / "step.pid").exists(), proc.stderr.read() if proc.stderr else ""
    api_pid = int((tmp_path / "api.pid").read_text())
    while "T" not in Path(f"/proc/{api_pid}/stat").read_text().split()[2] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "T" in Path(f"/proc/{api_pid}/stat").read_text().split()[2]  # paused by the fault
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=90)
    assert proc.returncode == 2, err
    assert f"stopping: {sig.name}" in err
    run_dir = latest_run(artifacts)
    assert run_dir is not None
    report = json.loads((run_dir / "report.json").read_text())
    assert report["status"] == "aborted" and report["interrupted"] is True
    steps = {s["name"]: s for st in report["stages"] for s in st["steps"]}
    assert steps["wait"]["status"] == "aborted" and steps["x"]["status"] == "skipped"
    assert steps["fault"]["status"] == "passed"  # reverted when the stage ended
    assert not _alive(int((tmp_path / "step.pid").read_text()))
    assert not _alive(api_pid)  # resumed by the fault's revert, then stopped
    assert (run_dir / "report.html").is_file() and "interrupted" in (run_dir / "report.md").read_text().lower()
    assert os.path.exists(run_dir / "junit.xml")


def test_an_existing_service_is_only_health_checked(run_plan: Run, tmp_path: Path) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *a: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        run = run_plan(f"""\
name: existing
services:
  api: {{url: "{url}", ready: {{http: "{url}/healthz", interval: 0.2s, retries: 5}}}}
stages:
  s:
    steps: [{{name: a, kind: run, command: "python {GET} ${{services.api.url}}/used"}}]
""")
    finally:
        server.shutdown()
        server.server_close()
    assert run.code == 0, run.err
    [api] = run.report["services"]  # type: ignore[index]
    assert api["status"] == "checked" and api["url"] == url and api["log"] is None
    assert hits[0] == "/healthz" and "/used" in hits


@pytest.mark.slow
def test_a_fault_step_pauses_a_plan_service_and_reverts(run_plan: Run, tmp_path: Path) -> None:
    run = run_plan(f"""\
name: faulty
services:
  api:
    command: [python, {SERVICE}, --port, "${{services.api.port}}", --pidfile, {tmp_path / 'api.pid'}]
    port: auto
stages:
  s:
    steps:
      - {{name: pause, kind: fault, type: process.pause, target: "pid:${{services.api.pid}}", duration: 1s}}
      - {{name: after, kind: run, command: "python {GET} ${{services.api.url}}/alive"}}
""")
    assert run.code == 0, run.err
    pause = run.step("s.pause")
    assert pause["status"] == "passed" and pause["gates"][0]["name"] == "fault process.pause injected and reverted"
    log = (run.run_dir / "stages" / "s" / "pause" / "step.log").read_text()  # type: ignore[operator]
    assert "process.pause" in log and "reverted" in log
    assert "GET /alive" in (run.run_dir / "services" / "api.log").read_text()  # type: ignore[operator]
