"""Run a broker in this process on an ephemeral loopback port (tests, plans, demos).

`with LocalBroker() as broker:` gives a real HTTP broker at `broker.url` backed by a
temporary SQLite file (or any URL passed in), and stops it cleanly on exit.
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType

import uvicorn

from assay.contracts.broker.server import ServerConfig, build_app
from assay.harness.ports import free_port, wait_for_port


class LocalBroker:
    def __init__(
        self,
        db: str | None = None,
        *,
        read_tokens: set[str] | None = None,
        write_tokens: set[str] | None = None,
        webhook_retries: int = 5,
        webhook_backoff: float = 1.0,
    ) -> None:
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if db is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="assay-broker-")
            db = f"sqlite:///{Path(self._tmp.name) / 'broker.db'}"
        self.port = free_port()
        self.cfg = ServerConfig(
            db=db,
            port=self.port,
            read_tokens=read_tokens or set(),
            write_tokens=write_tokens or set(),
            webhook_retries=webhook_retries,
            webhook_backoff=webhook_backoff,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = build_app(self.cfg)
        self.server = uvicorn.Server(
            uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        )
        self.thread = threading.Thread(target=self.server.run, name="assay-local-broker", daemon=True)

    @property
    def dispatcher(self):  # type: ignore[no-untyped-def]
        return self.app.state.broker.dispatcher

    def start(self) -> LocalBroker:
        self.thread.start()
        wait_for_port("127.0.0.1", self.port, timeout=15)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        deadline = time.monotonic() + 10
        while self.thread.is_alive() and time.monotonic() < deadline:
            self.thread.join(0.1)
        self.app.state.engine.dispose()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> LocalBroker:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
