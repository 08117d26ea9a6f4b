"""Hostile names and pact content: the same 400 JSON on SQLite and PostgreSQL, and what is accepted can be fetched."""

from __future__ import annotations

import base64
import copy
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from assay.contracts.broker.local import LocalBroker

ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
SAMPLE = json.loads((Path(__file__).parent / "data" / "sample-pact-v4.json").read_text())


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def broker(request: pytest.FixtureRequest) -> Iterator[LocalBroker]:
    if request.param == "sqlite":
        with LocalBroker() as b:
            yield b
        return
    name = f"assay_contracts_input_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        with LocalBroker(db=f"postgresql://postgres@127.0.0.1:5432/{name}") as b:
            yield b
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture()
def http(broker: LocalBroker) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=broker.url, timeout=10) as c:
        yield c


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def publish_raw(
    http: httpx.Client, consumer: str, version: str, provider: str, content: bytes, **extra: Any
) -> httpx.Response:
    body = {
        "pacticipantName": consumer,
        "pacticipantVersionNumber": version,
        "contracts": [
            {
                "consumerName": consumer,
                "providerName": provider,
                "specification": "pact",
                "contentType": "application/json",
                "content": base64.b64encode(content).decode(),
            }
        ],
        **extra,
    }
    return http.post("/contracts/publish", json=body)


def pact_bytes(consumer: str, provider: str) -> bytes:
    doc = copy.deepcopy(SAMPLE)
    doc["consumer"]["name"], doc["provider"]["name"] = consumer, provider
    return json.dumps(doc).encode()


def assert_400_json(r: httpx.Response, field: str, words: str) -> None:
    assert r.status_code == 400, (r.status_code, r.text[:300])
    assert r.headers["content-type"].startswith("application/hal+json")
    messages = r.json()["errors"][field]
    assert any(words in m for m in messages), messages


@pytest.mark.parametrize(
    ("field", "consumer", "version", "words"),
    [
        ("pacticipantName", ".", "1", "'.'"),
        ("pacticipantName", "..", "1", "'..'"),
        ("pacticipantVersionNumber", "C", "..", "'..'"),
        ("pacticipantName", "x" * 256, "1", "256 characters"),
        ("pacticipantVersionNumber", "C", "1" * 300, "300 characters"),
        ("pacticipantName", "nul\x00byte", "1", "control character"),
        ("pacticipantVersionNumber", "C", "1\x00", "control character"),
    ],
)
def test_contracts_unaddressable_or_oversized_names_are_400_with_the_rule(
    http: httpx.Client, field: str, consumer: str, version: str, words: str
) -> None:
    provider = unique("P")
    r = publish_raw(http, consumer, version, provider, pact_bytes(consumer, provider))
    assert_400_json(r, field, words)
    assert "cannot appear in a URL path" in r.json()["errors"][field][0]
    assert http.get(f"/pacticipants/{provider}").status_code == 404  # nothing half-written


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("PUT", "/pacticipants/{long}", {}, "pacticipant"),
        ("POST", "/pacticipants", {"name": "{long}"}, "pacticipant"),
        ("PUT", "/pacticipants/ok-{u}/versions/{long}", {}, "version"),
        ("PUT", "/pacticipants/ok-{u}/branches/{long}/versions/1", {}, "branch"),
        ("PUT", "/pacticipants/ok-{u}/versions/1/tags/{long}", {}, "tag"),
        ("PATCH", "/pacticipants/ok-{u}", {"displayName": "{long}"}, "display_name"),
        ("POST", "/environments", {"name": "{long}"}, "name"),
        ("PUT", "/pacticipants/ok-{u}", {"repositoryUrl": "nul\u0000"}, "repository_url"),
    ],
)
def test_contracts_every_write_path_gives_the_same_400_on_both_stores(
    http: httpx.Client, method: str, path: str, body: dict[str, str], field: str
) -> None:
    u = uuid.uuid4().hex[:8]
    long = "L" * 300
    fmt = {"long": long, "u": u}
    r = http.request(
        method,
        path.format(**fmt),
        json={k: v.format(**fmt) if "{" in v else v for k, v in body.items()},
    )
    assert r.status_code == 400, (r.status_code, r.text[:300])
    assert field in r.json()["errors"], r.text[:300]


def test_contracts_names_with_a_slash_are_stored_and_fetchable(http: httpx.Client) -> None:
    consumer, provider = unique("team/web"), unique("team/api")
    r = publish_raw(http, consumer, "release/1.0", provider, pact_bytes(consumer, provider), branch="feat/x")
    assert r.status_code == 200, r.text
    for link in r.json()["_links"]["pb:contracts"]:
        assert http.get(link["href"]).status_code == 200
    got = http.get(r.json()["_links"]["pb:pacticipant-version"]["href"]).json()
    assert got["number"] == "release/1.0" and [b["name"] for b in got["branchVersions"]] == ["feat/x"]
    # the pact URLs handed to a verifier work as given
    fv = http.post(f"/pacts/provider/{provider.replace('/', '%2F')}/for-verification", json={})
    [listed] = fv.json()["_embedded"]["pacts"]
    assert http.get(listed["_links"]["self"]["href"]).json()["consumer"]["name"] == consumer


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_contracts_non_finite_numbers_are_rejected_at_publish(http: httpx.Client, constant: str) -> None:
    consumer, provider = unique("C"), unique("P")
    raw = pact_bytes(consumer, provider).replace(
        b'"consumer"', f'"score": {constant}, "consumer"'.encode(), 1
    )
    r = publish_raw(http, consumer, "1", provider, raw)
    assert_400_json(r, "contracts[0].content", constant)
    r = http.put(f"/pacts/provider/{provider}/consumer/{consumer}/version/1", content=raw)
    assert r.status_code == 400 and constant in json.dumps(r.json())


def test_contracts_deeply_nested_pacts_and_bodies_are_400(http: httpx.Client) -> None:
    consumer, provider = unique("C"), unique("P")
    deep = b'{"consumer": {"name": "%s"}, "provider": {"name": "%s"}, "x": %s%s}' % (
        consumer.encode(),
        provider.encode(),
        b"[" * 100_000,
        b"]" * 100_000,
    )
    assert_400_json(publish_raw(http, consumer, "1", provider, deep), "contracts[0].content", "nested")
    r = http.post("/contracts/publish", content=b"[" * 100_000 + b"]" * 100_000)
    assert_400_json(r, "body", "nested")


@pytest.mark.parametrize(
    "url",
    [
        "/pacticipants/a%00b",
        "/pacticipants/ok/versions/1%00",
        "/can-i-deploy?pacticipant=a%00b&version=1&environment=production",
        "/environments?name=x%00",
    ],
)
def test_contracts_nul_in_a_path_or_query_is_400_on_both_stores(http: httpx.Client, url: str) -> None:
    r = http.get(url)
    assert r.status_code == 400, (r.status_code, r.text[:300])
    assert "NUL" in json.dumps(r.json())
