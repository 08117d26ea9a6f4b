"""Bi-directional checks: pacts against courier's real FastAPI OpenAPI document (3.1) and a 3.0 document
with nullable/oneOf/allOf; every kind of mismatch is found and named with its schema path."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from contracts_pactgen import run_cli

from assay.contracts.bidirectional import check_interaction, cross_check
from assay.contracts.pactfile import interactions


class Ran:
    """A CLI run: exit code and everything printed."""

    def __init__(self, code: int, out: str, err: str) -> None:
        self.exit_code, self.output = code, out + err


ROOT = Path(__file__).resolve().parents[2]
COURIER_PACT = ROOT / "examples" / "courier" / "suite" / "pacts" / "courier-web-courier.json"
DASHBOARD = Path(__file__).parent / "data" / "dashboard-openapi-3.0.yaml"


@pytest.fixture(scope="module")
def courier_openapi() -> dict[str, Any]:
    """The document FastAPI generates for courier (nothing is hand-written)."""
    sys.path.insert(0, str(ROOT / "examples" / "courier"))
    from courier.app import create_app
    from courier.settings import Settings

    return create_app(Settings()).openapi()


def http_pact(*inters: dict[str, Any], consumer: str = "web") -> dict[str, Any]:
    """A V4 pact as pact-python writes it (bodies wrapped, headers as lists)."""
    out = []
    for i, it in enumerate(inters):
        req: dict[str, Any] = {"method": it.get("method", "GET"), "path": it["path"]}
        if "query" in it:
            req["query"] = it["query"]
        if "request" in it:
            req["body"] = {"content": it["request"], "contentType": "application/json", "encoded": False}
        resp: dict[str, Any] = {"status": it.get("status", 200)}
        if "body" in it:
            resp["body"] = {"content": it["body"], "contentType": "application/json", "encoded": False}
        out.append(
            {
                "type": "Synchronous/HTTP",
                "description": it.get("description", f"i{i}"),
                "request": req,
                "response": resp,
            }
        )
    return {
        "consumer": {"name": consumer},
        "provider": {"name": "api"},
        "interactions": out,
        "metadata": {"pactSpecification": {"version": "4.0"}},
    }


def one(doc: dict[str, Any], **it: Any) -> list[tuple[str, str, str]]:
    [inter] = interactions(http_pact(it))
    check = check_interaction(doc, inter)
    return [(m.kind, m.value_path, m.schema_path) for m in check.mismatches]


def test_contracts_bidirectional_courier_pact_against_courier_openapi(
    courier_openapi: dict[str, Any],
) -> None:
    assert courier_openapi["openapi"].startswith("3.1")
    result = cross_check(courier_openapi, json.loads(COURIER_PACT.read_text()))
    verdict = {c.description: [m.kind for m in c.mismatches] for c in result.checks}
    # FastAPI documents the success codes and 422; the 403 and 409 the web app relies on are not documented
    assert verdict == {
        "a new message with an idempotency key": [],
        "a rename of conversation 42 from an old version": ["status"],
        "a request for conversation 42 by a participant": [],
        "a request for conversation 42 by someone outside it": ["status"],
        "a request for the messages of conversation 42": [],
        "a request to start a conversation": [],
    }
    bad = next(c for c in result.checks if c.status == 409)
    assert bad.mismatches[0].schema_path == "#/paths/~1conversations~1{cid}/patch/responses"
    assert "409 is not documented" in bad.mismatches[0].message
    assert not result.ok


def test_contracts_bidirectional_each_kind_of_mismatch_on_courier(courier_openapi: dict[str, Any]) -> None:
    doc = courier_openapi
    assert (
        one(
            doc,
            method="POST",
            path="/conversations",
            status=201,
            request={"title": "t", "participants": ["bob"]},
        )
        == []
    )
    assert one(doc, path="/chats/1") == [("unknown-path", "", "")]
    assert one(doc, method="PUT", path="/conversations/42")[0][:1] == ("method",)
    assert one(doc, method="GET", path="/conversations/42", status=418)[0][0] == "status"
    # request body violating the schema: an empty title (minLength 1), participants not a list
    found = one(
        doc, method="POST", path="/conversations", status=201, request={"title": "", "participants": "bob"}
    )
    assert (
        "request-body",
        "$.title",
        "#/components/schemas/ConversationIn/properties/title/minLength",
    ) in found
    assert (
        "request-body",
        "$.participants",
        "#/components/schemas/ConversationIn/properties/participants/type",
    ) in found
    # a nullable field (3.1: anyOf with null): version may be null, title may not
    assert one(doc, method="PATCH", path="/conversations/42", request={"title": "x", "version": None}) == []
    found = one(doc, method="PATCH", path="/conversations/42", request={"title": None, "version": 2})
    assert found == [
        ("request-body", "$.title", "#/components/schemas/ConversationPatch/properties/title/type")
    ]
    # an undocumented query parameter
    assert one(doc, path="/conversations/42", query={"expand": ["all"]})[0][0] == "request-query"


def test_contracts_bidirectional_openapi_30_nullable_oneof_allof() -> None:
    doc = yaml.safe_load(DASHBOARD.read_text())
    good = {
        "id": 1,
        "title": "ops",
        "owner": None,
        "widget": {"kind": "table", "rows": 3},
        "audit": {"created": "x", "by": "y"},
    }
    assert one(doc, path="/dashboards/1", body=good) == []
    assert (
        one(doc, path="/dashboards/1", body={"title": "only what I use"}) == []
    )  # required is the provider's side
    assert one(doc, path="/dashboards/1", body={"id": 0}) == [
        ("response-body", "$.id", "#/components/schemas/Dashboard/properties/id/minimum")
    ]
    assert one(doc, path="/dashboards/1", body={"title": None}) == [
        ("response-body", "$.title", "#/components/schemas/Dashboard/properties/title/type")
    ]
    [(kind, path, schema)] = one(doc, path="/dashboards/1", body={"widget": {"kind": "pie"}})
    assert (kind, path, schema) == (
        "response-body",
        "$.widget",
        "#/components/schemas/Dashboard/properties/widget/oneOf",
    )
    [(kind, path, _)] = one(doc, path="/dashboards/1", body={"colour": "red"})
    assert (kind, path) == ("response-body", "$")  # a field the provider never documents
    assert one(doc, path="/dashboards/1", query={"view": ["compact"]}) == []
    assert one(doc, path="/dashboards/1", query={"view": ["tiny"]})[0][:2] == ("request-query", "query.view")
    assert one(doc, path="/dashboards/1", status=404, body={"message": "no"}) == []


def test_contracts_bidirectional_cli_reports_and_gates(
    courier_openapi: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "courier.json"
    spec.write_text(json.dumps(courier_openapi))
    good = tmp_path / "good.json"
    good.write_text(json.dumps(http_pact({"method": "GET", "path": "/conversations/42", "status": 200})))
    ok = Ran(*run_cli(["contract", "cross-check", "--openapi", str(spec), "--pact", str(good)], capsys))
    assert ok.exit_code == 0, ok.output
    res = Ran(
        *run_cli(
            [
                "contract",
                "cross-check",
                "--openapi",
                str(spec),
                "--pact",
                str(COURIER_PACT),
                "--json",
                str(tmp_path / "x.json"),
            ],
            capsys,
        )
    )
    assert res.exit_code == 2, res.output
    assert "status 409 is not documented" in res.output
    data = json.loads((tmp_path / "x.json").read_text())
    assert data["schemaVersion"] == 1 and data["results"][0]["success"] is False


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def broker_db(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """The broker's own SQLite file, or a fresh database on the machine's PostgreSQL (migration 0002 on both)."""
    if request.param == "sqlite":
        yield None
        return
    import uuid

    import psycopg

    admin = "postgresql://postgres@127.0.0.1:5432/test"
    name = f"assay_bidi_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_contracts_bidirectional_broker_cross_checks_and_can_i_deploy(
    courier_openapi: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str], broker_db: str | None
) -> None:
    from assay.contracts.broker.local import LocalBroker
    from assay.contracts.client import BrokerClient

    spec = tmp_path / "courier-openapi.yaml"
    spec.write_text(yaml.safe_dump(courier_openapi))
    good = http_pact(
        {"method": "GET", "path": "/conversations/42", "status": 200, "description": "read"}, consumer="web"
    )
    good["provider"]["name"] = "courier"
    bad = http_pact(
        {"method": "GET", "path": "/conversations/42", "status": 403, "description": "refused"},
        consumer="web",
    )
    bad["provider"]["name"] = "courier"
    (tmp_path / "v1").mkdir()
    (tmp_path / "v2").mkdir()
    (tmp_path / "v1" / "web-courier.json").write_text(json.dumps(good))
    (tmp_path / "v2" / "web-courier.json").write_text(json.dumps(bad))
    with LocalBroker(broker_db) as broker, BrokerClient(broker.url) as client:
        client.publish([tmp_path / "v1" / "web-courier.json"], version="1", branch="main")
        res = Ran(
            *run_cli(
                [
                    "broker",
                    "publish-provider-contract",
                    str(spec),
                    "--provider",
                    "courier",
                    "--version",
                    "p1",
                    "--branch",
                    "main",
                    "--verification-success",
                    "--verifier",
                    "schemathesis",
                    "-b",
                    broker.url,
                ],
                capsys,
            )
        )
        assert res.exit_code == 0, res.output
        assert "✔ web" in res.output
        # a pact published after the contract is cross-checked on arrival
        client.publish([tmp_path / "v2" / "web-courier.json"], version="2", branch="feat")
        yes = client.can_i_deploy("web", version="1")
        no = client.can_i_deploy("web", version="2")
        assert yes.deployable is True, yes.body
        assert no.deployable is False, no.body
        [row] = no.body["matrix"]
        assert row["verificationResult"]["verificationKind"] == "bidirectional"
        verification = client.request("GET", row["verificationResult"]["_links"]["self"]["href"])
        [t] = verification["testResults"]
        assert "status 403 is not documented" in t["mismatches"][0]["description"]
        stored = client.request("GET", f"{broker.url}/contracts/provider/courier/version/p1")
        assert stored["selfVerificationResults"] == {"success": True, "verifier": "schemathesis"}
        # a failed self-verification makes every cross-check fail
        res = Ran(
            *run_cli(
                [
                    "broker",
                    "publish-provider-contract",
                    str(spec),
                    "--provider",
                    "courier",
                    "--version",
                    "p2",
                    "--no-verification-success",
                    "-b",
                    broker.url,
                ],
                capsys,
            )
        )
        assert res.exit_code == 0 and "✘ web" in res.output, res.output
        table = Ran(*run_cli(["broker", "can-i-deploy", "-a", "web", "-e", "1", "-b", broker.url], capsys))
        assert "bidirectional" in table.output, table.output


@pytest.mark.node
def test_contracts_bidirectional_npm_pactflow_publish_provider_contract(
    courier_openapi: dict[str, Any], tmp_path: Path
) -> None:
    """The real `pactflow publish-provider-contract` (npm @pact-foundation/pact-cli) against our broker."""
    import os
    import subprocess

    from assay.contracts.broker.local import LocalBroker
    from assay.contracts.client import BrokerClient

    binary = Path(__file__).parent / "node_modules" / ".bin" / "pactflow"
    assert binary.exists(), f"{binary} missing: run `npm install` in {binary.parent.parent.parent}"
    spec = tmp_path / "courier.yaml"
    spec.write_text(yaml.safe_dump(courier_openapi))
    report = tmp_path / "schemathesis.txt"
    report.write_text("all checks passed\n")
    pact_file = tmp_path / "web-courier.json"
    pact = http_pact({"method": "GET", "path": "/conversations/42", "status": 200}, consumer="web")
    pact["provider"]["name"] = "courier"
    pact_file.write_text(json.dumps(pact))
    with LocalBroker() as broker, BrokerClient(broker.url) as client:
        client.publish([pact_file], version="1", branch="main")
        env = {**os.environ, "PACT_DO_NOT_TRACK": "true", "PACT_BROKER_BASE_URL": broker.url}
        env.pop("PACT_BROKER_TOKEN", None)
        run = subprocess.run(
            [
                str(binary),
                "publish-provider-contract",
                str(spec),
                "--provider",
                "courier",
                "--provider-app-version",
                "p7",
                "--branch",
                "main",
                "--content-type",
                "application/yaml",
                "--verification-success",
                "--verification-results",
                str(report),
                "--verification-results-content-type",
                "text/plain",
                "--verifier",
                "schemathesis",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert run.returncode == 0, run.stdout + run.stderr
        assert "Published provider contract for courier version p7" in run.stdout, run.stdout
        stored = client.request("GET", f"{broker.url}/contracts/provider/courier/version/p7")
        assert stored["selfVerificationResults"]["success"] is True
        assert stored["selfVerificationResults"]["verifier"] == "schemathesis"
        assert client.can_i_deploy("web", version="1").deployable is True
