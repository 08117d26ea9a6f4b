"""Courier's settings: defaults, then a config file, then COURIER_* environment variables.

One pydantic model so that `assay schema courier` can hand editors a JSON Schema, and
so that a typo in the file or an environment variable is a located error, not a
silently ignored key.
"""

from __future__ import annotations

import json
import os
import socket
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

ENV_PREFIX = "COURIER_"
CONFIG_ENV = "COURIER_CONFIG"


class SettingsError(ValueError):
    """A bad config file or environment variable; the message names where."""


def _default_consumer() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class Settings(BaseModel):
    """Everything courier reads at start; every field is also COURIER_<NAME> in the environment."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    host: str = Field("127.0.0.1", description="Address to bind; loopback unless you mean otherwise.")
    port: int = Field(8080, ge=0, le=65535, description="TCP port to listen on.")
    log_level: str = Field("info", description="uvicorn log level.")

    database_url: str = Field(
        "sqlite:///./courier.db",
        description="SQLAlchemy URL: sqlite:///path (default) or postgresql://user@host/db (psycopg 3).",
    )
    migrate_on_start: bool = Field(True, description="Run the Alembic migrations to head at start.")
    db_timeout_s: float = Field(5.0, gt=0, description="Timeout of every database call, seconds.")
    db_connect_timeout_s: float = Field(2.0, gt=0, description="Timeout to open a database connection.")
    db_pool_size: int = Field(10, ge=1, description="Connections kept in the pool.")
    db_max_overflow: int = Field(10, ge=0, description="Extra connections allowed under load.")
    db_pool_timeout_s: float = Field(2.0, gt=0, description="Wait for a free pooled connection, seconds.")

    breaker_failure_threshold: int = Field(
        5, ge=1, description="Consecutive DB failures that open the breaker."
    )
    breaker_reset_s: float = Field(2.0, gt=0, description="Seconds the breaker stays open before a probe.")

    redis_url: str | None = Field(
        None, description="redis://host:port/db; without it an in-process queue is used."
    )
    redis_timeout_s: float = Field(2.0, gt=0, description="Timeout of every Redis call, seconds.")
    stream: str = Field("courier:messages", description="Redis Stream that carries message events.")
    consumer_group: str = Field("courier", description="Consumer group reading the stream.")
    consumer_name: str = Field(
        default_factory=_default_consumer, description="This consumer's name in the group."
    )
    claim_idle_ms: int = Field(
        30000, ge=1, description="Reclaim pending entries idle this long (XAUTOCLAIM)."
    )
    max_deliveries: int = Field(5, ge=1, description="Failed deliveries before an event is dead-lettered.")
    dead_letter_key: str | None = Field(
        None, description="Redis list of dead letters; default '<stream>:dead'."
    )
    stream_maxlen: int = Field(100_000, ge=1, description="Approximate cap on the stream's length.")
    relay_batch: int = Field(100, ge=1, description="Outbox rows published per relay round.")
    relay_interval_s: float = Field(0.5, gt=0, description="Relay poll interval when nothing wakes it.")
    inprocess_queue_size: int = Field(
        10_000, ge=1, description="Capacity of the in-process queue (no Redis)."
    )

    max_concurrency: int = Field(64, ge=1, description="Requests handled at once.")
    max_queue: int = Field(256, ge=0, description="Requests allowed to wait; beyond that a 503 OVERLOADED.")
    queue_timeout_s: float = Field(5.0, gt=0, description="Longest wait in the request queue, seconds.")
    shutdown_timeout_s: float = Field(10.0, gt=0, description="Drain time for in-flight requests on SIGTERM.")
    keep_alive_s: float = Field(
        75.0, gt=0, description="Idle keep-alive connections live this long (above load balancers' 60 s idle timeout)."
    )
    long_poll_max_s: float = Field(25.0, gt=0, description="Cap on ?wait= for message long polls.")
    redis_prefix: str = Field(
        "courier", min_length=1, description="Prefix of courier's other Redis keys and channels (tokens, cache invalidation, fan-out)."
    )
    migrate_target: str = Field("head", description="Alembic revision to migrate to at start ('head', or e.g. '0001').")
    consume: bool = Field(True, description="Run the stream consumer in this process.")
    relay: bool = Field(True, description="Run the outbox relay in this process.")
    fanout: str = Field(
        "local",
        pattern="^(local|redis)$",
        description="Where consumed events go: 'local' (this process's subscribers) or 'redis' (Pub/Sub to every instance).",
    )
    reclaim_pending: bool = Field(
        True, description="Reclaim entries a dead consumer left pending (XAUTOCLAIM); off only to prove the loss."
    )

    login_password: str = Field("courier", min_length=1, description="The password every demo user logs in with.")
    token_ttl_s: int = Field(3600, ge=1, description="Lifetime of a login token, seconds.")
    token_recheck_s: float = Field(
        5.0, ge=0, description="Trust a token verified this recently without asking Redis again."
    )
    service_tokens: dict[str, str] = Field(
        default_factory=dict,
        description="Tokens that never expire, token -> user id, for robots (probes, chaos experiments); JSON in the environment.",
    )
    participant_cache_size: int = Field(10_000, ge=0, description="Conversations whose participants are cached; 0: no cache.")
    participant_cache_ttl_s: float = Field(30.0, gt=0, description="Longest life of a cached participant list.")
    max_message_bytes: int = Field(65_536, ge=1, description="Largest message body (UTF-8 bytes); larger is a 413.")
    max_request_bytes: int = Field(1_048_576, ge=1024, description="Largest request body; larger is a 413.")
    rate_limit_per_s: float = Field(0.0, ge=0, description="Requests per second per user; 0: no limit.")
    rate_limit_burst: int = Field(0, ge=0, description="Requests a user may burst; 0: one second's worth.")
    ws_heartbeat_s: float = Field(15.0, ge=0, description="Seconds between server pings on a WebSocket; 0: none.")
    ws_heartbeat_timeout_s: float = Field(
        0.0, ge=0, description="Close a WebSocket (4408) whose pong is this late; 0: count the miss, keep the socket."
    )
    fault_token: str | None = Field(
        None, description="Token of the in-process fault control endpoint /_assay/faults (loopback only); unset: off."
    )

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql", "postgres://")):
            raise ValueError("expected a sqlite:/// or postgresql:// URL")
        return value

    @field_validator("service_tokens", mode="before")
    @classmethod
    def _tokens_from_json(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return json.loads(value) if value.strip() else {}
            except json.JSONDecodeError as exc:
                raise ValueError(f"expected a JSON object of token -> user id ({exc.msg})") from None
        return value

    @field_validator("redis_url")
    @classmethod
    def _known_redis(cls, value: str | None) -> str | None:
        if value in ("", "none", "None"):
            return None
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("expected a redis:// URL, or nothing for the in-process queue")
        return value

    @property
    def dead_letters(self) -> str:
        return self.dead_letter_key or f"{self.stream}:dead"

    @property
    def uses_redis(self) -> bool:
        return self.redis_url is not None


def _read_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise SettingsError(f"{path}: cannot read config file ({exc.strerror})") from exc
    try:
        if path.suffix == ".toml":
            data: Any = tomllib.loads(text)
        elif path.suffix == ".json":
            data = json.loads(text)
        else:
            data = yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, yaml.YAMLError) as exc:
        raise SettingsError(f"{path}: not valid {path.suffix.lstrip('.') or 'yaml'}: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SettingsError(f"{path}: expected a mapping of settings at the top level")
    return data


def _from_env(env: Mapping[str, str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for key, value in env.items():
        if key.startswith(ENV_PREFIX) and key != CONFIG_ENV:
            values[key[len(ENV_PREFIX) :].lower()] = value
    return values


def load_settings(
    path: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Defaults < file (path or $COURIER_CONFIG) < COURIER_* variables < overrides (CLI flags)."""
    env = os.environ if env is None else env
    path = path or env.get(CONFIG_ENV) or None
    merged: dict[str, Any] = {}
    sources: dict[str, str] = {}
    if path:
        for key, value in _read_file(Path(path)).items():
            merged[key] = value
            sources[key] = str(path)
    for key, value in _from_env(env).items():
        merged[key] = value
        sources[key] = f"${ENV_PREFIX}{key.upper()}"
    for key, value in (overrides or {}).items():
        if value is not None:
            merged[key] = value
            sources[key] = "command line"
    try:
        return Settings.model_validate(merged)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"])
            where = sources.get(str(err["loc"][0]), "settings") if err["loc"] else "settings"
            if err["type"] == "extra_forbidden":
                known = ", ".join(sorted(Settings.model_fields))
                lines.append(f"{where}: unknown setting {key!r}; known settings: {known}")
            else:
                lines.append(f"{where}: {key}: {err['msg']}")
        raise SettingsError("\n".join(lines)) from exc
