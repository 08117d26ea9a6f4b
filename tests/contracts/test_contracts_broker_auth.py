"""Every broker route x every method x every token, enumerated from the app itself.

A new route cannot escape: its declared access is checked against the rule (only GET/HEAD and the
for-verification POST are reads), and a read-only or missing token must never change a single row,
whatever the method (HEAD included).
"""

from __future__ import annotations

import base64
import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from starlette.routing import Route

from assay.contracts.broker.local import LocalBroker
from assay.contracts.broker.models import Base
from assay.harness.ports import free_port

SAMPLE = json.loads((Path(__file__).parent / "data" / "sample-pact-v4.json").read_text())
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
READ_POSTS = {"/pacts/provider/{provider}/for-verification"}
PUBLIC = {"/diagnostic/status/heartbeat"}
READ, WRITE = "Bearer reader", "Bearer writer"
DEAD_URL = f"http://127.0.0.1:{free_port()}/hook"


def pact(consumer: str, provider: str) -> dict[str, Any]:
    doc = copy.deepcopy(SAMPLE)
    doc["consumer"]["name"], doc["provider"]["name"] = consumer, provider
    return doc


def publish_body(consumer: str, provider: str, version: str) -> dict[str, Any]:
    return {
        "pacticipantName": consumer,
        "pacticipantVersionNumber": version,
        "branch": "main",
        "tags": ["t1"],
        "contracts": [
            {
                "consumerName": consumer,
                "providerName": provider,
                "specification": "pact",
                "contentType": "application/json",
                "content": base64.b64encode(json.dumps(pact(consumer, provider)).encode()).decode(),
            }
        ],
    }


def webhook_body() -> dict[str, Any]:
    return {
        "events": [{"name": "contract_published"}],
        "request": {"method": "POST", "url": DEAD_URL},
        "enabled": False,
    }


@pytest.fixture()
def broker() -> Iterator[LocalBroker]:
    with LocalBroker(read_tokens={"reader"}, write_tokens={"writer"}, webhook_retries=0) as b:
        yield b


@pytest.fixture()
def seeded(broker: LocalBroker) -> dict[str, str]:
    """One of everything a path can name, created with the write token."""
    with httpx.Client(base_url=broker.url, headers={"Authorization": WRITE}, timeout=10) as c:
        assert c.post("/contracts/publish", json=publish_body("Consumer", "Provider", "1")).status_code == 200
        doc = c.get("/pacts/provider/Provider/consumer/Consumer/version/1").json()
        sha = doc["_links"]["pb:pact-version"]["name"]
        ver = c.post(
            f"/pacts/provider/Provider/consumer/Consumer/pact-version/{sha}/verification-results",
            json={"success": True, "providerApplicationVersion": "p1"},
        )
        assert ver.status_code == 201
        env = c.post("/environments", json={"name": "staging"}).json()["uuid"]
        deployed = c.post(
            f"/pacticipants/Consumer/versions/1/deployed-versions/environment/{env}", json={}
        ).json()["uuid"]
        released = c.post(
            f"/pacticipants/Consumer/versions/1/released-versions/environment/{env}", json={}
        ).json()["uuid"]
        hook = c.post("/webhooks", json=webhook_body()).json()["uuid"]
    return {
        "pacticipant": "Consumer",
        "consumer": "Consumer",
        "provider": "Provider",
        "version": "1",
        "tag": "t1",
        "branch": "main",
        "sha": sha,
        "id": ver.json()["_links"]["self"]["href"].rsplit("/", 1)[1],
        "metadata": "m",
        "environment": env,
        "deployed": deployed,
        "released": released,
        "webhook": hook,
    }


def operations(broker: LocalBroker) -> dict[str, dict[str, str]]:
    """path template -> {method: declared access}, read from the running app's routes."""
    ops: dict[str, dict[str, str]] = {}
    for route in broker.app.routes:
        assert isinstance(route, Route), route
        access = getattr(route.endpoint, "access", None)
        assert access in ("read", "write"), f"{route.path} declares no access"
        for method in route.methods or ():
            ops.setdefault(route.path, {})[method] = access
    return ops


def fill(template: str, values: dict[str, str]) -> str:
    def one(m: re.Match[str]) -> str:
        name = m.group(1)
        if name == "uuid":
            for prefix, key in (
                ("/deployed-versions", "deployed"),
                ("/released-versions", "released"),
                ("/webhooks", "webhook"),
            ):
                if template.startswith(prefix):
                    return values[key]
            return values["environment"]
        assert name in values, f"{template}: add a value for {{{name}}} to the auth matrix"
        return values[name]

    return re.sub(r"\{(\w+)\}", one, template)


def body_for(template: str, method: str) -> Any:
    """A body that would really write, if the request got through."""
    if template == "/contracts/publish":
        return publish_body("Evil", "Provider", "666")
    if template.startswith("/pacts/provider/{provider}/consumer/{consumer}/version/"):
        return pact("Consumer", "Provider") | {"interactions": []}
    if template.endswith("/verification-results"):
        return {"success": False, "providerApplicationVersion": "evil"}
    if template.endswith("/for-verification"):
        return {"consumerVersionSelectors": [{"mainBranch": True}]}
    if template.startswith("/webhooks"):
        return webhook_body()
    if template.startswith("/environments"):
        return {"name": "evil", "displayName": "Evil", "production": True}
    if template.startswith(("/deployed-versions", "/released-versions")):
        return {"currentlyDeployed": False, "currentlySupported": False}
    if template == "/pacticipants":
        return {"name": "Evil"}
    return {"name": "Evil", "mainBranch": "evil", "branch": "evil", "tags": ["evil"], "buildUrl": "http://x"}


def snapshot(broker: LocalBroker) -> dict[str, list[tuple[Any, ...]]]:
    with broker.app.state.engine.connect() as conn:
        return {
            t.name: sorted((tuple(map(repr, row)) for row in conn.execute(select(t))), key=repr)
            for t in Base.metadata.sorted_tables
        }


def send(c: httpx.Client, method: str, url: str, body: Any, token: str | None) -> httpx.Response:
    headers = {"Accept": "application/hal+json"}
    if token:
        headers["Authorization"] = token
    content = None if method in ("GET", "HEAD") else json.dumps(body).encode()
    if content is not None:
        headers["Content-Type"] = "application/json"
    return c.request(method, url, content=content, headers=headers)


def test_contracts_every_route_declares_the_access_its_method_implies(broker: LocalBroker) -> None:
    ops = operations(broker)
    assert len(ops) > 40
    for path, methods in ops.items():
        for method, access in methods.items():
            is_read = method in ("GET", "HEAD") or (method == "POST" and path in READ_POSTS)
            assert access == ("read" if is_read else "write"), f"{method} {path} is declared {access}"
        if "GET" in methods:
            assert methods.get("HEAD") == "read", f"HEAD {path} must be the read its GET is"


@pytest.mark.slow
def test_contracts_auth_matrix_route_x_method_x_token(broker: LocalBroker, seeded: dict[str, str]) -> None:
    ops = operations(broker)
    before = snapshot(broker)
    failures: list[str] = []
    with httpx.Client(base_url=broker.url, timeout=10) as c:
        for token in (None, READ):
            for path, declared in ops.items():
                url = fill(path, seeded)
                for method in METHODS:
                    r = send(c, method, url, body_for(path, method), token)
                    where = f"{method} {path} with {token or 'no token'} -> {r.status_code}"
                    if method not in declared:
                        ok = r.status_code == 405
                    elif path in PUBLIC:
                        ok = r.status_code == 200
                    elif token is None:
                        ok = r.status_code == 401
                    elif declared[method] == "write":
                        ok = r.status_code == 403
                    else:
                        ok = r.status_code not in (401, 403) and r.status_code < 500
                    if not ok:
                        failures.append(where)
                    if method == "HEAD":
                        assert r.content == b"", where
        assert failures == []
        assert snapshot(broker) == before, "a request without a write token changed the database"
        # HEAD never changes anything, whoever asks
        for path in ops:
            r = send(c, "HEAD", fill(path, seeded), None, WRITE)
            assert r.status_code < 500 and r.content == b"", f"HEAD {path} -> {r.status_code}"
        assert snapshot(broker) == before, "a HEAD with the write token changed the database"
        # the write token may do everything that is declared (deletes last, so the rest find their rows)
        order = sorted(
            ((p, m) for p, ms in ops.items() for m in ms if m not in ("GET", "HEAD")),
            key=lambda pm: pm[1] == "DELETE",
        )
        for path, method in order:
            r = send(c, method, fill(path, seeded), body_for(path, method), WRITE)
            if r.status_code in (401, 403, 405) or r.status_code >= 500:
                failures.append(f"{method} {path} with the write token -> {r.status_code}: {r.text[:200]}")
    assert failures == []
    assert snapshot(broker) != before


def test_contracts_head_with_a_read_token_creates_nothing(
    broker: LocalBroker, seeded: dict[str, str]
) -> None:
    """The reported attack, spelled out: HEAD on write routes with a read token."""
    with httpx.Client(base_url=broker.url, headers={"Authorization": READ}, timeout=10) as c:
        for url in (
            "/pacticipants/HeadMade",
            "/pacticipants/HeadMade/versions/1",
            "/pacticipants/HeadMade/branches/main/versions/1",
            "/pacticipants/HeadMade/versions/1/tags/prod",
            "/environments/" + seeded["environment"],
            "/webhooks/" + seeded["webhook"],
        ):
            assert c.head(url).status_code in (200, 404), url
        assert c.get("/pacticipants/HeadMade").status_code == 404


def test_contracts_read_token_may_ask_which_pacts_to_verify(
    broker: LocalBroker, seeded: dict[str, str]
) -> None:
    with httpx.Client(base_url=broker.url, headers={"Authorization": READ}, timeout=10) as c:
        r = c.post(
            "/pacts/provider/Provider/for-verification",
            json={"consumerVersionSelectors": [{"mainBranch": True}]},
        )
        assert r.status_code == 200, r.text
        assert r.json()["_embedded"]["pacts"]
