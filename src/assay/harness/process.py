"""Start a local service as a subprocess, wait until it is healthy, stop it cleanly.

Tests, plans and the demo all need the same dance: start, poll a health URL or a
port, keep the log somewhere readable, and never leave the process behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

from assay.harness.ports import port_is_open


class ServiceStartError(RuntimeError):
    pass


# Services by name, so faults can stop and restart one the harness started ("service:NAME").
SERVICES: dict[str, ServiceProcess] = {}


class ServiceProcess:
    """A subprocess with a health check; use as a context manager."""

    def __init__(
        self,
        command: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | Path | None = None,
        health_url: str | None = None,
        port: int | None = None,
        host: str = "127.0.0.1",
        start_timeout: float = 20.0,
        stop_timeout: float = 10.0,
        log_path: str | Path | None = None,
        name: str | None = None,
        netns: str | None = None,
    ) -> None:
        # netns: run as a host in that network namespace (see harness/netns.py); health checks go there too.
        self.netns = netns
        command = ["ip", "netns", "exec", netns, *command] if netns else command
        self.command = list(command)
        self.name = name or Path(self.command[0]).name
        self.extra_env = dict(env or {})
        self.env = {**os.environ, **(env or {})}
        self.cwd = cwd
        self.health_url = health_url
        self.host = host
        self.port = port
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.log_path = Path(log_path) if log_path else Path(tempfile.mkstemp(prefix="assay-svc-", suffix=".log")[1])
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ServiceProcess:
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            self.command, env=self.env, cwd=self.cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        SERVICES[self.name] = self
        try:
            self.wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def healthy(self) -> bool:
        if self.netns:
            from assay.harness.netns import in_netns

            netns, self.netns = self.netns, None
            try:
                return in_netns(netns, self.healthy)
            finally:
                self.netns = netns
        if self.health_url:
            try:
                with urllib.request.urlopen(self.health_url, timeout=1.0) as resp:
                    return 200 <= resp.status < 300
            except (urllib.error.URLError, OSError, ValueError):
                return False
        if self.port is not None:
            return port_is_open(self.host, self.port)
        return self.proc is not None and self.proc.poll() is None

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise ServiceStartError(
                    f"{self.command[0]} exited with {self.proc.returncode} during start; log: {self.log_path}\n"
                    + self.log_tail()
                )
            if self.healthy():
                return
            time.sleep(0.05)
        raise ServiceStartError(f"{self.command[0]} not healthy within {self.start_timeout}s; log: {self.log_path}")

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> int | None:
        """SIGTERM the process group, then SIGKILL after stop_timeout; returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait()
        return self.proc.returncode

    def __enter__(self) -> ServiceProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
