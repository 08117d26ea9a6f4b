"""The real npm `pact-broker` CLI (@pact-foundation/pact-cli) against our broker."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from assay.contracts.broker.local import LocalBroker

pytestmark = pytest.mark.node

BIN = Path(__file__).parent / "node_modules" / ".bin" / "pact-broker"
SAMPLE = Path(__file__).parent / "data" / "sample-pact-v4.json"


def cli(broker: LocalBroker, *args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
    assert BIN.exists(), f"{BIN} missing: run `npm install` in {BIN.parent.parent.parent}"
    env = {**os.environ, "PACT_DO_NOT_TRACK": "true", "PACT_BROKER_BASE_URL": broker.url}
    env.pop("PACT_BROKER_TOKEN", None)
    if token:
        env["PACT_BROKER_TOKEN"] = token
    return subprocess.run([str(BIN), *args], env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def broker() -> Iterator[LocalBroker]:
    with LocalBroker() as b:
        yield b


@pytest.fixture(scope="module")
def pact_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("npm-pacts")
    (d / "UserWeb-UserAPI.json").write_bytes(SAMPLE.read_bytes())
    return d


def test_contracts_npm_publish_environment_deployment_and_can_i_deploy(
    broker: LocalBroker, pact_dir: Path
) -> None:
    r = cli(
        broker, "publish", str(pact_dir), "--consumer-app-version", "1.0.0", "--branch", "main", "--tag", "rc"
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Warning" not in r.stdout + r.stderr
    with httpx.Client(base_url=broker.url, headers={"Accept": "application/hal+json"}) as http:
        v = http.get("/pacticipants/UserWeb/versions/1.0.0").json()
        assert [b["name"] for b in v["branchVersions"]] == ["main"] and [t["name"] for t in v["tags"]] == [
            "rc"
        ]
        served = http.get("/pacts/provider/UserAPI/consumer/UserWeb/version/1.0.0").json()
        assert served["interactions"] == json.loads(SAMPLE.read_text())["interactions"]

    r = cli(broker, "create-environment", "--name", "staging", "--display-name", "Staging")
    assert r.returncode == 0, r.stdout + r.stderr
    r = cli(broker, "list-environments", "--output", "json")
    assert r.returncode == 0 and "staging" in r.stdout

    # provider not yet verified or deployed: unknown -> the CLI exits non-zero
    r = cli(
        broker,
        "can-i-deploy",
        "--pacticipant",
        "UserWeb",
        "--version",
        "1.0.0",
        "--to-environment",
        "staging",
    )
    assert r.returncode == 1, r.stdout + r.stderr
    assert "There is no verified pact" in r.stdout + r.stderr

    with httpx.Client(base_url=broker.url, headers={"Accept": "application/hal+json"}) as http:
        sha = http.get("/pacts/provider/UserAPI/consumer/UserWeb/latest").json()["_links"]["pb:pact-version"][
            "name"
        ]
        url = f"/pacts/provider/UserAPI/consumer/UserWeb/pact-version/{sha}/verification-results"
        assert (
            http.post(url, json={"success": True, "providerApplicationVersion": "api-1"}).status_code == 201
        )
        assert (
            http.post(url, json={"success": False, "providerApplicationVersion": "api-2"}).status_code == 201
        )

    r = cli(
        broker,
        "record-deployment",
        "--pacticipant",
        "UserAPI",
        "--version",
        "api-1",
        "--environment",
        "staging",
    )
    assert r.returncode == 0, r.stdout + r.stderr
    r = cli(
        broker,
        "can-i-deploy",
        "--pacticipant",
        "UserWeb",
        "--version",
        "1.0.0",
        "--to-environment",
        "staging",
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Computer says yes" in r.stdout

    r = cli(
        broker,
        "record-deployment",
        "--pacticipant",
        "UserAPI",
        "--version",
        "api-2",
        "--environment",
        "staging",
    )
    assert r.returncode == 0, r.stdout + r.stderr
    r = cli(
        broker,
        "can-i-deploy",
        "--pacticipant",
        "UserWeb",
        "--version",
        "1.0.0",
        "--to-environment",
        "staging",
    )
    assert r.returncode == 1, r.stdout + r.stderr
    assert "failed" in r.stdout + r.stderr

    r = cli(broker, "record-undeployment", "--pacticipant", "UserAPI", "--environment", "staging")
    assert r.returncode == 0, r.stdout + r.stderr
    r = cli(
        broker,
        "record-release",
        "--pacticipant",
        "UserWeb",
        "--version",
        "1.0.0",
        "--environment",
        "production",
    )
    assert r.returncode == 0, r.stdout + r.stderr
    r = cli(broker, "describe-version", "--pacticipant", "UserWeb", "--output", "json")
    assert r.returncode == 0 and "1.0.0" in r.stdout, r.stdout + r.stderr


def test_contracts_npm_republish_changed_content_is_refused(broker: LocalBroker, tmp_path: Path) -> None:
    doc = json.loads(SAMPLE.read_text())
    doc["consumer"]["name"] = "Mutator"
    (tmp_path / "Mutator-UserAPI.json").write_text(json.dumps(doc))
    assert cli(broker, "publish", str(tmp_path), "--consumer-app-version", "1").returncode == 0
    doc["interactions"][0]["description"] = "changed under the same version"
    (tmp_path / "Mutator-UserAPI.json").write_text(json.dumps(doc))
    r = cli(broker, "publish", str(tmp_path), "--consumer-app-version", "1")
    assert r.returncode != 0
    assert "Cannot change the content" in r.stdout + r.stderr


def test_contracts_npm_cli_with_tokens(tmp_path: Path) -> None:
    (tmp_path / "UserWeb-UserAPI.json").write_bytes(SAMPLE.read_bytes())
    with LocalBroker(read_tokens={"ro"}, write_tokens={"rw"}) as b:
        assert cli(b, "publish", str(tmp_path), "--consumer-app-version", "1", token="ro").returncode != 0
        r = cli(b, "publish", str(tmp_path), "--consumer-app-version", "1", token="rw")
        assert r.returncode == 0, r.stdout + r.stderr


def test_contracts_npm_test_webhook_reports_a_dead_target_once(tmp_path: Path) -> None:
    """`pact-broker test-webhook` retries 5xx answers, so a dead target must be a 200 saying success: false."""
    from assay.harness.ports import free_port

    with LocalBroker() as broker:
        hook = httpx.post(
            f"{broker.url}/webhooks",
            json={
                "events": [{"name": "contract_published"}],
                "request": {"method": "POST", "url": f"http://127.0.0.1:{free_port()}/dead"},
            },
        ).json()
        r = cli(broker, "test-webhook", "--uuid", hook["uuid"])
        assert r.returncode == 0, r.stdout + r.stderr
        assert '"success":false' in r.stdout.replace(" ", ""), r.stdout
        runs = httpx.get(hook["_links"]["pb:logs"]["href"]).json()["executions"]
    assert [e["attempt"] for e in runs] == [1]  # one execution, one attempt
