"""courier's settings (file < environment < flags) and its two ways to start: `python -m courier`, `assay example serve`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from courier.settings import Settings, SettingsError, load_settings
from courier_helpers import COURIER_SRC

from assay.harness.ports import free_port
from assay.harness.process import ServiceProcess


def test_defaults_are_loopback_sqlite_and_the_in_process_queue() -> None:
    settings = load_settings(env={})
    assert settings.host == "127.0.0.1"
    assert settings.database_url.startswith("sqlite:///")
    assert settings.redis_url is None
    assert settings.uses_redis is False
    assert settings.dead_letters == "courier:messages:dead"


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("courier.yaml", "port: 9001\nredis_url: redis://127.0.0.1:6379/2\nmax_deliveries: 3\n"),
        ("courier.toml", 'port = 9001\nredis_url = "redis://127.0.0.1:6379/2"\nmax_deliveries = 3\n'),
        ("courier.json", '{"port": 9001, "redis_url": "redis://127.0.0.1:6379/2", "max_deliveries": 3}'),
    ],
)
def test_file_then_environment_then_flags(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    from_file = load_settings(path, env={})
    assert (from_file.port, from_file.redis_url, from_file.max_deliveries) == (
        9001,
        "redis://127.0.0.1:6379/2",
        3,
    )

    env = {"COURIER_PORT": "9002", "COURIER_CONFIG": str(path), "COURIER_CLAIM_IDLE_MS": "1500"}
    from_env = load_settings(env=env)
    assert (from_env.port, from_env.max_deliveries, from_env.claim_idle_ms) == (9002, 3, 1500)

    flagged = load_settings(env=env, overrides={"port": 9003, "redis_url": None})
    assert flagged.port == 9003
    assert flagged.redis_url == "redis://127.0.0.1:6379/2"  # an absent flag overrides nothing
    assert load_settings(env={"COURIER_REDIS_URL": ""}).redis_url is None


def test_mistakes_name_where_they_are(tmp_path: Path) -> None:
    path = tmp_path / "courier.yaml"
    path.write_text("port: 8080\nredis: redis://localhost\n")
    with pytest.raises(SettingsError) as typo:
        load_settings(path, env={})
    assert str(typo.value).startswith(f"{path}: unknown setting 'redis'; known settings:")
    assert "redis_url" in str(typo.value)

    with pytest.raises(SettingsError) as bad_env:
        load_settings(env={"COURIER_PORT": "eighty"})
    assert str(bad_env.value).startswith("$COURIER_PORT: port:")

    with pytest.raises(SettingsError) as bad_url:
        load_settings(env={"COURIER_DATABASE_URL": "mysql://x"})
    assert "expected a sqlite:/// or postgresql:// URL" in str(bad_url.value)

    with pytest.raises(SettingsError) as bad_tokens:
        load_settings(env={"COURIER_SERVICE_TOKENS": "probe=alice"})
    assert str(bad_tokens.value).startswith("$COURIER_SERVICE_TOKENS: service_tokens:")
    assert "expected a JSON object of token -> user id" in str(bad_tokens.value)
    assert load_settings(env={"COURIER_SERVICE_TOKENS": '{"t": "u"}'}).service_tokens == {"t": "u"}
    with pytest.raises(SettingsError) as bad_rate:
        load_settings(env={"COURIER_RATE_LIMIT_PER_S": "-1"})
    assert str(bad_rate.value).startswith("$COURIER_RATE_LIMIT_PER_S: rate_limit_per_s:")

    path.write_text("port: [1\n")
    with pytest.raises(SettingsError) as broken:
        load_settings(path, env={})
    assert str(broken.value).startswith(f"{path}: not valid yaml")


def test_json_schema_for_editors() -> None:
    schema = Settings.model_json_schema()
    assert schema["additionalProperties"] is False
    assert {"database_url", "redis_url", "claim_idle_ms", "max_deliveries"} <= set(schema["properties"])
    out = subprocess.run(
        [sys.executable, "-m", "assay", "schema", "courier"],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["properties"]["port"]["default"] == 8080


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COURIER_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(COURIER_SRC), env.get("PYTHONPATH")]))
    return {**env, **extra}


def test_python_m_courier_rejects_bad_settings_with_64(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "courier", "check-config"],
        env=_env(COURIER_MAX_QUEUE="-1"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 64
    assert out.stderr.startswith("courier: $COURIER_MAX_QUEUE: max_queue:")
    good = subprocess.run(
        [sys.executable, "-m", "courier", "check-config", "--port", "9100"],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert good.returncode == 0
    assert json.loads(good.stdout)["port"] == 9100


def test_assay_example_serve_courier(tmp_path: Path) -> None:
    port = free_port()
    db = tmp_path / "served.db"
    cmd = [
        sys.executable,
        "-m",
        "assay",
        "example",
        "serve",
        "courier",
        "--port",
        str(port),
        "--db",
        f"sqlite:///{db}",
    ]
    with ServiceProcess(
        cmd, env=_env(), health_url=f"http://127.0.0.1:{port}/health/ready", log_path=tmp_path / "serve.log"
    ) as proc:
        login = httpx.post(
            f"http://127.0.0.1:{port}/auth/login", json={"user_id": "alice", "password": "courier"}
        )
        assert login.status_code == 201
        resp = httpx.post(
            f"http://127.0.0.1:{port}/conversations",
            json={"title": "served"},
            headers={"Authorization": f"Bearer {login.json()['token']}"},
        )
        assert resp.status_code == 201
        ready = httpx.get(f"http://127.0.0.1:{port}/health/ready").json()
        assert ready["checks"]["queue"]["kind"] == "in-process"
    assert proc.proc is not None and proc.proc.returncode == 0
    assert db.exists()
    assert "courier on http://127.0.0.1:" in proc.log_path.read_text()

    unknown = subprocess.run(
        [sys.executable, "-m", "assay", "example", "serve", "postman"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert unknown.returncode == 64
    assert "unknown example 'postman'; known examples: courier" in unknown.stderr
