"""`assay contract verify`: pact-python's Verifier with provider states, RunResults and readable mismatches."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from contracts_pactgen import UserStore, handlers, user_provider, write_pacts

from assay.cli.app import main
from assay.contracts.broker.local import LocalBroker
from assay.contracts.client import BrokerClient
from assay.results import RunResult

os.environ.setdefault("PACT_DO_NOT_TRACK", "true")

HANDLERS_MODULE = """
import contracts_store
from contracts_pactgen import handlers
STATES = handlers(contracts_store.STORE)
"""


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(args)
    out = capsys.readouterr()
    return int(exc.value.code or 0), out.out, out.err


def verify_args(url: str, *extra: str, provider: str = "UserAPI") -> list[str]:
    return ["contract", "verify", "--provider", provider, "--provider-base-url", url, *extra]


@pytest.fixture(scope="module")
def pact_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_pacts(tmp_path_factory.mktemp("verify-pacts"), "V4")


@pytest.fixture()
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[UserStore]:
    """A store reachable from a state-handler module loaded by path, as users would write it."""
    import sys
    import types

    s = UserStore()
    mod = types.ModuleType("contracts_store")
    mod.STORE = s  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "contracts_store", mod)
    (tmp_path / "states.py").write_text(HANDLERS_MODULE)
    yield s


def test_contracts_verify_passes_with_python_state_handlers(
    pact_file: Path, store: UserStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with user_provider(store) as url:
        code, out, err = run_cli(
            [
                "contract",
                "verify",
                "--provider",
                "UserAPI",
                "--provider-base-url",
                url,
                "--pact",
                str(pact_file),
                "--state-handlers",
                f"{tmp_path / 'states.py'}:STATES",
                "--out",
                str(tmp_path / "run.json"),
            ],
            capsys,
        )
    assert code == 0, out + err
    assert "2 interactions, 2 passed, 0 failed" in out
    assert ("user exists", "setup", {"id": 42, "name": "Alice"}) in store.state_calls
    assert ("user exists", "teardown", {"id": 42, "name": "Alice"}) in store.state_calls
    run = RunResult.from_json((tmp_path / "run.json").read_text())
    assert run.kind == "contract" and run.status == "passed"
    assert sorted(c.name for c in run.checks) == ["a request for a missing user", "a request for user 42"]
    assert all(c.passes == 1 and c.fails == 0 for c in run.checks)
    assert run.metrics["checks"].passes == 2


def test_contracts_verify_failure_gives_readable_reports(
    pact_file: Path, store: UserStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store.broken = True
    md, xml, res = tmp_path / "r.md", tmp_path / "r.xml", tmp_path / "run.json"
    with user_provider(store) as url:
        code, out, _err = run_cli(
            [
                "contract",
                "verify",
                "--provider",
                "UserAPI",
                "--provider-base-url",
                url,
                "--pact",
                str(pact_file),
                "--state-handlers",
                f"{tmp_path / 'states.py'}:STATES",
                "--markdown",
                str(md),
                "--junit",
                str(xml),
                "--out",
                str(res),
            ],
            capsys,
        )
    assert code == 2
    # console: the request, the side-by-side diff with the failing rule, no raw Rust text dump
    assert "request sent:" in out and "GET /users/42" in out and "Accept: application/json" in out
    failing = [line for line in out.splitlines() if line.lstrip().startswith("✘ $.id")]
    assert failing, out
    assert "42" in failing[0] and '"42"' in failing[0] and "integer" in failing[0]
    assert "$.name" in out and "Alice" in out  # passing paths are shown next to the failing one
    assert "[rule: integer]" in out
    assert "Verifying a pact between" not in out
    # markdown
    text = md.read_text()
    assert "## ❌ UserWeb -> UserAPI: a request for user 42 given user exists" in text
    assert '| ❌ | `$.id` | `42` | `"42"` | integer |' in text
    # junit
    root = ET.fromstring(xml.read_text())
    assert root.get("tests") == "2" and root.get("failures") == "1"
    [failure] = root.iter("failure")
    assert "to be an integer" in failure.get("message", "")
    # run result: one check per interaction
    run = RunResult.from_json(res.read_text())
    assert run.status == "failed"
    by_name = {c.name: c for c in run.checks}
    assert by_name["a request for user 42"].fails == 1 and by_name["a request for a missing user"].passes == 1


class _StateEndpoint(BaseHTTPRequestHandler):
    store: UserStore

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        fns = handlers(type(self).store)
        fn = fns.get(body.get("state"))
        if fn is not None:
            fn(body.get("action", "setup"), body.get("params") or {})
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: Any) -> None:
        pass


def test_contracts_verify_with_url_state_handlers_broker_pending_and_publish(
    pact_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = UserStore()
    _StateEndpoint.store = store
    states = ThreadingHTTPServer(("127.0.0.1", 0), _StateEndpoint)
    threading.Thread(target=states.serve_forever, daemon=True).start()
    state_url = f"http://127.0.0.1:{states.server_address[1]}/provider-states"
    try:
        with LocalBroker() as broker, user_provider(store) as url:
            with BrokerClient(broker.url) as client:
                client.publish([pact_file], version="c1", branch="main")
            common = verify_args(
                url,
                *(
                    "--broker",
                    broker.url,
                    "--main-branch",
                    "--include-pending",
                    "--state-handlers",
                    state_url,
                ),
                *("--publish", "--branch", "main"),
            )
            store.broken = True
            code, out, err = run_cli([*common, "--provider-version", "p1"], capsys)
            assert code == 1, out + err  # pending: failure is a warning, not a gate failure
            assert "pending" in out
            store.broken = False
            code, out, err = run_cli([*common, "--provider-version", "p2"], capsys)
            assert code == 0, out + err
            assert ("user exists", "setup", {"id": 42, "name": "Alice"}) in store.state_calls
            with BrokerClient(broker.url) as client:
                answer = client.request(
                    "GET", "/matrix", params={"q[][pacticipant]": "UserWeb", "q[][version]": "c1"}
                )
            results = {
                r["provider"]["version"]["number"]: r["verificationResult"]["success"]
                for r in answer["matrix"]
            }
            assert results == {"p1": False, "p2": True}
            # no longer pending: a new failure now fails the gate
            store.broken = True
            code, out, _ = run_cli([*common, "--provider-version", "p3"], capsys)
            assert code == 2
    finally:
        states.shutdown()
        states.server_close()


def test_contracts_verify_bad_input_exits_64(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    code, _, err = run_cli(
        [
            "contract",
            "verify",
            "--provider",
            "P",
            "--provider-base-url",
            "http://127.0.0.1:9",
            "--pact",
            str(bad),
        ],
        capsys,
    )
    assert code == 64 and "bad.json:1:2" in err
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"consumer": {"name": "C"}, "provider": {"name": "P"}, "interactions": []}))
    code, _, err = run_cli(
        [
            "contract",
            "verify",
            "--provider",
            "P",
            "--provider-base-url",
            "http://127.0.0.1:9",
            "--pact",
            str(good),
            "--state-handlers",
            "no_such_module_xyz:STATES",
        ],
        capsys,
    )
    assert code == 64 and "cannot import" in err
    code, _, err = run_cli(
        [
            "contract",
            "verify",
            "--provider",
            "P",
            "--provider-base-url",
            "http://127.0.0.1:9",
            "--pact",
            str(good),
            "--publish",
        ],
        capsys,
    )
    assert code == 64 and "--provider-version" in err
    code, _, err = run_cli(
        [
            "contract",
            "verify",
            "--provider",
            "P",
            "--provider-base-url",
            "http://127.0.0.1:9",
            "--pact",
            str(good),
            "--selector",
            "{oops",
        ],
        capsys,
    )
    assert code == 64 and "--selector #1" in err


def test_contracts_verify_status_mismatch_is_named(
    pact_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = UserStore()  # no state handlers: user 42 never exists, so the provider answers 404
    md = tmp_path / "r.md"
    with user_provider(store) as url:
        code, out, _ = run_cli(
            [
                "contract",
                "verify",
                "--provider",
                "UserAPI",
                "--provider-base-url",
                url,
                "--pact",
                str(pact_file),
                "--markdown",
                str(md),
            ],
            capsys,
        )
    assert code == 2
    status_rows = [line for line in out.splitlines() if "status" in line and "│" in line]
    assert any(line.lstrip().startswith("✘") and "200" in line and "404" in line for line in status_rows), out
    assert "| ❌ | status | 200 | 404 | equality |" in md.read_text()


def test_contracts_verify_report_marks_the_missing_key_hides_extras_and_names_rules(
    pact_file: Path, store: UserStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store.without_id = True  # the provider also returns "extra": true, which Pact allows
    md = tmp_path / "r.md"
    args = [
        "--pact",
        str(pact_file),
        "--state-handlers",
        f"{tmp_path / 'states.py'}:STATES",
        "--markdown",
        str(md),
    ]
    with user_provider(store) as url:
        code, out, _ = run_cli(verify_args(url, *args), capsys)
        assert code == 2
        rows = {line.split("│")[0].strip(): line for line in out.splitlines() if "│" in line}
        # the failing row is the missing key itself, not a truncated list of keys at "$"
        assert rows["✘ $.id"].split("│")[2].strip() == "(absent)", out
        assert "integer" in rows["✘ $.id"]
        assert not [k for k in rows if k.endswith("$")], out
        # rows matched by a rule say which rule
        assert rows["$.name"].split("│")[3].strip() == "type"
        assert rows["$.email"].split("│")[3].strip().startswith("regex")
        assert "type(min=1)" in rows["$.tags[0]"]
        # extra provider keys are allowed by Pact: counted, not listed
        assert "$.extra" not in out and "extra value(s)" in out
        assert "| ❌ | `$.id` | `42` | `(absent)` | integer |" in md.read_text()
        assert "$.extra" not in md.read_text()
        code, out, _ = run_cli(verify_args(url, *args, "--show-extra"), capsys)
    assert code == 2
    extra = [line for line in out.splitlines() if "$.extra" in line]
    assert extra and "(allowed)" in extra[0] and not extra[0].lstrip().startswith("✘")


def test_contracts_verify_explicit_pact_ignores_the_broker_from_the_environment(
    pact_file: Path,
    store: UserStore,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store.broken = True
    with LocalBroker() as broker, user_provider(store) as url:
        with BrokerClient(broker.url) as client:
            client.publish([pact_file], version="c1", branch="main")
        base = verify_args(
            url, "--pact", str(pact_file), "--state-handlers", f"{tmp_path / 'states.py'}:STATES"
        )
        monkeypatch.setenv("PACT_BROKER_BASE_URL", broker.url)
        code, out, err = run_cli(base, capsys)
        assert code == 2
        assert "2 interactions, 1 passed, 1 failed" in out, out  # the file only, each failure once
        assert "PACT_BROKER_BASE_URL is not used" in err
        # both sources asked for explicitly: both verified, each result labelled with its source
        code, out, err = run_cli([*base, "--broker", broker.url], capsys)
    assert code == 2
    assert "4 interactions, 2 passed, 2 failed" in out, out
    failed = [line for line in out.splitlines() if line.startswith("✘")]
    assert sorted(line.rsplit("[", 1)[1].split()[0] for line in failed) == ["broker", "file"], failed
    assert any(f"[file {pact_file}]" in line for line in failed)
    assert any(f"[broker {broker.url}]" in line for line in failed)
