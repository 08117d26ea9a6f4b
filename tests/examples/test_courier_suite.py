"""The bundled suite works against the real service: pacts verify, both load scenarios run, the SLO file gates."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from courier_helpers import COURIER_SRC, Courier
from pact import Verifier
from sqlalchemy import create_engine, delete, insert, select

SUITE = COURIER_SRC / "suite"
ASSAY = [sys.executable, "-m", "assay"]
Start = Callable[..., Courier]


def run(
    cmd: list[str], env: dict[str, str] | None = None, timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=timeout
    )


def seed_conversation_42(db_file: Path, version: int) -> None:
    """Provider state: conversation 42 by alice with bob, at `version`, holding one message."""
    from courier.tables import conversations, idempotency_keys, messages, participants

    engine = create_engine(f"sqlite:///{db_file}")
    now = datetime.now(UTC)
    with engine.begin() as conn:
        ids = select(messages.c.id).where(messages.c.conversation_id == 42)
        conn.execute(delete(idempotency_keys).where(idempotency_keys.c.message_id.in_(ids)))
        conn.execute(delete(messages).where(messages.c.conversation_id == 42))
        conn.execute(delete(participants).where(participants.c.conversation_id == 42))
        conn.execute(delete(conversations).where(conversations.c.id == 42))
        conn.execute(
            insert(conversations).values(
                id=42,
                title="launch plans",
                created_by="alice",
                version=version,
                created_at=now,
                updated_at=now,
            )
        )
        for user, role in (("alice", "owner"), ("bob", "member")):
            conn.execute(
                insert(participants).values(conversation_id=42, user_id=user, role=role, added_at=now)
            )
        conn.execute(
            insert(messages).values(conversation_id=42, sender_id="alice", body="hello", created_at=now)
        )
    engine.dispose()


@pytest.mark.redis
@pytest.mark.timeout(120)
def test_web_consumer_pacts_verify_against_courier(
    start_courier: Start, tmp_path: Path, redis_url: str, stream_name: str
) -> None:
    pacts = tmp_path / "pacts"
    consumer = run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(SUITE / "contracts")],
        env={"COURIER_PACT_DIR": str(pacts), "PACT_DO_NOT_TRACK": "true"},
    )
    assert consumer.returncode == 0, consumer.stdout + consumer.stderr
    pact_file = pacts / "courier-web-courier.json"
    pact = json.loads(pact_file.read_text())
    assert pact["consumer"]["name"] == "courier-web"
    assert len(pact["interactions"]) == 6

    # Tokens live in Redis: the "logged in" state stores the token the pact names, as a login would.
    prefix = f"{stream_name}:auth"
    courier = start_courier(redis_url=redis_url, stream=stream_name, redis_prefix=prefix)
    db_file = tmp_path / "courier.db"
    calls: list[tuple[str, str]] = []
    tokens = redis.Redis.from_url(redis_url, decode_responses=True)

    def logged_in(action: str, parameters: dict[str, Any] | None) -> None:
        params = parameters or {}
        calls.append((action, f"logged in {params.get('user')}"))
        key = f"{prefix}:token:{params['token']}"
        if action == "setup":
            tokens.set(key, str(params["user"]), ex=60)
        else:
            tokens.delete(key)

    def exists(action: str, parameters: dict[str, Any] | None) -> None:
        calls.append((action, "exists"))
        if action == "setup":
            seed_conversation_42(db_file, version=1)

    def at_version_2(action: str, parameters: dict[str, Any] | None) -> None:
        calls.append((action, "version 2"))
        if action == "setup":
            seed_conversation_42(db_file, version=2)

    verifier = (
        Verifier("courier", host="127.0.0.1")
        .add_transport(url=courier.url)
        .add_source(pact_file)
        .state_handler(
            {
                "conversation 42 exists with alice and bob": exists,
                "conversation 42 is at version 2": at_version_2,
                "a user is logged in": logged_in,
            },
            teardown=True,
        )
    )
    verifier.verify()
    assert verifier.results["result"] is True
    assert ("setup", "version 2") in calls
    assert sum(1 for c in calls if c == ("setup", "exists")) == 4
    assert {c for c in calls if c[1].startswith("logged in")} >= {
        ("setup", "logged in alice"),
        ("setup", "logged in bob"),
        ("setup", "logged in mallory"),
        ("teardown", "logged in alice"),
    }
    assert tokens.keys(f"{prefix}:token:web-token-*") == []  # teardown logged them out again
    tokens.close()


def _metrics(result: Path) -> dict[str, Any]:
    return dict(json.loads(result.read_text())["metrics"])


def test_yaml_load_scenario_runs_and_the_slo_file_gates_it(start_courier: Start, tmp_path: Path) -> None:
    courier = start_courier()
    out = tmp_path / "yaml-run.json"
    load = run(
        [
            *ASSAY,
            "load",
            "run",
            str(SUITE / "load.yaml"),
            "--duration",
            "2s",
            "--workers",
            "1",
            "--result",
            str(out),
        ],
        env={"COURIER_URL": courier.url},
    )
    assert load.returncode in (0, 99), load.stdout + load.stderr  # 99 only if this box is too slow for p95
    metrics = _metrics(out)
    assert metrics["http_req_failed"]["passes"] == 0  # not one failed request
    assert metrics["checks"]["fails"] == 0
    for name in ("create", "list", "update", "delete", "send"):
        assert metrics[f"http_reqs{{name:{name}}}"]["count"] > 0, name
    creates = metrics["http_reqs{name:create}"]["count"]
    lists = metrics["http_reqs{name:list}"]["count"]
    assert creates > lists / 3  # the mix really runs creates alongside the reads

    gate = run([*ASSAY, "slo", "check", str(out), "--slo", str(SUITE / "slo.yaml"), "--format", "json"])
    report = json.loads(gate.stdout)
    assert gate.returncode == report["exit_code"]
    objectives = {o["id"]: o for o in report["evaluations"][0]["objectives"]}
    assert set(objectives) == {"read-latency", "write-latency", "errors", "checks"}
    assert objectives["errors"]["status"] == "PASS"
    assert objectives["checks"]["status"] == "PASS"
    assert objectives["read-latency"]["value"] > 0
    assert objectives["write-latency"]["value"] > 0


def test_python_load_scenario_measures_crud_and_delivery(start_courier: Start, tmp_path: Path) -> None:
    courier = start_courier()
    out = tmp_path / "py-run.json"
    load = run(
        [*ASSAY, "load", "run", str(SUITE / "load.py"), "--workers", "1", "-o", f"assay={out}"],
        env={"COURIER_URL": courier.url, "COURIER_LOAD_DURATION": "2s"},
    )
    assert load.returncode in (0, 99), load.stdout + load.stderr
    metrics = _metrics(out)
    assert metrics["http_req_failed"]["passes"] == 0
    assert metrics["checks"]["fails"] == 0
    assert metrics["delivery_failed"]["passes"] == 0  # every message sent reached its WebSocket
    assert metrics["delivery_latency"]["count"] > 0
    assert metrics["http_reqs{kind:read}"]["count"] > 0
    assert metrics["http_reqs{kind:write}"]["count"] > 0
    assert courier.metric("courier_messages_delivered_total") > 0
