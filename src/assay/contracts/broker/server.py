"""`assay broker serve`: open the database, migrate it, and run the API under uvicorn."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.applications import Starlette

from assay.contracts.broker.api import AuthConfig, create_app
from assay.contracts.broker.db import DEFAULT_URL, open_database
from assay.contracts.broker.webhooks import Dispatcher


def _split(value: str | None) -> set[str]:
    return {t.strip() for t in (value or "").split(",") if t.strip()}


@dataclass
class ServerConfig:
    db: str = DEFAULT_URL
    host: str = "127.0.0.1"
    port: int = 9292
    read_tokens: set[str] = field(default_factory=set)
    write_tokens: set[str] = field(default_factory=set)
    webhook_retries: int = 5
    webhook_backoff: float = 1.0

    @classmethod
    def from_env(cls, **overrides: object) -> ServerConfig:
        """Tokens may come from ASSAY_BROKER_READ_TOKENS / ASSAY_BROKER_WRITE_TOKENS (comma separated)."""
        cfg = cls(
            read_tokens=_split(os.environ.get("ASSAY_BROKER_READ_TOKENS")),
            write_tokens=_split(os.environ.get("ASSAY_BROKER_WRITE_TOKENS")),
        )
        for key, value in overrides.items():
            if value is not None and value != set():
                setattr(cfg, key, value)
        return cfg


def build_app(cfg: ServerConfig) -> Starlette:
    engine, sessions = open_database(cfg.db)
    dispatcher = Dispatcher(sessions, retries=cfg.webhook_retries, backoff=cfg.webhook_backoff)
    app = create_app(
        sessions,
        auth=AuthConfig(read_tokens=cfg.read_tokens, write_tokens=cfg.write_tokens),
        dispatcher=dispatcher,
    )
    app.state.engine = engine
    return app


def serve(cfg: ServerConfig, announce: Callable[[], None] | None = None) -> None:
    """Open and migrate the database, then `announce` (the database is usable), then serve."""
    import uvicorn

    app = build_app(cfg)
    if announce is not None:
        announce()
    uvicorn.run(app, host=cfg.host, port=cfg.port, log_level="warning", access_log=False)
