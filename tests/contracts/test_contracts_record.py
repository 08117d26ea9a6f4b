"""`assay contract verify --record`: the verification's RunResult (kind contract) lands in the trend store."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from contracts_pactgen import UserStore, run_cli, user_provider, write_pacts

from assay.trends.store import open_store

os.environ.setdefault("PACT_DO_NOT_TRACK", "true")


@pytest.fixture(scope="module")
def pact_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_pacts(tmp_path_factory.mktemp("record-pacts"), "V4")


def test_contract_verify_records_its_result(pact_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'trends.db'}"
    out = tmp_path / "run.json"
    users = UserStore()
    users.broken = True  # a failed verification is recorded too, then the gate fails (exit 2)
    users.users[42] = {"id": 42, "name": "Alice", "email": "alice@example.com", "tags": ["admin", "ops"]}
    with user_provider(users) as base:
        code, _, err = run_cli(
            ["contract", "verify", "--provider", "UserAPI", "--provider-base-url", base, "--pact", str(pact_file),
             "--out", str(out), "--record", "--store", url],
            capsys,
        )  # fmt: skip
    assert code == 2, err
    assert "recorded run" in err and "(verify UserAPI)" in err
    with open_store(url) as store:
        [stored] = store.runs()
        assert stored.kind == "contract" and stored.scenario == "verify UserAPI" and stored.status == "failed"
        assert stored.run_id == json.loads(out.read_text())["id"]


def test_a_bad_store_fails_before_verifying(pact_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    users = UserStore()
    out = tmp_path / "run.json"
    with user_provider(users) as base:
        code, _, err = run_cli(
            ["contract", "verify", "--provider", "UserAPI", "--provider-base-url", base, "--pact", str(pact_file),
             "--out", str(out), "--record", "--store", "mysql://nowhere/x"],
            capsys,
        )  # fmt: skip
    assert code == 64 and "--store" in err and "Traceback" not in err
    assert not out.exists()  # nothing was verified
    code, _, err = run_cli(
        ["contract", "verify", "--provider", "UserAPI", "--provider-base-url", "http://127.0.0.1:9", "--pact", str(pact_file),
         "--store", f"sqlite:///{tmp_path / 'x.db'}"],
        capsys,
    )  # fmt: skip
    assert code == 64 and "--record" in err
