"""`assay broker serve` as a real process, driven by the `assay broker` client commands."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from assay.cli.app import main
from assay.harness.ports import free_port
from assay.harness.process import ServiceProcess

SAMPLE = Path(__file__).parent / "data" / "sample-pact-v4.json"


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(args)
    out = capsys.readouterr()
    return int(exc.value.code or 0), out.out, out.err


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    d = tmp_path_factory.mktemp("served")
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "assay",
        "broker",
        "serve",
        "--port",
        str(port),
        "--db",
        f"sqlite:///{d}/b.db",
        "--write-token",
        "w-tok",
        "--read-token",
        "r-tok",
    ]
    with ServiceProcess(
        cmd,
        health_url=f"http://127.0.0.1:{port}/diagnostic/status/heartbeat",
        start_timeout=30,
        log_path=d / "broker.log",
    ):
        yield f"http://127.0.0.1:{port}"


def test_contracts_broker_cli_commands_against_served_broker(
    served: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "UserWeb-UserAPI.json").write_bytes(SAMPLE.read_bytes())
    b = ["-b", served, "-k", "w-tok"]
    code, out, err = run_cli(
        ["broker", "publish", str(tmp_path), "--version", "1.0.0", "--branch", "main", "--tag", "rc", *b],
        capsys,
    )
    assert code == 0, out + err
    assert "Created UserWeb version 1.0.0 with branch main and tags rc" in out
    code, out, err = run_cli(
        ["broker", "create-environment", "--name", "qa", "--display-name", "QA", *b], capsys
    )
    assert code == 0 and "Created qa environment with UUID" in out, out + err
    code, out, err = run_cli(
        [
            "broker",
            "can-i-deploy",
            "--pacticipant",
            "UserWeb",
            "--version",
            "1.0.0",
            "--to-environment",
            "qa",
            "--retry-while-unknown",
            "1",
            "--retry-interval",
            "0.05",
            *b,
        ],
        capsys,
    )
    assert code == 2 and "There is no verified pact" in out and "unknown" in err, out + err

    with httpx.Client(base_url=served, headers={"Authorization": "Bearer w-tok"}) as http:
        sha = http.get("/pacts/provider/UserAPI/consumer/UserWeb/latest").json()["_links"]["pb:pact-version"][
            "name"
        ]
        r = http.post(
            f"/pacts/provider/UserAPI/consumer/UserWeb/pact-version/{sha}/verification-results",
            json={"success": True, "providerApplicationVersion": "api-7"},
        )
        assert r.status_code == 201
    code, out, err = run_cli(
        [
            "broker",
            "record-deployment",
            "--pacticipant",
            "UserAPI",
            "--version",
            "api-7",
            "--environment",
            "qa",
            *b,
        ],
        capsys,
    )
    assert code == 0, out + err
    code, out, err = run_cli(
        [
            "broker",
            "can-i-deploy",
            "--pacticipant",
            "UserWeb",
            "--version",
            "1.0.0",
            "--to-environment",
            "qa",
            "--output",
            "json",
            *b,
        ],
        capsys,
    )
    assert code == 0, out + err
    body = json.loads(out)
    assert (
        body["summary"]["deployable"] is True
        and body["matrix"][0]["provider"]["version"]["number"] == "api-7"
    )
    code, out, err = run_cli(
        ["broker", "can-i-deploy", "--pacticipant", "UserWeb", "--to-environment", "qa", *b], capsys
    )
    assert code == 0 and "Computer says yes" in out, out + err
    code, out, err = run_cli(
        [
            "broker",
            "record-release",
            "--pacticipant",
            "UserWeb",
            "--version",
            "1.0.0",
            "--environment",
            "production",
            *b,
        ],
        capsys,
    )
    assert code == 0, out + err
    code, out, err = run_cli(["broker", "describe-version", "--pacticipant", "UserWeb", *b], capsys)
    assert code == 0 and "branches:     main" in out and "tags:         rc" in out and "production" in out
    code, out, err = run_cli(
        ["broker", "record-undeployment", "--pacticipant", "UserAPI", "--environment", "qa", *b], capsys
    )
    assert code == 0, out + err
    code, out, err = run_cli(
        [
            "broker",
            "can-i-deploy",
            "--pacticipant",
            "UserWeb",
            "--version",
            "1.0.0",
            "--to-environment",
            "qa",
            *b,
        ],
        capsys,
    )
    assert code == 2


def test_contracts_broker_cli_bad_input(
    served: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(
        [
            "broker",
            "can-i-deploy",
            "--pacticipant",
            "UserWeb",
            "--version",
            "1.0.0",
            "--to-environment",
            "mars",
            "-b",
            served,
            "-k",
            "r-tok",
        ],
        capsys,
    )
    assert code == 64 and "Environment with name 'mars' does not exist" in err
    (tmp_path / "p.json").write_bytes(SAMPLE.read_bytes())
    code, _, err = run_cli(
        ["broker", "publish", str(tmp_path), "--version", "2", "-b", served, "-k", "r-tok"], capsys
    )
    assert code == 64 and "403" in err and "read-only" in err
    code, _, err = run_cli(["broker", "publish", str(tmp_path), "--version", "2", "-b", served], capsys)
    assert code == 64 and "401" in err
    code, _, err = run_cli(
        ["broker", "publish", str(tmp_path / "nope"), "--version", "2", "-b", served], capsys
    )
    assert code == 64 and "no such file" in err
    dead = f"http://127.0.0.1:{free_port()}"
    code, _, err = run_cli(["broker", "describe-version", "--pacticipant", "X", "-b", dead], capsys)
    assert code == 64 and "cannot reach the broker" in err
    code, _, err = run_cli(["broker", "serve", "--db", "mysql://nope", "--port", str(free_port())], capsys)
    assert code == 64 and "unsupported database" in err


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--port", "99999"], "--port 99999: expected 0-65535"),
        (["--webhook-retries", "-1"], "--webhook-retries -1"),
        (["--webhook-backoff", "nan"], "--webhook-backoff nan"),
        (["--read-token", " "], "--read-token: a token cannot be empty"),
        (["--db", "postgresql://assay@127.0.0.1:1/none"], "cannot open"),  # nothing listens on port 1
    ],
)
def test_serve_refuses_bad_flags_and_an_unreachable_database_with_64(
    args: list[str], said: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["broker", "serve", "--db", f"sqlite:///{tmp_path}/b.db", "--port", str(free_port())]
    code, _, err = run_cli([*base, *args], capsys)
    assert code == 64, err
    assert said in err and "Traceback" not in err
    assert "assay broker on" not in err  # announced only once the database is open
