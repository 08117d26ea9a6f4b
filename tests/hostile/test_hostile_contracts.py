"""Bad input to `assay broker` and `assay contract`: exit 64 and one located line, never a traceback."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from assay.harness.ports import free_port

SAMPLE = json.loads((Path(__file__).parents[1] / "contracts" / "data" / "sample-pact-v4.json").read_text())


def write_pact(path: Path, text: str | None = None, provider: str = "UserAPI") -> Path:
    doc = json.loads(json.dumps(SAMPLE))
    doc["provider"]["name"] = provider
    path.write_text(text if text is not None else json.dumps(doc, indent=2))
    return path


def deep(tmp: Path) -> tuple[list[str], str]:
    f = tmp / "deep.json"
    f.write_text(
        '{"consumer": {"name": "A"}, "provider": {"name": "B"},\n "x": ' + "[" * 50_000 + "]" * 50_000 + "}"
    )
    return [str(f)], f"{f}:2:"


def nan(tmp: Path) -> tuple[list[str], str]:
    f = tmp / "nan.json"
    f.write_text('{"consumer": {"name": "A"},\n  "provider": {"name": "B"},\n  "score": NaN}')
    return [str(f)], f"{f}:3:12: NaN"


def not_json(tmp: Path) -> tuple[list[str], str]:
    f = tmp / "broken.json"
    f.write_text('{"consumer": {"name": "A"},\n  "provider": ')
    return [str(f)], f"{f}:2:"


BROKER_CASES = {"deeply nested": deep, "NaN": nan, "not JSON": not_json}


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PACT_BROKER")}
    return subprocess.run(
        [sys.executable, "-m", "assay", *args], capture_output=True, text=True, timeout=60, env=env
    )


def assert_one_located_line(proc: subprocess.CompletedProcess[str], *words: str) -> None:
    assert proc.returncode == 64, (proc.returncode, proc.stdout[-500:], proc.stderr[-2000:])
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])


@pytest.mark.parametrize("case", BROKER_CASES, ids=list(BROKER_CASES))
def test_hostile_broker_publish_bad_pact_file(tmp_path: Path, case: str) -> None:
    files, where = BROKER_CASES[case](tmp_path)
    broker = f"http://127.0.0.1:{free_port()}"
    proc = run("broker", "publish", *files, "--version", "1", "--broker-base-url", broker)
    assert_one_located_line(proc, where)


def verify_args(*pacts: str, provider: str = "UserAPI") -> list[str]:
    url = f"http://127.0.0.1:{free_port()}"
    return [
        "contract",
        "verify",
        "--provider",
        provider,
        "--provider-base-url",
        url,
        *[f"--pact={p}" for p in pacts],
    ]


def test_hostile_contract_verify_pact_is_a_directory(tmp_path: Path) -> None:
    write_pact(tmp_path / "a.json")
    assert_one_located_line(run(*verify_args(str(tmp_path))), str(tmp_path), "is a directory")


def test_hostile_contract_verify_pact_for_another_provider(tmp_path: Path) -> None:
    f = write_pact(tmp_path / "other.json", provider="BillingAPI")
    proc = run(*verify_args(str(f), provider="UserAPI"))
    assert_one_located_line(proc, str(f), "'BillingAPI'", "not --provider 'UserAPI'")


@pytest.mark.parametrize("case", BROKER_CASES, ids=list(BROKER_CASES))
def test_hostile_contract_verify_bad_pact_file(tmp_path: Path, case: str) -> None:
    files, where = BROKER_CASES[case](tmp_path)
    assert_one_located_line(run(*verify_args(*files)), where)


def test_hostile_contract_verify_missing_pact(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    assert_one_located_line(run(*verify_args(str(missing))), str(missing), "no such pact file")


def _offline(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run assay in a network namespace with only loopback: nothing can leave the machine."""
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-rn", "true"]).returncode != 0:
        pytest.skip("needs `unshare -rn` (user and network namespaces) to keep the verifier offline")
    cmd = " ".join(shlex.quote(a) for a in [sys.executable, "-m", "assay", *args])
    return subprocess.run(
        ["unshare", "-rn", "sh", "-c", f"ip link set lo up 2>/dev/null; exec {cmd}"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


@pytest.mark.parametrize("user_setting", [None, "false"])
def test_contracts_verify_sets_pact_do_not_track_unless_the_user_did(
    tmp_path: Path, user_setting: str | None
) -> None:
    f = write_pact(tmp_path / "p.json")
    env = {
        k: v for k, v in os.environ.items() if k != "PACT_DO_NOT_TRACK" and not k.startswith("PACT_BROKER")
    }
    if user_setting is not None:
        env["PACT_DO_NOT_TRACK"] = user_setting
    proc = _offline(*verify_args(str(f)), env=env)
    assert proc.returncode == 2, proc.stderr[-2000:]  # nothing listens at the provider URL
    tracking = "We are tracking events anonymously" in proc.stdout + proc.stderr
    assert tracking is (user_setting == "false"), proc.stderr[-2000:]
