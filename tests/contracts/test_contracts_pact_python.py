"""Compatibility with the real pact-python 4.x: its pacts round-trip byte for byte, its Verifier uses our broker."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from contracts_pactgen import UserStore, handlers, user_provider, write_pacts
from pact import Verifier

from assay.contracts.broker.local import LocalBroker
from assay.contracts.client import BrokerClient

os.environ.setdefault("PACT_DO_NOT_TRACK", "true")


@pytest.fixture(scope="module")
def broker() -> Iterator[LocalBroker]:
    with LocalBroker() as b:
        yield b


@pytest.fixture(scope="module")
def pact_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("pacts")
    return {spec: write_pacts(base / spec, spec) for spec in ("V3", "V4")}


def strip_links(served: bytes) -> bytes:
    """Undo the broker's `_links` splice: everything else must be the published bytes."""
    assert "_links" in json.loads(served)
    start = served.rindex(b',"_links":')
    end = len(served.rstrip()) - 1
    return served[:start] + served[end:]


@pytest.mark.parametrize("spec", ["V3", "V4"])
def test_contracts_pact_python_pacts_round_trip_byte_for_byte(
    broker: LocalBroker, pact_files: dict[str, Path], spec: str
) -> None:
    raw = pact_files[spec].read_bytes()
    meta = json.loads(raw)["metadata"]["pactSpecification"]["version"]
    assert meta == {"V3": "3.0.0", "V4": "4.0"}[spec]
    consumer = f"RoundTrip{spec}"
    raw = raw.replace(b'"UserWeb"', f'"{consumer}"'.encode())
    path = pact_files[spec].with_name(f"{consumer}-UserAPI.json")
    path.write_bytes(raw)
    with BrokerClient(broker.url) as client:
        result = client.publish([path], version="1.0.0", branch="main")
    href = result["contracts"][0]["href"]
    with httpx.Client() as http:
        served = http.get(href).content
        assert strip_links(served) == raw
        sha = json.loads(served)["_links"]["pb:pact-version"]["name"]
        by_sha = http.get(
            f"{broker.url}/pacts/provider/UserAPI/consumer/{consumer}/pact-version/{sha}"
        ).content
        assert strip_links(by_sha) == raw
        # the old PUT route stores and serves the same bytes too
        put = http.put(
            f"{broker.url}/pacts/provider/UserAPI/consumer/{consumer}Put/version/1",
            content=raw.replace(consumer.encode(), f"{consumer}Put".encode()),
        )
        assert put.status_code == 201
        served = http.get(f"{broker.url}/pacts/provider/UserAPI/consumer/{consumer}Put/latest").content
        assert strip_links(served) == raw.replace(consumer.encode(), f"{consumer}Put".encode())


def test_contracts_pact_python_verifier_fetches_for_verification_and_publishes(
    broker: LocalBroker, pact_files: dict[str, Path]
) -> None:
    with BrokerClient(broker.url) as client:
        client.publish([pact_files["V4"]], version="c1", branch="main")
    store = UserStore()
    with user_provider(store) as url:
        verifier = (
            Verifier("UserAPI", host="127.0.0.1")
            .add_transport(url=url)
            .state_handler(handlers(store), teardown=True)
            .broker_source(broker.url, selector=True)
            .consumer_version(main_branch=True)
            .include_pending()
            .provider_branch("main")
            .build()
            .set_publish_options(version="p1", branch="main")
        )
        verifier.verify()
        assert ("user exists", "setup", {"id": 42, "name": "Alice"}) in store.state_calls
        with httpx.Client(base_url=broker.url, headers={"Accept": "application/hal+json"}) as http:
            doc = http.get("/pacts/provider/UserAPI/consumer/UserWeb/version/c1").json()
            sha = doc["_links"]["pb:pact-version"]["name"]
            matrix = http.get("/matrix", params={"q[][pacticipant]": "UserWeb", "q[][version]": "c1"}).json()
            [row] = matrix["matrix"]
            assert row["provider"]["version"]["number"] == "p1"
            assert row["verificationResult"]["success"] is True
            assert [b["name"] for b in row["provider"]["version"]["branchVersions"]] == ["main"]
            # now verified on main: no longer pending
            fv = http.post(
                "/pacts/provider/UserAPI/for-verification",
                json={
                    "consumerVersionSelectors": [{"mainBranch": True, "consumer": "UserWeb"}],
                    "providerVersionBranch": "main",
                    "includePendingStatus": True,
                },
            ).json()
            [p] = fv["_embedded"]["pacts"]
            assert p["verificationProperties"]["pending"] is False and sha in p["_links"]["self"]["href"]
            # a broken provider version fails, and the failure is published
            store.broken = True
            failing = (
                Verifier("UserAPI", host="127.0.0.1")
                .add_transport(url=url)
                .state_handler(handlers(store), teardown=True)
                .broker_source(broker.url, selector=True)
                .consumer_version(main_branch=True)
                .include_pending()
                .provider_branch("main")
                .build()
                .set_publish_options(version="p2", branch="main")
            )
            with pytest.raises(RuntimeError):
                failing.verify()
            q = {"q[][pacticipant]": "UserWeb", "q[][version]": "c1"}
            rows = http.get("/matrix", params=q).json()["matrix"]
            by_pv = {r["provider"]["version"]["number"]: r["verificationResult"]["success"] for r in rows}
            assert by_pv == {"p1": True, "p2": False}
