"""The broker's HTTP API, spoken to over real HTTP on loopback (SQLite store)."""

from __future__ import annotations

import base64
import copy
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from assay.contracts.broker.local import LocalBroker

SAMPLE = json.loads((Path(__file__).parent / "data" / "sample-pact-v4.json").read_text())
H = {"Accept": "application/hal+json"}


def pact(consumer: str, provider: str, marker: str = "a") -> dict[str, Any]:
    doc = copy.deepcopy(SAMPLE)
    doc["consumer"]["name"] = consumer
    doc["provider"]["name"] = provider
    doc["interactions"][0]["description"] = f"a request for user 42 ({marker})"
    return doc


def publish(
    http: httpx.Client,
    consumer: str,
    version: str,
    docs: list[dict[str, Any]],
    branch: str | None = None,
    tags: list[str] | None = None,
) -> httpx.Response:
    body: dict[str, Any] = {
        "pacticipantName": consumer,
        "pacticipantVersionNumber": version,
        "tags": tags or [],
        "contracts": [
            {
                "consumerName": consumer,
                "providerName": d["provider"]["name"],
                "specification": "pact",
                "contentType": "application/json",
                "content": base64.b64encode(json.dumps(d).encode()).decode(),
            }
            for d in docs
        ],
    }
    if branch:
        body["branch"] = branch
    return http.post("/contracts/publish", json=body)


def verify(
    http: httpx.Client, provider: str, consumer: str, sha: str, pv: str, ok: bool, branch: str | None = None
):
    if branch:
        assert http.put(f"/pacticipants/{provider}/branches/{branch}/versions/{pv}", json={}).status_code in (
            200,
            201,
        )
    r = http.post(
        f"/pacts/provider/{provider}/consumer/{consumer}/pact-version/{sha}/verification-results",
        json={"success": ok, "providerApplicationVersion": pv, "testResults": []},
    )
    assert r.status_code == 201, r.text
    return r.json()


def sha_of(http: httpx.Client, provider: str, consumer: str, version: str) -> str:
    r = http.get(f"/pacts/provider/{provider}/consumer/{consumer}/version/{version}")
    assert r.status_code == 200, r.text
    return r.json()["_links"]["pb:pact-version"]["name"]


def env_uuid(http: httpx.Client, name: str) -> str:
    envs = http.get("/environments").json()["_embedded"]["environments"]
    return next(e["uuid"] for e in envs if e["name"] == name)


def deploy(http: httpx.Client, pacticipant: str, version: str, env: str) -> httpx.Response:
    return http.post(
        f"/pacticipants/{pacticipant}/versions/{version}/deployed-versions/environment/{env_uuid(http, env)}",
        json={},
    )


def cid(http: httpx.Client, pacticipant: str, version: str, env: str) -> dict[str, Any]:
    r = http.get("/can-i-deploy", params={"pacticipant": pacticipant, "version": version, "environment": env})
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture()
def broker() -> Iterator[LocalBroker]:
    """One broker per test: tests that share a broker share names, and then depend on their order."""
    with LocalBroker(webhook_retries=3, webhook_backoff=0.05) as b:
        yield b


@pytest.fixture()
def http(broker: LocalBroker) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=broker.url, headers=H, timeout=10) as c:
        yield c


def test_contracts_index_has_the_pb_relations(http: httpx.Client) -> None:
    links = http.get("/").json()["_links"]
    for rel in (
        "self",
        "pb:publish-contracts",
        "pb:publish-pact",
        "pb:pacticipant",
        "pb:pacticipant-version",
        "pb:pacticipant-version-tag",
        "pb:pacticipant-branch-version",
        "pb:latest-provider-pacts",
        "pb:latest-version",
        "pb:provider-pacts-for-verification",
        "pb:environments",
        "pb:environment",
        "pb:can-i-deploy-pacticipant-version-to-environment",
        "curies",
    ):
        assert rel in links, rel
    assert links["pb:publish-contracts"]["href"].endswith("/contracts/publish")
    assert links["curies"][0]["name"] == "pb" and links["curies"][0]["templated"] is True


def test_contracts_publish_reply_shape_and_resources(http: httpx.Client) -> None:
    r = publish(http, "Shop", "1.0.0", [pact("Shop", "Catalog")], branch="main", tags=["dev"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) >= {"notices", "logs", "_embedded", "_links"}
    assert body["_embedded"]["pacticipant"]["name"] == "Shop"
    assert body["_embedded"]["version"]["number"] == "1.0.0"
    links = body["_links"]
    assert links["pb:pacticipant"]["name"] == "Shop"
    assert links["pb:pacticipant-version"]["name"] == "1.0.0"
    assert [t["name"] for t in links["pb:pacticipant-version-tags"]] == ["dev"]
    assert links["pb:contracts"][0]["href"].endswith("/pacts/provider/Catalog/consumer/Shop/version/1.0.0")
    assert all(
        n["type"] in ("debug", "info", "warning", "prompt", "success", "error", "danger")
        for n in body["notices"]
    )
    # pacticipant got its main branch from the first main-looking branch
    assert http.get("/pacticipants/Shop").json()["mainBranch"] == "main"
    v = http.get("/pacticipants/Shop/versions/1.0.0").json()
    assert [b["name"] for b in v["branchVersions"]] == ["main"]
    assert [t["name"] for t in v["tags"]] == ["dev"]
    assert {link["name"] for link in v["_links"]["pb:record-deployment"]} >= {"test", "production"}
    assert {link["name"] for link in v["_links"]["pb:record-release"]} >= {"test", "production"}
    # fetch: by version, latest, by tag, by branch, by sha
    by_version = http.get("/pacts/provider/Catalog/consumer/Shop/version/1.0.0").json()
    sha = by_version["_links"]["pb:pact-version"]["name"]
    for path in ("latest", "latest/dev", "branch/main/latest", f"pact-version/{sha}"):
        doc = http.get(f"/pacts/provider/Catalog/consumer/Shop/{path}").json()
        assert doc["interactions"] == by_version["interactions"], path
        assert "pb:publish-verification-results" in doc["_links"] and "pb:provider" in doc["_links"]
    assert http.get("/pacts/provider/Catalog/consumer/Shop/latest/nope").status_code == 404
    latest = http.get("/pacts/provider/Catalog/latest").json()
    assert [p["_embedded"]["consumer"]["name"] for p in latest["pacts"]] == ["Shop"]


def test_contracts_identical_content_reuses_the_pact_version(http: httpx.Client) -> None:
    doc = pact("Dedupe", "Catalog")
    assert publish(http, "Dedupe", "1", [doc]).status_code == 200
    assert publish(http, "Dedupe", "2", [doc]).status_code == 200
    assert sha_of(http, "Catalog", "Dedupe", "1") == sha_of(http, "Catalog", "Dedupe", "2")
    # publishing the same content again under the same version is fine and idempotent
    assert publish(http, "Dedupe", "2", [doc]).status_code == 200
    changed = pact("Dedupe", "Catalog", marker="b")
    assert publish(http, "Dedupe", "3", [changed]).status_code == 200
    assert sha_of(http, "Catalog", "Dedupe", "3") != sha_of(http, "Catalog", "Dedupe", "2")


def test_contracts_changed_content_under_same_version_is_409_and_nothing_half_written(
    http: httpx.Client,
) -> None:
    assert publish(http, "Conflict", "1", [pact("Conflict", "P1")]).status_code == 200
    r = publish(
        http,
        "Conflict",
        "1",
        [pact("Conflict", "P2"), pact("Conflict", "P1", marker="changed")],
        tags=["shouldnotstick"],
    )
    assert r.status_code == 409, r.text
    assert r.json()["errors"] and r.json()["notices"]
    # the first contract in the rejected request was rolled back with the rest
    assert http.get("/pacts/provider/P2/consumer/Conflict/latest").status_code == 404
    assert [t["name"] for t in http.get("/pacticipants/Conflict/versions/1").json()["tags"]] == []
    # old PUT: changed content is also a conflict
    body = json.dumps(pact("Conflict", "P1", marker="changed2"))
    assert http.put("/pacts/provider/P1/consumer/Conflict/version/1", content=body).status_code == 409


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"pacticipantVersionNumber": "1", "contracts": []}, "pacticipantName"),
        (
            {
                "pacticipantName": "X",
                "contracts": [{"consumerName": "X", "providerName": "Y", "content": "!!"}],
                "pacticipantVersionNumber": "1",
            },
            "contracts[0].content",
        ),
        (
            {
                "pacticipantName": "X",
                "pacticipantVersionNumber": "1",
                "contracts": [
                    {
                        "consumerName": "X",
                        "providerName": "Y",
                        "specification": "pact",
                        "contentType": "application/json",
                        "content": base64.b64encode(b"{not json").decode(),
                    }
                ],
            },
            "contracts[0].content",
        ),
        (
            {"pacticipantName": "X", "pacticipantVersionNumber": "", "contracts": []},
            "pacticipantVersionNumber",
        ),
    ],
)
def test_contracts_bad_publish_is_400_with_field_errors(
    http: httpx.Client, body: dict[str, Any], field: str
) -> None:
    r = http.post("/contracts/publish", json=body)
    assert r.status_code == 400
    errors = r.json()["errors"]
    assert field in errors and all(isinstance(m, str) and m for m in errors[field])
    assert http.get("/pacticipants/X").status_code == 404


def test_contracts_malformed_json_body_and_unknown_things(http: httpx.Client) -> None:
    r = http.post("/contracts/publish", content=b"{oops", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "body" in r.json()["errors"]
    r = http.put("/pacts/provider/A/consumer/B/version/1", content=b'{"consumer": {}}')
    assert r.status_code == 400
    assert http.get("/pacticipants/Nobody").status_code == 404
    assert http.get("/pacticipants/Shop/versions/9.9.9").status_code == 404
    assert http.get("/environments/no-such-uuid").status_code == 404
    r = http.get(
        "/can-i-deploy", params={"pacticipant": "Shop", "version": "1.0.0", "environment": "nowhere"}
    )
    assert r.status_code == 400 and "environment" in r.json()["errors"]
    r = http.get("/matrix", params={"q[][pacticipant]": "Nobody", "q[][version]": "1"})
    assert r.status_code == 400 and "q" in r.json()["errors"]


def test_contracts_old_put_publish_branches_and_tags(http: httpx.Client) -> None:
    raw = json.dumps(pact("Legacy", "Catalog"), indent=1).encode()
    r = http.put("/pacts/provider/Catalog/consumer/Legacy/version/7", content=raw)
    assert r.status_code == 201
    assert http.put("/pacts/provider/Catalog/consumer/Legacy/version/7", content=raw).status_code == 200
    assert http.put("/pacticipants/Legacy/branches/feat-x/versions/7", json={}).status_code == 201
    assert http.put("/pacticipants/Legacy/versions/7/tags/prod", json={}).status_code == 201
    assert http.get("/pacticipants/Legacy/latest-version/prod").json()["number"] == "7"
    assert http.get("/pacticipants/Legacy/branches/feat-x/latest-version").json()["number"] == "7"
    assert [b["name"] for b in http.get("/pacticipants/Legacy/branches").json()["_embedded"]["branches"]] == [
        "feat-x"
    ]
    assert http.get("/pacts/provider/Catalog/consumer/Legacy/latest/prod").status_code == 200


def test_contracts_environments_seeded_and_crud(http: httpx.Client) -> None:
    envs = {e["name"]: e for e in http.get("/environments").json()["_embedded"]["environments"]}
    assert envs["production"]["production"] is True and envs["test"]["production"] is False
    r = http.post("/environments", json={"name": "staging", "displayName": "Staging", "production": False})
    assert r.status_code == 201 and r.json()["uuid"]
    uuid = r.json()["uuid"]
    assert http.post("/environments", json={"name": "staging"}).status_code == 400
    assert http.post("/environments", json={"displayName": "no name"}).json()["errors"]["name"]
    assert http.put(f"/environments/{uuid}", json={"displayName": "Stage"}).json()["displayName"] == "Stage"
    assert http.delete(f"/environments/{uuid}").status_code == 204
    assert http.get(f"/environments/{uuid}").status_code == 404


def test_contracts_can_i_deploy_true_false_unknown_with_reasons(http: httpx.Client) -> None:
    assert publish(http, "Web", "1", [pact("Web", "Api", "w1")], branch="main").status_code == 200
    assert publish(http, "Web", "2", [pact("Web", "Api", "w2")], branch="main").status_code == 200
    # provider not deployed in production yet: unknown
    answer = cid(http, "Web", "1", "production")
    assert answer["summary"]["deployable"] is None
    assert "There is no verified pact between version 1 of Web" in answer["summary"]["reason"]
    sha1, sha2 = sha_of(http, "Api", "Web", "1"), sha_of(http, "Api", "Web", "2")
    verify(http, "Api", "Web", sha1, "100", True, branch="main")
    verify(http, "Api", "Web", sha2, "100", False, branch="main")
    assert deploy(http, "Api", "100", "production").status_code == 201
    ok = cid(http, "Web", "1", "production")
    assert ok["summary"]["deployable"] is True
    assert ok["summary"]["reason"] == "All required verification results are published and successful"
    row = ok["matrix"][0]
    assert row["consumer"]["version"]["number"] == "1" and row["provider"]["version"]["number"] == "100"
    assert row["verificationResult"]["success"] is True
    assert [e["name"] for e in row["provider"]["version"]["environments"]] == ["production"]
    bad = cid(http, "Web", "2", "production")
    assert bad["summary"]["deployable"] is False
    assert (
        "The verification for the pact between version 2 of Web and the version of Api currently in production"
        in (bad["summary"]["reason"])
    )
    # the provider side: Api 100 may go to production only if the consumers there are verified
    assert cid(http, "Api", "100", "production")["summary"]["deployable"] is True  # no consumer deployed yet
    assert deploy(http, "Web", "2", "production").status_code == 201
    assert cid(http, "Api", "100", "production")["summary"]["deployable"] is False
    # a version that does not exist
    missing = cid(http, "Web", "99", "production")
    assert missing["summary"]["deployable"] is False
    assert (
        "No pacts or verifications have been published for version 99 of Web" in missing["summary"]["reason"]
    )
    # the matrix form with Rack nested params, as the CLIs send it
    r = http.get(
        "/matrix",
        params=[
            ("q[][pacticipant]", "Web"),
            ("q[][version]", "1"),
            ("latestby", "cvp"),
            ("environment", "production"),
        ],
    )
    assert r.json()["summary"]["deployable"] is True
    # two selectors: pairwise
    # (encoded by hand: httpx groups repeated keys, which would reorder the Rack array)
    query = urlencode(
        [
            ("q[][pacticipant]", "Web"),
            ("q[][version]", "2"),
            ("q[][pacticipant]", "Api"),
            ("q[][version]", "100"),
        ]
    )
    r = http.get(f"/matrix?{query}")
    assert r.json()["summary"]["deployable"] is False and len(r.json()["matrix"]) == 1
    # ignore
    r = http.get(
        "/matrix",
        params=[
            ("q[][pacticipant]", "Web"),
            ("q[][version]", "2"),
            ("environment", "production"),
            ("ignore[][pacticipant]", "Api"),
        ],
    )
    summary = r.json()["summary"]
    assert summary["deployable"] is True and summary["ignored"] == 1


def test_contracts_undeployment_and_release(http: httpx.Client) -> None:
    assert publish(http, "Mobile", "3.0", [pact("Mobile", "Api", "m")], branch="main").status_code == 200
    uuid = env_uuid(http, "test")
    r = http.post(f"/pacticipants/Mobile/versions/3.0/released-versions/environment/{uuid}", json={})
    assert r.status_code == 201 and r.json()["currentlySupported"] is True
    supported = http.get(f"/environments/{uuid}/released-versions/currently-supported").json()
    assert [x["_embedded"]["version"]["number"] for x in supported["_embedded"]["releasedVersions"]] == [
        "3.0"
    ]
    r = deploy(http, "Mobile", "3.0", "test")
    assert r.status_code == 201
    assert deploy(http, "Mobile", "3.0", "test").status_code == 200  # idempotent
    listed = http.get(
        f"/environments/{uuid}/deployed-versions/currently-deployed", params={"pacticipant": "Mobile"}
    )
    rows = listed.json()["_embedded"]["deployedVersions"]
    assert len(rows) == 1 and rows[0]["currentlyDeployed"] is True
    r = http.patch(rows[0]["_links"]["self"]["href"], json={"currentlyDeployed": False})
    assert r.json()["currentlyDeployed"] is False
    listed = http.get(
        f"/environments/{uuid}/deployed-versions/currently-deployed", params={"pacticipant": "Mobile"}
    )
    assert listed.json()["_embedded"]["deployedVersions"] == []


def fv(http: httpx.Client, provider: str, **body: Any) -> list[dict[str, Any]]:
    r = http.post(f"/pacts/provider/{provider}/for-verification", json=body)
    assert r.status_code == 200, r.text
    return list(r.json()["_embedded"]["pacts"])


def consumers_and_versions(pacts: list[dict[str, Any]]) -> set[str]:
    return {p["_links"]["self"]["name"] for p in pacts}


def test_contracts_for_verification_selectors(http: httpx.Client) -> None:
    P = "Inventory"
    publish(http, "Alpha", "a1", [pact("Alpha", P, "a1")], branch="main", tags=["prod"])
    publish(http, "Alpha", "a2", [pact("Alpha", P, "a2")], branch="main")
    publish(http, "Alpha", "a3", [pact("Alpha", P, "a3")], branch="feat-1")
    publish(http, "Beta", "b1", [pact("Beta", P, "b1")], branch="master", tags=["prod"])
    publish(http, "Beta", "b2", [pact("Beta", P, "b2")], branch="feat-1")
    deploy(http, "Alpha", "a1", "production")
    assert (
        http.post(
            f"/pacticipants/Beta/versions/b1/released-versions/environment/{env_uuid(http, 'test')}", json={}
        ).status_code
        == 201
    )

    names = consumers_and_versions
    assert names(fv(http, P, consumerVersionSelectors=[{"mainBranch": True}])) == {
        f"Pact between Alpha (a2) and {P}",
        f"Pact between Beta (b1) and {P}",
    }
    assert names(fv(http, P, consumerVersionSelectors=[{"branch": "feat-1"}])) == {
        f"Pact between Alpha (a3) and {P}",
        f"Pact between Beta (b2) and {P}",
    }
    assert names(fv(http, P, consumerVersionSelectors=[{"branch": "feat-1", "consumer": "Beta"}])) == {
        f"Pact between Beta (b2) and {P}"
    }
    assert names(fv(http, P, consumerVersionSelectors=[{"branch": "nope", "fallbackBranch": "main"}])) == {
        f"Pact between Alpha (a2) and {P}"
    }
    assert names(
        fv(http, P, providerVersionBranch="feat-1", consumerVersionSelectors=[{"matchingBranch": True}])
    ) == {f"Pact between Alpha (a3) and {P}", f"Pact between Beta (b2) and {P}"}
    assert names(fv(http, P, consumerVersionSelectors=[{"deployed": True}])) == {
        f"Pact between Alpha (a1) and {P}"
    }
    assert names(fv(http, P, consumerVersionSelectors=[{"released": True}])) == {
        f"Pact between Beta (b1) and {P}"
    }
    assert names(fv(http, P, consumerVersionSelectors=[{"deployedOrReleased": True}])) == {
        f"Pact between Alpha (a1) and {P}",
        f"Pact between Beta (b1) and {P}",
    }
    assert names(fv(http, P, consumerVersionSelectors=[{"environment": "test"}])) == {
        f"Pact between Beta (b1) and {P}"
    }
    assert names(fv(http, P, consumerVersionSelectors=[{"tag": "prod", "latest": True}])) == {
        f"Pact between Alpha (a1) and {P}",
        f"Pact between Beta (b1) and {P}",
    }
    assert names(
        fv(
            http,
            P,
            consumerVersionSelectors=[
                {"tag": "nope", "latest": True, "fallbackTag": "prod", "consumer": "Alpha"}
            ],
        )
    ) == {f"Pact between Alpha (a1) and {P}"}
    # two selectors picking the same content are one pact with both reasons
    both = fv(
        http,
        P,
        consumerVersionSelectors=[{"deployed": True}, {"tag": "prod", "latest": True, "consumer": "Alpha"}],
    )
    assert len(both) == 1
    notice = both[0]["verificationProperties"]["notices"][0]
    assert notice["when"] == "before_verification" and "currently deployed to production" in notice["text"]
    assert "with tag 'prod'" in notice["text"]
    # no selectors: latest of each consumer
    assert names(fv(http, P)) == {f"Pact between Alpha (a3) and {P}", f"Pact between Beta (b2) and {P}"}


@pytest.mark.parametrize(
    "selectors",
    [
        [{"consumer": "Alpha"}],
        [{"bogus": True}],
        [{"mainBranch": "yes"}],
        [{"branch": "main", "tag": "prod"}],
        [{"matchingBranch": True}],
        [{"environment": "mars"}],
        [{"fallbackTag": "x", "tag": "y"}],
        "not-a-list",
    ],
)
def test_contracts_invalid_selectors_are_400(http: httpx.Client, selectors: Any) -> None:
    publish(http, "Gamma", "g1", [pact("Gamma", "Sel")], branch="main")
    r = http.post("/pacts/provider/Sel/for-verification", json={"consumerVersionSelectors": selectors})
    assert r.status_code == 400
    assert r.json()["errors"]["consumerVersionSelectors"][0]


def test_contracts_pending_and_wip(http: httpx.Client) -> None:
    P = "Ledger"
    publish(http, "Till", "t1", [pact("Till", P, "t1")], branch="main")
    sha = sha_of(http, P, "Till", "t1")
    body = {
        "consumerVersionSelectors": [{"mainBranch": True}],
        "providerVersionBranch": "main",
        "includePendingStatus": True,
    }
    [p] = fv(http, P, **body)
    assert p["verificationProperties"]["pending"] is True
    assert any("pending state" in n["text"] for n in p["verificationProperties"]["notices"])
    # a failure does not end pending; a success on the provider's branch does
    verify(http, P, "Till", sha, "p1", False, branch="main")
    assert fv(http, P, **body)[0]["verificationProperties"]["pending"] is True
    verify(http, P, "Till", sha, "p2", True, branch="feature")
    assert fv(http, P, **body)[0]["verificationProperties"]["pending"] is True
    verify(http, P, "Till", sha, "p3", True, branch="main")
    assert fv(http, P, **body)[0]["verificationProperties"]["pending"] is False
    # WIP: a newer pact on a consumer feature branch, not selected, never verified on main
    publish(http, "Till", "t2", [pact("Till", P, "t2")], branch="feat-refunds")
    wip_body = {**body, "includeWipPactsSince": "2000-01-01"}
    pacts = fv(http, P, **wip_body)
    assert len(pacts) == 2
    wip = [x for x in pacts if x["verificationProperties"].get("wip")]
    assert len(wip) == 1 and wip[0]["verificationProperties"]["pending"] is True
    assert "(t2)" in wip[0]["_links"]["self"]["name"]
    assert fv(http, P, **{**body, "includeWipPactsSince": "2999-01-01"}) == pacts[:1]
    r = http.post(f"/pacts/provider/{P}/for-verification", json={**body, "includeWipPactsSince": "yesterday"})
    assert r.status_code == 400
    assert http.post("/pacts/provider/Nobody/for-verification", json=body).status_code == 404


def test_contracts_verification_results_validation_and_read_back(http: httpx.Client) -> None:
    publish(http, "Kiosk", "k1", [pact("Kiosk", "Till2")])
    sha = sha_of(http, "Till2", "Kiosk", "k1")
    url = f"/pacts/provider/Till2/consumer/Kiosk/pact-version/{sha}/verification-results"
    assert http.post(url, json={"success": "yes", "providerApplicationVersion": "1"}).json()["errors"][
        "success"
    ]
    assert "providerApplicationVersion" in http.post(url, json={"success": True}).json()["errors"]
    r = http.post(
        url,
        json={
            "success": True,
            "providerApplicationVersion": "9",
            "testResults": [{"interactionDescription": "x", "success": True}],
            "verifiedBy": {"implementation": "Pact-Rust"},
        },
    )
    assert r.status_code == 201
    got = http.get(r.json()["_links"]["self"]["href"]).json()
    assert got["success"] is True and got["providerApplicationVersion"] == "9"
    assert got["testResults"][0]["interactionDescription"] == "x"
    bogus = f"/pacts/provider/Till2/consumer/Kiosk/pact-version/{'0' * 40}/verification-results"
    assert http.post(bogus, json={"success": True, "providerApplicationVersion": "1"}).status_code == 404


def test_contracts_auth_tokens() -> None:
    with LocalBroker(read_tokens={"r-token"}, write_tokens={"w-token"}) as b:
        with httpx.Client(base_url=b.url, headers=H) as c:
            assert c.get("/").status_code == 401
            assert c.get("/", headers={"Authorization": "Bearer wrong"}).status_code == 401
            assert c.get("/", headers={"Authorization": "Bearer r-token"}).status_code == 200
            doc = pact("Auth", "Api")
            assert publish(c, "Auth", "1", [doc]).status_code == 401
            c.headers["Authorization"] = "Bearer r-token"
            assert publish(c, "Auth", "1", [doc]).status_code == 403
            c.headers["Authorization"] = "Bearer w-token"
            assert publish(c, "Auth", "1", [doc]).status_code == 200
            assert c.get("/diagnostic/status/heartbeat", headers={"Authorization": ""}).status_code == 200


class _Hook(BaseHTTPRequestHandler):
    calls: list[dict[str, Any]] = []
    fail_first = 2

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).calls.append({"body": body.decode(), "headers": dict(self.headers)})
        status = 500 if len(type(self).calls) <= type(self).fail_first else 200
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        pass


def test_contracts_webhooks_retry_with_backoff_and_log_runs(broker: LocalBroker, http: httpx.Client) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        r = http.post(
            "/webhooks",
            json={
                "description": "notify CI",
                "provider": {"name": "HookApi"},
                "events": [{"name": "contract_content_changed"}, {"name": "provider_verification_published"}],
                "request": {
                    "method": "POST",
                    "url": url,
                    "headers": {"Content-Type": "application/json"},
                    "body": {
                        "pact": "${pactbroker.pactUrl}",
                        "consumer": "${pactbroker.consumerName}",
                        "version": "${pactbroker.consumerVersionNumber}",
                        "status": "${pactbroker.githubVerificationStatus}",
                    },
                },
            },
        )
        assert r.status_code == 201, r.text
        hook = r.json()
        assert http.post("/webhooks", json={"events": [{"name": "nope"}], "request": {}}).status_code == 400
        publish(http, "HookWeb", "1", [pact("HookWeb", "HookApi")])
        broker.dispatcher.wait(20)
        assert len(_Hook.calls) == 3  # two failures, then success
        sent = json.loads(_Hook.calls[-1]["body"])
        assert sent["consumer"] == "HookWeb" and sent["version"] == "1" and "/pact-version/" in sent["pact"]
        logs = http.get(hook["_links"]["pb:logs"]["href"]).json()
        assert [(e["attempt"], e["status"], e["success"]) for e in logs["executions"]] == [
            (1, 500, False),
            (2, 500, False),
            (3, 200, True),
        ]
        # identical content republished: no contract_content_changed
        publish(http, "HookWeb", "2", [pact("HookWeb", "HookApi")])
        broker.dispatcher.wait(20)
        assert len(_Hook.calls) == 3
        # verification published: fires with status
        sha = sha_of(http, "HookApi", "HookWeb", "1")
        verify(http, "HookApi", "HookWeb", sha, "5", True)
        broker.dispatcher.wait(20)
        assert json.loads(_Hook.calls[-1]["body"])["status"] == "success"
        # a test execution runs the hook now and reports what was sent and received
        run = http.post(hook["_links"]["pb:execute"]["href"]).json()
        assert run["success"] is True and run["response"]["status"] == 200 and "attempt" in run["logs"]
    finally:
        server.shutdown()
        server.server_close()


def test_contracts_html_page(http: httpx.Client) -> None:
    publish(http, "Html", "cv-1", [pact("Html", "Page")])
    verify(http, "Page", "Html", sha_of(http, "Page", "Html", "cv-1"), "pv-77", True)
    r = http.get("/", headers={"Accept": "text/html"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "<h2>Pacticipants</h2>" in r.text and "Html" in r.text and "Latest pacts" in r.text
    page = http.get("/ui").text
    matrix = page[page.index("<h2>Matrix") :]
    header = [h for h in matrix.split("</tr>")[0].replace("<th>", "|").split("|") if "</th>" in h]
    cells = matrix.split("</tr>")[1].replace("<td", "|<td").split("|")[1:]
    row = {h.split("</th>")[0]: c for h, c in zip(header, cells, strict=True)}
    assert "cv-1" in row["Consumer version"] and "pv-77" in row["Provider version"]
    assert "Html" in row["Consumer"] and "Page" in row["Provider"]
