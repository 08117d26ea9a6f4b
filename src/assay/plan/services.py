"""The plan's services: started before the stages, health-checked the way CI jobs do it
(an HTTP URL, a TCP port or a command such as `pg_isready`, with retries and an interval),
logs captured to the artifacts, and always stopped.

Started services reuse the harness's `ServiceProcess` (process group, SIGTERM then SIGKILL);
only the readiness check differs, so it is overridden here.
"""

from __future__ import annotations

import shlex
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from assay.harness.process import ServiceProcess, ServiceStartError
from assay.plan.model import Readiness, Service

if TYPE_CHECKING:
    from assay.plan.resources import NightWatch


class ServiceNotReady(ServiceStartError):
    """A service never became ready (or exited while starting); the message names it."""


def probe(ready: Readiness, *, cwd: str | Path | None = None, env: Mapping[str, str] | None = None) -> str | None:
    """One readiness check: None when ready, else what went wrong (for the error message)."""
    if ready.http:
        try:
            with urllib.request.urlopen(ready.http, timeout=ready.timeout) as resp:
                return None if 200 <= resp.status < 300 else f"{ready.http} answered {resp.status}"
        except urllib.error.HTTPError as exc:
            return f"{ready.http} answered {exc.code}"
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            return f"{ready.http}: {reason}"
    if ready.tcp:
        host, _, port = ready.tcp.rpartition(":")
        try:
            with socket.create_connection((host or "127.0.0.1", int(port)), timeout=ready.timeout):
                return None
        except (OSError, ValueError) as exc:
            return f"tcp {ready.tcp}: {exc}"
    if ready.command:
        argv = shlex.split(ready.command) if isinstance(ready.command, str) else list(ready.command)
        try:
            done = subprocess.run(argv, cwd=cwd, env=dict(env) if env else None, capture_output=True, timeout=ready.timeout)
        except subprocess.TimeoutExpired:
            return f"{argv[0]} did not answer within {ready.timeout:g}s"
        except OSError as exc:
            return f"{argv[0]}: {exc.strerror or exc}"
        if done.returncode == 0:
            return None
        out = (done.stdout + done.stderr).decode(errors="replace").strip().splitlines()
        return f"{' '.join(argv)} exited {done.returncode}" + (f": {out[-1]}" if out else "")
    return None


def wait_ready(
    name: str,
    ready: Readiness,
    *,
    alive: Callable[[], str | None] = lambda: None,
    cwd: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    stop: Callable[[], bool] = lambda: False,
) -> float:
    """Probe up to `retries` times, `interval` apart; seconds until ready, or ServiceNotReady."""
    started = time.monotonic()
    if ready.start_period:
        time.sleep(ready.start_period)
    last = "not checked"
    for attempt in range(1, ready.retries + 1):
        dead = alive()
        if dead:
            raise ServiceNotReady(f"service {name!r} {dead}")
        problem = probe(ready, cwd=cwd, env=env)
        if problem is None:
            return time.monotonic() - started
        last = problem
        if attempt < ready.retries:
            end = time.monotonic() + ready.interval
            while time.monotonic() < end:
                if stop():
                    raise ServiceNotReady(f"service {name!r}: stopped while waiting for it to become ready")
                time.sleep(min(0.05, ready.interval))
    raise ServiceNotReady(
        f"service {name!r} never became ready: {ready.retries} checks {ready.interval:g}s apart failed; last: {last}"
    )


def default_readiness(service: Service, url: str | None, port: int | None) -> Readiness:
    """Without `ready:`, check the URL (existing services) or the port (started ones), briefly."""
    if service.ready is not None:
        return service.ready
    if url and service.url:
        return Readiness(http=url, retries=20, interval=0.5, timeout=2.0)
    if port:
        return Readiness(tcp=f"127.0.0.1:{port}", retries=100, interval=0.2, timeout=1.0)
    return Readiness(retries=1, interval=0.0)


@dataclass
class RunningService:
    """A service of this run: its address for `${services.NAME.*}` and how to stop it."""

    name: str
    url: str | None
    port: int | None
    log: Path | None
    process: PlanServiceProcess | None = None
    ready_after_s: float | None = None
    night: NightWatch | None = None  # with sample: true, its resources from ready to stopped

    @property
    def host(self) -> str:
        if self.url:
            return urlsplit(self.url).hostname or "127.0.0.1"
        return "127.0.0.1"

    def stop(self) -> int | None:
        return self.process.stop() if self.process else None


class PlanServiceProcess(ServiceProcess):
    """The harness's process handling with the plan's readiness check."""

    def __init__(self, name: str, command: list[str], ready: Readiness, *, stop_requested: Callable[[], bool], **kw: object) -> None:
        super().__init__(command, name=name, **kw)  # type: ignore[arg-type]
        self.ready = ready
        self.ready_after_s: float | None = None
        self.stop_requested = stop_requested

    def wait_healthy(self) -> None:
        def alive() -> str | None:
            if self.proc is not None and self.proc.poll() is not None:
                tail = self.log_tail(8)
                return f"exited with {self.proc.returncode} while starting; log: {self.log_path}" + (f"\n{tail}" if tail else "")
            return None

        try:
            self.ready_after_s = wait_ready(
                self.name, self.ready, alive=alive, cwd=self.cwd, env=self.env, stop=self.stop_requested
            )
        except ServiceNotReady as exc:
            raise ServiceNotReady(f"{exc}; log: {self.log_path}") from None


def start_service(
    name: str,
    service: Service,
    *,
    command: list[str] | None,
    url: str | None,
    port: int | None,
    env: Mapping[str, str],
    cwd: Path,
    log_path: Path,
    stop_requested: Callable[[], bool] = lambda: False,
) -> RunningService:
    """Start (or only check) one service; ServiceNotReady names it when it never becomes ready."""
    ready = default_readiness(service, url, port)
    if command is None:
        started = time.monotonic()
        wait_ready(name, ready, stop=stop_requested)
        return RunningService(name, url, port, None, None, time.monotonic() - started)
    proc = PlanServiceProcess(
        name, command, ready, stop_requested=stop_requested, env=env, cwd=cwd, log_path=log_path,
        stop_timeout=service.stop_timeout, start_timeout=float("inf"),
    )
    proc.env = dict(env)  # exactly the plan's environment (the harness merges os.environ itself)
    proc.start()
    return RunningService(name, url, port, log_path, proc, proc.ready_after_s)


__all__ = ["PlanServiceProcess", "RunningService", "ServiceNotReady", "default_readiness", "probe", "start_service", "wait_ready"]
