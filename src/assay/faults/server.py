"""Run the Toxiproxy-compatible API and the proxies on one uvloop event loop.

`ProxyServer.serve()` runs in the foreground (the CLI); `start()` runs it on a
background thread for in-process use (tests, the pytest fixtures), and `stop()`
closes every listener and connection.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from pathlib import Path
from typing import Any

import uvicorn
import uvloop

from assay.faults.api import ToxiproxyApi
from assay.faults.api_protocol import MAX_CONNECTIONS, REQUEST_TIMEOUT, limited_protocol
from assay.faults.collection import ProxyCollection
from assay.faults.errors import ApiError

log = logging.getLogger("assay.faults")


class ProxyServer:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8474,
        config: str | Path | None = None,
        *,
        request_timeout: float = REQUEST_TIMEOUT,
        api_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self.host = host
        self.port = port
        self.config = config
        self.request_timeout = request_timeout  # s for the API to receive a whole request
        self.api_connections = api_connections  # API connections open at once
        self.collection = ProxyCollection()
        self._specs = self._load(config) if config else []
        self._sock = self._bind()
        self.port = self._sock.getsockname()[1]
        self._uvicorn: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @staticmethod
    def _load(path: str | Path) -> list[Any]:
        from assay.config import load_config
        from assay.faults.config import ProxiesFile

        return list(load_config(path, ProxiesFile).root)

    def _bind(self) -> socket.socket:
        from assay.errors import UsageError

        if not 0 <= self.port <= 65535:
            raise UsageError(f"cannot listen on port {self.port}: a port is a number from 0 to 65535")
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            raise UsageError(f"cannot listen on {self.host}:{self.port}: {exc.strerror}") from None
        sock.listen(1024)
        sock.setblocking(False)
        return sock

    async def _populate(self) -> None:
        from assay.errors import UsageError

        for spec in self._specs:
            try:
                proxy = await self.collection.create(spec.api_body())
                for toxic in spec.toxics:
                    async with proxy.lock:
                        await proxy.add_toxic(toxic.model_dump(exclude_none=True))
            except ApiError as exc:
                raise UsageError(f"{self.config}: proxy {spec.name!r}: {exc.message}") from None

    async def serve(self) -> None:
        """Serve until stopped (Ctrl-C in the foreground, stop() from another thread)."""
        self._loop = asyncio.get_running_loop()
        try:
            await self._populate()
            config = uvicorn.Config(
                ToxiproxyApi(self.collection), log_level="warning", access_log=False, lifespan="off",
                timeout_keep_alive=30, http=limited_protocol(self.request_timeout, self.api_connections),
            )
            self._uvicorn = uvicorn.Server(config)
            self._uvicorn.config.setup_event_loop = lambda: None  # type: ignore[method-assign]
            serving = asyncio.ensure_future(self._uvicorn.serve(sockets=[self._sock]))
            while not self._uvicorn.started and not serving.done():
                await asyncio.sleep(0.01)
            self._ready.set()
            await serving
        except BaseException as exc:
            self._error = exc
            raise
        finally:
            self._ready.set()
            await self.collection.close()
            self._sock.close()

    def run(self) -> None:
        """Foreground: block until Ctrl-C / SIGTERM."""
        uvloop.run(self.serve())

    def start(self, timeout: float = 10.0) -> ProxyServer:
        """Background thread; returns once the API answers."""

        def target() -> None:
            try:
                uvloop.run(self.serve())
            except BaseException as exc:  # reported by start()
                self._error = exc

        self._thread = threading.Thread(target=target, name="assay-proxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError("the proxy server did not start")
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        if self._uvicorn is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(setattr, self._uvicorn, "should_exit", True)
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def call(self, coro: Any) -> Any:
        """Run a coroutine on the server's loop from another thread (in-process helpers)."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def __enter__(self) -> ProxyServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def subprocess_server(port: int | None = None, config: str | Path | None = None, host: str = "127.0.0.1") -> Any:
    """`assay proxy serve` as a subprocess (a ServiceProcess: use it as a context manager)."""
    import sys

    from assay.harness.ports import free_port
    from assay.harness.process import ServiceProcess

    port = port or free_port(host)
    command = [sys.executable, "-m", "assay", "proxy", "serve", "--host", host, "--port", str(port)]
    if config is not None:
        command += ["--config", str(config)]
    service = ServiceProcess(command, health_url=f"http://{host}:{port}/version")
    service.url = f"http://{host}:{port}"  # type: ignore[attr-defined]
    return service
