"""Contract coverage against OpenAPI, secret/PII lint with --fix, and the pytest `pact` fixture."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from contracts_pactgen import write_pacts
from pact import Pact, Verifier, match

from assay.cli.app import main
from assay.contracts.broker.local import LocalBroker
from assay.contracts.client import BrokerClient

os.environ.setdefault("PACT_DO_NOT_TRACK", "true")

OPENAPI = """
openapi: 3.0.3
info: {title: User API, version: "1"}
servers: [{url: "https://api.example.com/"}]
paths:
  /users/{id}:
    get:
      operationId: getUser
      responses: {"200": {description: ok}, "404": {description: missing}, "5XX": {description: boom}}
  /users:
    post:
      operationId: createUser
      responses: {"201": {description: created}, "400": {description: bad}, default: {description: other}}
  /health:
    get:
      responses: {"200": {description: ok}}
"""


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(args)
    out = capsys.readouterr()
    return int(exc.value.code or 0), out.out, out.err


@pytest.fixture(scope="module")
def pact_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("cov-pacts")
    write_pacts(d, "V4")  # GET /users/42 -> 200, GET /users/404 -> 404
    other = {
        "consumer": {"name": "Admin"},
        "provider": {"name": "UserAPI"},
        "interactions": [
            {
                "description": "create",
                "request": {"method": "POST", "path": "/users"},
                "response": {"status": 201},
            },
            {
                "description": "teapot",
                "request": {"method": "GET", "path": "/users/1"},
                "response": {"status": 418},
            },
            {
                "description": "orders",
                "request": {"method": "GET", "path": "/orders"},
                "response": {"status": 200},
            },
            {
                "description": "crash",
                "request": {"method": "GET", "path": "/users/2"},
                "response": {"status": 503},
            },
        ],
        "metadata": {"pactSpecification": {"version": "3.0.0"}},
    }
    (d / "Admin-UserAPI.json").write_text(json.dumps(other))
    return d


def test_contracts_coverage_table_percentages_and_gate(
    pact_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "openapi.yaml"
    spec.write_text(OPENAPI)
    out_json = tmp_path / "cov.json"
    code, out, err = run_cli(
        [
            "contract",
            "coverage",
            "--openapi",
            str(spec),
            "--pacts",
            str(pact_dir),
            "--min-coverage",
            "50",
            "--json",
            str(out_json),
            "--markdown",
            str(tmp_path / "c.md"),
        ],
        capsys,
    )
    assert code == 0, out + err
    data = json.loads(out_json.read_text())
    assert data["operations"] == {"covered": 2, "total": 3, "percent": 66.7}
    # documented codes: 200 404 5XX | 201 400 | 200  -> covered 200, 404, 5XX (503), 201
    assert data["responses"] == {"covered": 4, "total": 6, "percent": 66.7}
    table = {(r["method"], r["path"]): r for r in data["table"]}
    assert table[("GET", "/users/{id}")]["responses"] == {
        "200": ["UserWeb"],
        "404": ["UserWeb"],
        "5XX": ["Admin"],
    }
    assert table[("POST", "/users")]["consumers"] == ["Admin"]
    assert table[("GET", "/health")]["consumers"] == []
    assert data["unmatched"] == [{"consumer": "Admin", "method": "GET", "path": "/orders", "status": 200}]
    assert data["undocumentedResponses"][0]["status"] == 418
    assert "GET /users/{id}" in out and "responses covered:  4/6 (66.7%)" in out
    assert "matches no operation" in out and "does not declare" in out
    assert "| ❌ | `GET /health` |" in (tmp_path / "c.md").read_text()
    code, _, err = run_cli(
        ["contract", "coverage", "--openapi", str(spec), "--pacts", str(pact_dir), "--min-coverage", "70"],
        capsys,
    )
    assert code == 2 and "below --min-coverage 70%" in err


def test_contracts_coverage_from_broker_and_bad_input(
    pact_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "openapi.yaml"
    spec.write_text(OPENAPI)
    with LocalBroker() as broker:
        with BrokerClient(broker.url) as client:
            client.publish([pact_dir], version="1")
        code, out, err = run_cli(
            ["contract", "coverage", "--openapi", str(spec), "--broker", broker.url, "--provider", "UserAPI"],
            capsys,
        )
    assert code == 0 and "operations covered: 2/3" in out, out + err
    bad = tmp_path / "bad.yaml"
    bad.write_text("openapi: 3.0.0\npaths:\n  /x: [unclosed\n")
    code, _, err = run_cli(["contract", "coverage", "--openapi", str(bad), "--pacts", str(pact_dir)], capsys)
    assert code == 64 and "bad.yaml:" in err
    code, _, err = run_cli(
        ["contract", "coverage", "--openapi", str(spec), "--pacts", str(pact_dir), "--min-coverage", "140"],
        capsys,
    )
    assert code == 64


def secret_pact(directory: Path) -> Path:
    p = Pact("Checkout", "Billing").with_specification("V4")
    (
        p.upon_receiving("a charge")
        .given("an account exists")
        .with_request("POST", "/charges")
        .with_header("Authorization", "Bearer sk_live_abcdefghijklmnop1234")
        .with_header("Cookie", "session=9f8e7d6c5b4a")
        .with_query_parameter("access_token", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl")
        .with_body(
            {"card": "4242 4242 4242 4242", "email": "jane.doe@corp.io", "note": "hello"},
            content_type="application/json",
        )
        .will_respond_with(201)
        .with_body(
            {
                "receipt_email": match.regex("jane.doe@corp.io", regex=r"^[^@]+@[^@]+\.[a-z]+$"),
                "apiKey": match.regex("0123456789abcdef0123456789abcdef", regex=r"^[0-9a-f]{32}$"),
                "amount": match.int(1200),
                "contact": "support@example.com",
            },
            content_type="application/json",
        )
    )
    with p.serve(addr="127.0.0.1") as srv, httpx.Client(base_url=str(srv.url)) as c:
        r = c.post(
            "/charges",
            params={"access_token": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl"},
            headers={
                "Authorization": "Bearer sk_live_abcdefghijklmnop1234",
                "Cookie": "session=9f8e7d6c5b4a",
            },
            json={"card": "4242 4242 4242 4242", "email": "jane.doe@corp.io", "note": "hello"},
        )
        assert r.status_code == 201
    p.write_file(directory, overwrite=True)
    return directory / "Checkout-Billing.json"


def test_contracts_lint_finds_secrets_and_fix_keeps_the_pact_verifiable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = secret_pact(tmp_path)
    code, out, err = run_cli(["contract", "lint", str(tmp_path)], capsys)
    assert code == 2, out + err
    for expected in (
        "$.interactions[0].request.headers['Authorization'][0]: Authorization header value",
        "$.interactions[0].request.headers['Cookie'][0]: Cookie header value",
        "$.interactions[0].request.query['access_token'][0]",
        "$.interactions[0].request.body.content.card: card-like number",
        "$.interactions[0].request.body.content.email: email address",
        "$.interactions[0].response.body.content.receipt_email: email address",
        "$.interactions[0].response.body.content.apiKey: secret in 'apiKey'",
    ):
        assert expected in out, (expected, out)
    assert "contact" not in out and "note" not in out  # example.com is a placeholder; plain text is fine
    assert "run with --fix" in err

    code, out, err = run_cli(["contract", "lint", str(tmp_path), "--fix"], capsys)
    assert code == 2  # the apiKey's regex admits no safe placeholder: left for a human, and named
    assert "error: " in out and "apiKey" in out.split("error: ", 1)[1]
    doc = json.loads(path.read_text())
    req = doc["interactions"][0]["request"]
    assert req["headers"]["Authorization"] == ["Bearer REDACTED"]
    assert req["body"]["content"]["card"] == "4111111111111111"
    assert req["body"]["content"]["email"] == "user@example.com"
    assert doc["interactions"][0]["response"]["body"]["content"]["receipt_email"] == "user@example.com"
    assert (
        doc["interactions"][0]["response"]["matchingRules"]["body"]["$.receipt_email"]["matchers"][0]["match"]
        == "regex"
    )

    # the redacted pact still loads and verifies with pact-python against a real provider
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Billing(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = json.dumps(
                {
                    "receipt_email": "someone@corp.io",
                    "apiKey": "f" * 32,
                    "amount": 5,
                    "contact": "support@example.com",
                }
            ).encode()
            self.send_response(201)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Billing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        v = (
            Verifier("Billing", host="127.0.0.1")
            .add_transport(url=f"http://127.0.0.1:{server.server_address[1]}")
            .state_handler({"an account exists": lambda action, parameters: None}, teardown=True)
            .add_source(path)
        )
        v.verify()
        assert v.results["result"] is True
    finally:
        server.shutdown()
        server.server_close()


FIXTURE_TEST = """
import httpx
import pytest
from pact import match


@pytest.mark.pact(consumer="Shop", provider="Stock")
def test_stock(pact):
    (pact.upon_receiving("stock for ABC").with_request("GET", "/stock/ABC")
         .will_respond_with(200).with_body({"sku": "ABC", "qty": match.int(3)}, content_type="application/json"))
    with pact.serve(addr="127.0.0.1") as srv:
        assert httpx.get(f"{srv.url}/stock/ABC").json()["qty"] == 3


@pytest.mark.pact(consumer="Shop", provider="Stock")
def test_stock_missing(pact):
    (pact.upon_receiving("stock for NOPE").with_request("GET", "/stock/NOPE").will_respond_with(404))
    with pact.serve(addr="127.0.0.1") as srv:
        assert httpx.get(f"{srv.url}/stock/NOPE").status_code == 404


def test_from_env_names(pact):
    (pact.upon_receiving("ping").with_request("GET", "/ping").will_respond_with(204))
    with pact.serve(addr="127.0.0.1") as srv:
        assert httpx.get(f"{srv.url}/ping").status_code == 204
"""


def test_contracts_pytest_pact_fixture_writes_merged_pacts(tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "test_consumer_suite.py").write_text(FIXTURE_TEST)
    stale = tmp_path / "out" / "Shop-Stock.json"
    stale.parent.mkdir()
    stale.write_text('{"stale": true}')
    env = {
        **os.environ,
        "ASSAY_PACT_DIR": str(tmp_path / "out"),
        "ASSAY_PACT_CONSUMER": "Web",
        "ASSAY_PACT_PROVIDER": "Ping",
        "PACT_DO_NOT_TRACK": "true",
    }
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(suite)],
        cwd=suite,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    doc = json.loads((tmp_path / "out" / "Shop-Stock.json").read_text())
    assert sorted(i["description"] for i in doc["interactions"]) == ["stock for ABC", "stock for NOPE"]
    assert doc["consumer"]["name"] == "Shop" and doc["metadata"]["pactSpecification"]["version"] == "4.0"
    ping = json.loads((tmp_path / "out" / "Web-Ping.json").read_text())
    assert [i["description"] for i in ping["interactions"]] == ["ping"]
