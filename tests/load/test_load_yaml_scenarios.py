"""YAML scenarios against a real local service: CRUD flows, captures, data files, weights, checks.

The compiled iteration functions run on real VUs (assay.load.vu.VU) with the real HTTP
client and metrics sink, so what is asserted is what the engine records.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_load_yaml_ws_app import Served, serve

from assay.load.http.client import HttpClient
from assay.load.loaders import load_scenario
from assay.load.scenario import LoadedScenario
from assay.load.sink import MetricsSink
from assay.load.vu import VU
from assay.load.yaml.checks import CaptureError
from assay.load.yaml.compile import load_yaml_scenario

DATA = Path(__file__).parent / "data_yaml"


@pytest.fixture(scope="module")
def app() -> Iterator[Served]:
    with serve() as served:
        yield served


def run_flow(
    loaded: LoadedScenario, *, iterations: int, vus: int = 1, env: dict[str, str] | None = None, fn: str = "default"
) -> tuple[MetricsSink, list[str]]:
    """Run `iterations` iterations on each of `vus` real VUs, one VU after the other; return sink and errors."""

    async def main() -> tuple[MetricsSink, list[str]]:
        sink = MetricsSink()
        errors: list[str] = []
        users = [VU(id=i + 1, scenario="default", sink=sink, http=HttpClient(sink), env=env or {}) for i in range(vus)]
        func = loaded.function(fn)
        try:
            for it in range(iterations):
                for vu in users:
                    vu.iteration = it
                    try:
                        await func(vu)
                    except CaptureError as exc:
                        errors.append(str(exc))
        finally:
            for vu in users:
                await vu.http.close()
        sink.tick(time.time())
        return sink, errors

    return asyncio.run(main())


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def check_counts(sink: MetricsSink) -> dict[str, tuple[int, int]]:
    return {c.name: (c.passes, c.fails) for c in sink.check_list()}


def count_of(metrics: dict[str, Any], name: str) -> int:
    m = metrics.get(name)
    return 0 if m is None else int(m.count)


def test_crud_flow_runs_with_captures_checks_and_per_vu_data(app: Served) -> None:
    loaded = load_scenario(DATA / "crud.yaml", env={"TARGET": app.url})
    assert loaded.format == "yaml"
    assert loaded.options["scenarios"]["crud"] == {"executor": "shared-iterations", "vus": 2, "iterations": 6}
    assert loaded.options["thresholds"]["checks"] == ["rate==1"]

    sink, errors = run_flow(loaded, iterations=3, vus=2, env={"TARGET": app.url})

    assert errors == []
    checks = check_counts(sink)
    assert checks["create: status is 201"] == (6, 0)
    assert checks["create: $.label == '{{ label }}'"] == (6, 0)
    assert checks["create: $.qty type 'integer' and >= 1 and <= 9"] == (6, 0)
    assert checks["read: $.owner == '{{ users.email }}'"] == (6, 0)
    assert checks["read: $.id == '{{ id }}'"] == (6, 0)
    assert checks["update: body contains '-v2'"] == (6, 0)
    assert checks["delete: status is 204"] == (6, 0)
    assert all(fails == 0 for _, fails in checks.values()), checks
    # every item was created and deleted again; each VU kept its own user (per_vu data)
    assert not [i for i in app.state.items.values() if str(i.get("label", "")).startswith("item-")]
    assert {h["x-tenant"] for h in app.state.seen_headers} == {"acme"}
    assert {h["content-type"] for h in app.state.seen_headers} == {"application/json"}
    metrics = sink.to_metrics()
    for name in ("create", "read", "update", "delete"):
        assert count_of(metrics, f"http_reqs{{name:{name}}}") == 6
    assert metrics["http_req_failed"].passes == 0

def test_weighted_choice_follows_weights(app: Served) -> None:
    loaded = load_yaml_scenario(DATA / "weighted.yaml", env={"TARGET": app.url})
    n = 1000
    sink, errors = run_flow(loaded, iterations=n, env={"TARGET": app.url})
    assert errors == []
    metrics = sink.to_metrics()
    observed = {
        "create": count_of(metrics, "http_reqs{name:create}"),
        "list": count_of(metrics, "http_reqs{name:list}"),
        "read-back": count_of(metrics, "http_reqs{name:rb-read}"),
        "delete-missing": count_of(metrics, "http_reqs{name:delete-missing}"),
    }
    assert sum(observed.values()) == n
    # the read-back flow always runs both its requests, inside its group
    assert count_of(metrics, "http_reqs{name:rb-create}") == observed["read-back"]
    for name, weight in {"create": 0.4, "list": 0.3, "read-back": 0.2, "delete-missing": 0.1}.items():
        sigma = (n * weight * (1 - weight)) ** 0.5
        assert abs(observed[name] - n * weight) < 5 * sigma, (name, observed)
    checks = check_counts(sink)
    assert checks["rb-read: status is 200"] == (observed["read-back"], 0)
    assert checks["delete-missing: status is 404"] == (observed["delete-missing"], 0)
    assert any(c.path == "::read-back::rb-read: status is 200" for c in sink.check_list())


def test_regex_and_header_captures_feed_later_requests_with_shared_data(app: Served) -> None:
    loaded = load_yaml_scenario(DATA / "login.yaml", env={"TARGET": app.url})
    sink, errors = run_flow(loaded, iterations=6, vus=1, env={"TARGET": app.url})
    assert errors == []
    checks = check_counts(sink)
    assert checks["login: status is 200"] == (6, 0)
    assert checks["whoami: $.user == '{{ users.user }}'"] == (6, 0)
    assert checks["echo: $.query.token == '{{ token }}'"] == (6, 0)
    assert checks["echo: $.body contains 'price='"] == (6, 0)
    assert all(f == 0 for _, f in checks.values()), checks
    # shared sequential data: each iteration took the next user, wrapping after 3
    assert app.state.hits["POST /login"] >= 6


def test_shared_sequential_rows_are_handed_out_in_order(app: Served, tmp_path: Path) -> None:
    (tmp_path / "rows.csv").write_text("n\n1\n2\n3\n")
    path = write(
        tmp_path,
        f"""
base_url: {app.url}
data:
  rows: {{file: rows.csv, mode: shared}}
  mine: {{file: rows.csv, mode: per_vu}}
requests:
  - method: POST
    url: /echo
    body: "shared={{{{ rows.n }}}} mine={{{{ mine.n }}}} vu={{{{ vu.id }}}}"
    capture: {{got: "$.body"}}
    check: {{status: 200}}
""",
    )
    loaded = load_yaml_scenario(path)
    app.state.echo_bodies.clear()
    run_flow(loaded, iterations=3, vus=2)
    assert app.state.echo_bodies == [
        "shared=1 mine=1 vu=1",
        "shared=2 mine=2 vu=2",
        "shared=3 mine=1 vu=1",
        "shared=1 mine=2 vu=2",
        "shared=2 mine=1 vu=1",
        "shared=3 mine=2 vu=2",
    ]


def test_failing_checks_are_counted_not_raised(app: Served, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"""
base_url: {app.url}
requests:
  - name: slow
    url: /slow?ms=60
    check:
      status: 201
      body_contains: nope
      body_not_contains: slow
      latency_ms: ">=50"
  - name: too-slow
    url: /slow?ms=60
    check: {{latency_ms: 5, status: 2xx, headers: {{X-Missing: absent}}}}
  - name: missing
    url: /items/424242
    check:
      status: 200
      json: {{"$.id": exists, "$.error": "not found", "$.nothing": absent}}
""",
    )
    sink, errors = run_flow(load_yaml_scenario(path), iterations=2)
    assert errors == []
    checks = check_counts(sink)
    assert checks["slow: status is 201"] == (0, 2)
    assert checks["slow: body contains 'nope'"] == (0, 2)
    assert checks["slow: body does not contain 'slow'"] == (0, 2)
    assert checks["slow: latency >= 50ms"] == (2, 0)
    assert checks["too-slow: latency < 5ms"] == (0, 2)
    assert checks["too-slow: status is 2xx"] == (2, 0)
    assert checks["too-slow: header X-Missing is absent"] == (2, 0)
    assert checks["missing: status is 200"] == (0, 2)
    assert checks["missing: $.id exists"] == (0, 2)
    assert checks["missing: $.error == 'not found'"] == (2, 0)
    assert checks["missing: $.nothing is absent"] == (2, 0)
    metrics = sink.to_metrics()
    assert metrics["checks"].passes == 10 and metrics["checks"].fails == 12


def test_capture_that_finds_nothing_stops_the_iteration_unless_it_has_a_default(app: Served, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"""
base_url: {app.url}
requests:
  - name: missing
    url: /items/777777
    capture:
      fallback: {{json: "$.id", default: 0}}
      id: {{json: "$.id"}}
  - name: never
    url: /items/{{{{ id }}}}
""",
    )
    sink, errors = run_flow(load_yaml_scenario(path), iterations=2)
    assert len(errors) == 2
    assert "capture 'id': JSON path $.id found nothing in the response (status 404)" in errors[0]
    assert count_of(sink.to_metrics(), "http_reqs{name:never}") == 0


def test_named_flows_run_per_scenario_exec(app: Served, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"""
base_url: {app.url}
options:
  scenarios:
    readers: {{executor: constant-vus, vus: 1, duration: 1s, exec: read}}
    writers: {{executor: per-vu-iterations, vus: 1, iterations: 1, exec: write}}
flows:
  read:
    - {{url: /items, check: {{status: 200}}}}
  write:
    - {{method: POST, url: /items, json: {{w: true}}, check: {{status: 201}}}}
""",
    )
    loaded = load_yaml_scenario(path)
    assert sorted(loaded.functions) == ["read", "write"]
    sink, _ = run_flow(loaded, iterations=1, fn="write")
    assert check_counts(sink) == {"POST /items: status is 201": (1, 0)}


def run_cli(path: Path, out_dir: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    export = out_dir / f"{path.stem}-summary.json"
    proc = subprocess.run(
        [sys.executable, "-m", "assay", "load", "run", str(path), "--quiet", "--summary-export", str(export), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return proc, json.loads(export.read_text()) if export.exists() else {}


def test_cli_runs_the_crud_example_and_gates_on_its_thresholds(app: Served, tmp_path: Path) -> None:
    proc, summary = run_cli(DATA / "crud.yaml", tmp_path, "-e", f"TARGET={app.url}", "--workers", "1")
    assert proc.returncode == 0, proc.stderr
    assert summary["metrics"]["iterations"]["count"] == 6
    assert summary["metrics"]["checks"]["value"] == 1.0 and summary["metrics"]["checks"]["fails"] == 0
    assert summary["metrics"]["http_req_duration{name:create}"]["thresholds"] == {"p(95)<2000": False}
    assert summary["root_group"]["checks"]["create: status is 201"]["passes"] == 6


def test_cli_exits_99_when_a_yaml_threshold_is_crossed(app: Served, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"""
base_url: {app.url}
options:
  scenarios:
    s: {{executor: shared-iterations, vus: 1, iterations: 3}}
  thresholds:
    checks: ["rate>0.99"]
    http_req_duration{{name:slow}}: ["min>=39"]
requests:
  - name: slow
    url: /slow?ms=40
    check: {{status: 201}}
""",
    )
    proc, summary = run_cli(path, tmp_path, "--workers", "1")
    assert proc.returncode == 99, proc.stderr
    assert summary["metrics"]["checks"]["thresholds"] == {"rate>0.99": True}  # k6's flag: true means failed
    assert summary["metrics"]["http_req_duration{name:slow}"]["thresholds"] == {"min>=39": False}


def test_per_vu_rows_stay_distinct_across_worker_processes(app: Served, tmp_path: Path) -> None:
    (tmp_path / "rows.csv").write_text("n\n1\n2\n3\n4\n")
    path = write(
        tmp_path,
        f"""
base_url: {app.url}
options:
  scenarios:
    s: {{executor: per-vu-iterations, vus: 4, iterations: 2}}
data:
  mine: {{file: rows.csv, mode: per_vu}}
requests:
  - {{method: POST, url: /echo, body: "vu={{{{ vu.id }}}} row={{{{ mine.n }}}}"}}
""",
    )
    app.state.echo_bodies.clear()
    proc, _ = run_cli(path, tmp_path, "--workers", "2")
    assert proc.returncode == 0, proc.stderr
    assert sorted(app.state.echo_bodies) == [f"vu={v} row={v}" for v in (1, 1, 2, 2, 3, 3, 4, 4)]


def test_websocket_sessions_in_yaml(app: Served) -> None:
    loaded = load_yaml_scenario(DATA / "chat.yaml", env={"TARGET": app.url})
    sink, errors = run_flow(loaded, iterations=2, vus=2)
    assert errors == []
    checks = check_counts(sink)
    assert checks == {
        "echo: message 1 body contains 'hello {{ vu.id }}'": (4, 0),
        "echo: message 2 $.op == 'sub' and $.user type 'integer'": (4, 0),
        "echo: message 5 body matches '^bye \\\\d+$'": (4, 0),
    }
    metrics = sink.to_metrics()
    assert metrics["ws_sessions"].sum == 4
    assert metrics["ws_msgs_sent"].sum == 12 and metrics["ws_msgs_received"].sum == 12
    assert metrics["ws_ping"].count == 4
    latency = metrics["ws_msg_latency"]
    assert latency.count == 12 and latency.max is not None and latency.max >= 19  # the first reply waits 20 ms (asyncio timers may fire ~1 ms early)


def test_websocket_expectation_that_times_out_fails_its_check(app: Served, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"""
base_url: {app.url}
requests:
  - name: quiet
    ws: /ws/subscribe
    session:
      - expect: {{}}
        timeout: 100ms
  - name: echo
    ws: "{app.ws_url}/ws/echo"
    session:
      - send: "x"
        expect: {{contains: "never"}}
        timeout: 100ms
        capture: {{got: {{regex: "(.*)"}}}}
""",
    )
    sink, errors = run_flow(load_yaml_scenario(path), iterations=1)
    assert errors == ["capture 'got': no matching WebSocket reply within 0.1s"]
    assert check_counts(sink) == {"quiet: message 1 arrives": (0, 1), "echo: message 1 body contains 'never'": (0, 1)}


def test_cli_runs_the_websocket_example(app: Served, tmp_path: Path) -> None:
    proc, summary = run_cli(DATA / "chat.yaml", tmp_path, "-e", f"TARGET={app.url}", "--workers", "1")
    assert proc.returncode == 0, proc.stderr
    m = summary["metrics"]
    assert m["ws_sessions"]["count"] == 4 and m["ws_sessions"]["thresholds"] == {"count==4": False}
    assert m["ws_msg_latency"]["thresholds"] == {"p(95)<5000": False}
    assert m["checks"]["value"] == 1.0
