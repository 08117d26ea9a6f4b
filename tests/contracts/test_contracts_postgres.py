"""The broker on the machine's PostgreSQL: migrations, transactions and can-i-deploy on a real server.

Each run creates its own database and drops it afterwards.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from assay.contracts.broker.local import LocalBroker

pytestmark = pytest.mark.postgres

ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
SAMPLE = json.loads((Path(__file__).parent / "data" / "sample-pact-v4.json").read_text())


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    name = f"assay_contracts_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def contract(consumer: str, provider: str, marker: str) -> dict[str, object]:
    doc = json.loads(json.dumps(SAMPLE))
    doc["consumer"]["name"], doc["provider"]["name"] = consumer, provider
    doc["interactions"][0]["description"] = marker
    return {
        "consumerName": consumer,
        "providerName": provider,
        "specification": "pact",
        "contentType": "application/json",
        "content": base64.b64encode(json.dumps(doc).encode()).decode(),
    }


def test_contracts_broker_on_postgresql(pg_url: str) -> None:
    with LocalBroker(db=pg_url) as broker, httpx.Client(base_url=broker.url, timeout=10) as http:
        envs = {e["name"] for e in http.get("/environments").json()["_embedded"]["environments"]}
        assert envs == {"test", "production"}
        body = {
            "pacticipantName": "Web",
            "pacticipantVersionNumber": "1",
            "branch": "main",
            "contracts": [contract("Web", "Api", "one")],
        }
        assert http.post("/contracts/publish", json=body).status_code == 200
        # same version, changed content, plus a new provider: 409 and the new provider's pact is not stored
        bad = {**body, "contracts": [contract("Web", "Other", "x"), contract("Web", "Api", "changed")]}
        assert http.post("/contracts/publish", json=bad).status_code == 409
        assert http.get("/pacts/provider/Other/consumer/Web/latest").status_code == 404
        # dedupe: identical content, new version, same pact version
        assert (
            http.post("/contracts/publish", json={**body, "pacticipantVersionNumber": "2"}).status_code == 200
        )
        sha1 = http.get("/pacts/provider/Api/consumer/Web/version/1").json()["_links"]["pb:pact-version"][
            "name"
        ]
        sha2 = http.get("/pacts/provider/Api/consumer/Web/version/2").json()["_links"]["pb:pact-version"][
            "name"
        ]
        assert sha1 == sha2
        fv = {
            "consumerVersionSelectors": [{"mainBranch": True}],
            "providerVersionBranch": "main",
            "includePendingStatus": True,
        }
        [p] = http.post("/pacts/provider/Api/for-verification", json=fv).json()["_embedded"]["pacts"]
        assert p["verificationProperties"]["pending"] is True
        http.put("/pacticipants/Api/branches/main/versions/a1", json={})
        r = http.post(
            f"/pacts/provider/Api/consumer/Web/pact-version/{sha1}/verification-results",
            json={"success": True, "providerApplicationVersion": "a1"},
        )
        assert r.status_code == 201
        [p] = http.post("/pacts/provider/Api/for-verification", json=fv).json()["_embedded"]["pacts"]
        assert p["verificationProperties"]["pending"] is False
        prod = next(
            e["uuid"]
            for e in http.get("/environments").json()["_embedded"]["environments"]
            if e["name"] == "production"
        )
        assert (
            http.post(
                f"/pacticipants/Api/versions/a1/deployed-versions/environment/{prod}", json={}
            ).status_code
            == 201
        )
        answer = http.get(
            "/can-i-deploy", params={"pacticipant": "Web", "version": "2", "environment": "production"}
        )
        assert answer.json()["summary"]["deployable"] is True
        answer = http.get(
            "/can-i-deploy", params={"pacticipant": "Web", "version": "3", "environment": "production"}
        )
        assert answer.json()["summary"]["deployable"] is False
