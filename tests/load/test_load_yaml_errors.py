"""Bad YAML scenarios: one located line per problem, exit 64 from the CLI, before any traffic."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from assay.errors import ExitCode, UsageError
from assay.load.loaders import load_scenario
from assay.load.scenario import ScenarioError
from assay.load.spec import ScenarioFile
from assay.load.yaml.compile import YamlScenarioError, load_yaml_scenario

DATA = Path(__file__).parent / "data_yaml"


def errors_of(tmp_path: Path, text: str) -> str:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(YamlScenarioError) as info:
        load_yaml_scenario(path)
    assert isinstance(info.value, ScenarioError) and isinstance(info.value, UsageError)
    assert info.value.exit_code == ExitCode.USAGE
    return str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("requests:\n  - urll: /x\n", "bad.yaml:2:5: requests[0].urll: unknown key 'urll'; did you mean 'url'?"),
        (
            "requests:\n  - url: /x\n    chek: {status: 200}\n",
            "bad.yaml:3:5: requests[0].chek: unknown key 'chek'; did you mean 'check'?",
        ),
        (
            "requests:\n  - url: /x\n    method: FETCH\n",
            "bad.yaml:3:5: requests[0].method: value error, method must be one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS",
        ),
        (
            "requests:\n  - url: /x\n    capture: {id: {jsn: $.id}}\n",
            "bad.yaml:3:20: requests[0].capture.id.jsn: unknown key 'jsn'; did you mean 'json'?",
        ),
        (
            "options:\n  scenarios:\n    s: {executor: constant-vus, vus: 1, duraton: 1s}\nrequests: [{url: /x}]\n",
            "bad.yaml:3:41: options.scenarios.s.duraton: unknown key 'duraton'; did you mean 'duration'?",
        ),
        (
            "options:\n  scenarios:\n    s: {executor: constant-vus, duration: 1s, rate: 5}\nrequests: [{url: /x}]\n",
            "bad.yaml:3:5: options.scenarios.s: executor constant-vus does not take rate",
        ),
        (
            "options:\n  scenarios:\n    s: {executor: constant-arrival-rate, rate: 5, duration: 1s}\nrequests: [{url: /x}]\n",
            "bad.yaml:3:5: options.scenarios.s: executor constant-arrival-rate needs preAllocatedVUs",
        ),
        (
            "options:\n  duration: soon\nrequests: [{url: /x}]\n",
            "bad.yaml:2:3: options.duration: value error, expected a duration such as '500ms', '2s' or '1m30s'",
        ),
        ("base_url: http://h\n", "bad.yaml: nothing to run: add a `requests` (or `flow`) list or named `flows`"),
        ("requests: [{url: /a}]\nflow: [{url: /b}]\n", "give either `requests` or `flow`"),
        (
            "requests:\n  - url: /x\n    check: {status: 2xy}\n",
            "bad.yaml:3:13: requests[0].check.status: value error, status must be a number, a list of numbers or a class such as '2xx'",
        ),
        ("requests:\n  - url: /x\n   bad: [\n", "bad.yaml:3:4: invalid YAML"),
    ],
)
def test_shape_errors_are_located(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in errors_of(tmp_path, text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "base_url: http://h\nrequests:\n  - url: /items/{{ idd }}\n",
            "bad.yaml:3:5: requests[0].url: unknown name 'idd' in url; known names: env, vu",
        ),
        (
            "base_url: http://h\nvariables: {tenant: a}\nrequests:\n  - url: /x\n    headers: {X-T: '{{ tennant }}'}\n",
            "bad.yaml:5:5: requests[0].headers: unknown name 'tennant' in headers.X-T; did you mean 'tenant'?",
        ),
        (
            "base_url: http://h\nrequests:\n  - url: /x/{{ random.uid }}\n",
            "requests[0].url: unknown function 'random.uid'; did you mean 'random.uuid'?",
        ),
        (
            "base_url: http://h\nrequests:\n  - url: \"/x/{{ vu.id | uper }}\"\n",
            "requests[0].url: unknown filter 'uper'; did you mean 'upper'?",
        ),
        (
            "base_url: http://h\nrequests:\n  - url: /x\n    json: {a: '{{ vu.id '}\n",
            "requests[0].json: unclosed '{{' in json",
        ),
        (
            "base_url: http://h\nrequests:\n  - url: /x\n    capture: {id: {json: '$.a['}}\n",
            "bad.yaml:4:15: requests[0].capture.id: cannot read JSON path '$.a[' at '['",
        ),
        (
            "base_url: http://h\nrequests:\n  - url: /x\n    capture: {id: 'id'}\n",
            "requests[0].capture.id: a JSON path starts with '$'",
        ),
        (
            "base_url: http://h\nrequests:\n  - url: /x\n    capture: {id: {regex: 'a(b', group: 1}}\n",
            "requests[0].capture.id: invalid regex 'a(b'",
        ),
        (
            "base_url: http://h\nrequests:\n  - url: /x\n    capture: {id: {regex: 'ab', group: 2}}\n",
            "regex 'ab' has 0 groups, so group 2 does not exist",
        ),
        (
            "base_url: http://h\nrequests:\n  - url: /x\n    check: {latency_ms: fast}\n",
            "bad.yaml:4:13: requests[0].check.latency_ms: latency_ms expects '<300', '<=250', '>5' or a number of ms, got 'fast'",
        ),
        (
            "base_url: http://h\nrequests:\n  - url: /x\n    check: {json: {'$.a': {matches: '('}}}\n",
            "requests[0].check.json.$.a: invalid regex '('",
        ),
        (
            "base_url: http://h\ndata:\n  users: {file: missing.csv}\nrequests: [{url: /x}]\n",
            "bad.yaml:3:11: data.users.file: data file",
        ),
        (
            "base_url: http://h\nrequests:\n  - {url: /a, weight: 3}\n  - {url: /b}\n",
            "bad.yaml:4:5: requests[1]: every entry of a weighted list needs a `weight`",
        ),
        (
            "base_url: http://h\nrequests:\n  - {url: /a, weight: 0}\n  - {url: /b, weight: 0}\n",
            "the weights add up to 0",
        ),
        (
            # a capture made in one weighted branch is not there in the request after the choice
            "base_url: http://h\nrequests:\n  - flow:\n    - {weight: 1, url: /a, capture: {id: $.id}}\n    - {weight: 1, url: /b}\n"
            "  - url: /c/{{ id }}\n",
            "bad.yaml:6:5: requests[1].url: unknown name 'id' in url",
        ),
        (
            "base_url: http://h\noptions:\n  scenarios:\n    s: {executor: constant-vus, duration: 1s, exec: raed}\n"
            "flows:\n  read: [{url: /x}]\n",
            "bad.yaml:4:47: options.scenarios.s.exec: exec 'raed' names no flow; did you mean 'read'?",
        ),
        (
            "base_url: http://h\noptions:\n  thresholds:\n    http_req_duraton: ['p(95)<1']\nrequests: [{url: /x}]\n",
            "bad.yaml:4:5: options.thresholds.http_req_duraton: unknown metric 'http_req_duraton'; did you mean 'http_req_duration'?",
        ),
        (
            "base_url: http://h\noptions:\n  thresholds:\n    http_req_failed: ['p(95)<1']\nrequests: [{url: /x}]\n",
            "bad.yaml:4:23: options.thresholds.http_req_failed[0]: threshold 'p(95)<1' on http_req_failed: a rate metric allows rate",
        ),
        (
            "base_url: http://h\noptions:\n  thresholds:\n    'http_req_duration{name}': ['p(95)<1']\nrequests: [{url: /x}]\n",
            "must look like key:value",
        ),
        (
            "base_url: '{{ env.NO_SUCH_VARIABLE_HERE }}'\nrequests: [{url: /x}]\n",
            "bad.yaml:1:1: base_url: base_url must start with http:// or https://",
        ),
        (
            "base_url: http://h\noptions: {discardResponseBodies: true}\nrequests:\n  - {url: /x, capture: {id: $.id}}\n",
            "discardResponseBodies drops the bodies that these captures and checks read: GET /x capture id",
        ),
        (
            "base_url: http://h\nprofile: {name: smoke, duration: 10s}\noptions: {vus: 3}\nrequests: [{url: /x}]\n",
            "`profile` builds the scenarios itself; remove options.vus or the profile",
        ),
        (
            "base_url: http://h\nrequests:\n  - ws: /s\n    session:\n      - {send: hi, ping: true}\n",
            "bad.yaml:5:9: requests[0].session[0]: each WebSocket action is one of: send/json (with optional expect), expect, ping, sleep",
        ),
        (
            "base_url: http://h\nrequests:\n  - ws: /s\n    session:\n      - {send: hi, capture: {a: $.a}}\n",
            "requests[0].session[0]: `capture` reads the awaited message: add `expect`",
        ),
        (
            "base_url: http://h\nrequests:\n  - ws: /s\n    session:\n      - {send: hi, expect: {}, capture: {a: {header: X}}}\n",
            "requests[0].session[0].capture.a: a WebSocket message has no headers",
        ),
        (
            "base_url: http://h\nrequests:\n  - ws: /s\n    session:\n      - {send: '{{ usr }}'}\n",
            "bad.yaml:5:10: requests[0].session[0].send: unknown name 'usr' in send",
        ),
        (
            "base_url: http://h\nrequests:\n  - ws: /s\n    sesion: [{ping: true}]\n",
            "bad.yaml:3:5: requests[0]: unknown key 'sesion' in a WebSocket step; did you mean 'session'?",
        ),
        (
            "base_url: http://h\nvariables: {random: 4}\nrequests: [{url: /x}]\n",
            "bad.yaml:2:13: variables.random: variable 'random' hides the built-in or data name of the same name",
        ),
        (
            "base_url: http://h\nrequests:\n  - {url: /x, capture: {env: $.a}}\n",
            "requests[0].capture.env: capture name 'env' would hide the built-in or data name of the same name",
        ),
        (
            "base_url: http://h\nrequests:\n  - {url: /x, group: 'a::b'}\n",
            "requests[0].group: group name 'a::b' must be non-empty and may not contain '::'",
        ),
    ],
)
def test_meaning_errors_are_located_before_any_traffic(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in errors_of(tmp_path, text)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    message = errors_of(
        tmp_path,
        "base_url: http://h\nrequests:\n  - url: /{{ a }}\n  - url: /{{ b }}\n    check: {latency_ms: x}\n",
    )
    lines = message.splitlines()
    assert [line.split(": ")[1] for line in lines] == ["requests[0].url", "requests[1].url", "requests[1].check.latency_ms"]


def test_profile_expands_to_one_scenario_per_flow(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        "base_url: http://h\nprofile: {name: spike, vus: 4, duration: 20s}\noptions: {thresholds: {http_req_failed: ['rate<0.1']}}\n"
        "flows:\n  a: [{url: /a}]\n  b: [{url: /b}]\n"
    )
    loaded = load_scenario(path)
    assert sorted(loaded.options["scenarios"]) == ["spike-a", "spike-b"]
    assert loaded.options["scenarios"]["spike-a"]["exec"] == "a"
    assert loaded.options["scenarios"]["spike-a"]["executor"] == "ramping-vus"
    assert loaded.options["thresholds"] == {"http_req_failed": ["rate<0.1"]}


def test_cli_exits_64_with_located_errors_and_sends_nothing(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("base_url: http://127.0.0.1:9\nrequests:\n  - url: /items/{{ idd }}\n")
    proc = subprocess.run(
        [sys.executable, "-m", "assay", "load", "run", str(path), "--workers", "1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 64, proc.stderr
    assert f"{path}:3:5: requests[0].url: unknown name 'idd' in url" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_json_schema_describes_the_file() -> None:
    schema = ScenarioFile.model_json_schema()
    assert {"options", "profile", "base_url", "variables", "data", "requests", "flows", "think_time"} <= set(schema["properties"])
    proc = subprocess.run(
        [sys.executable, "-m", "assay", "schema", "load-scenario"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    printed = json.loads(proc.stdout)
    assert printed["title"] == "ScenarioFile"
    assert "Request" in printed["$defs"] and "Check" in printed["$defs"]


@pytest.mark.parametrize("name", ["crud.yaml", "weighted.yaml", "login.yaml", "chat.yaml"])
def test_bundled_examples_compile(name: str) -> None:
    loaded = load_yaml_scenario(DATA / name, env={"TARGET": "http://127.0.0.1:1"})
    assert "default" in loaded.functions
