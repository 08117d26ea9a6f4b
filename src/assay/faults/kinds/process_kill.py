"""process.kill: send a signal (SIGKILL, SIGTERM, ...); with restart=true the harness starts it again at the TTL."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from typing import Any

import psutil
from pydantic import field_validator

from assay.faults.model import FaultError, FaultParams, FaultType, Seconds
from assay.faults.registry import register
from assay.faults.targets import resolve_processes, service_of
from assay.harness.process import SERVICES, ServiceProcess


def signal_number(name: str | int) -> int:
    if isinstance(name, int) or str(name).isdigit():
        return int(name)
    text = str(name).upper()
    text = text if text.startswith("SIG") else "SIG" + text
    try:
        return int(signal.Signals[text])
    except KeyError:
        raise ValueError(f"unknown signal {name!r}; expected e.g. SIGKILL, SIGTERM or a number") from None


class KillParams(FaultParams):
    signal: str = "SIGKILL"
    restart: bool = False

    @field_validator("signal")
    @classmethod
    def _known(cls, value: str) -> str:
        return signal.Signals(signal_number(value)).name


def restart_spec(service: ServiceProcess) -> dict[str, Any]:
    return {
        "service": service.name,
        "command": service.command,
        "cwd": str(service.cwd) if service.cwd else None,
        "env": service.extra_env,
        "health_url": service.health_url,
        "host": service.host,
        "port": service.port,
        "log_path": str(service.log_path),
    }


def restart(spec: dict[str, Any]) -> None:
    """Start the service again: through the live harness object when this process has it, else detached."""
    live = SERVICES.get(spec["service"])
    if live is not None and live.command == spec["command"]:
        if live.proc is None or live.proc.poll() is not None:
            live.start()
        return
    detached = ServiceProcess(
        spec["command"], env=spec["env"], cwd=spec["cwd"], health_url=spec["health_url"],
        port=spec["port"], host=spec["host"], log_path=spec["log_path"], name=spec["service"],
    )
    if detached.healthy():
        return  # already back (reverting twice)
    detached.start()


@register
class ProcessKill(FaultType):
    name = "process.kill"
    summary = "send a signal to the target; restart=true starts a harness service again when the duration ends"
    Params = KillParams
    target_help = "pid:N | pattern:REGEX | service:NAME"

    def check(self, params: Any, target: Any) -> None:
        if params.restart and service_of(target) is None:
            raise FaultError("process.kill: restart=true needs a service the harness started (service:NAME)")
        resolve_processes(target)

    def inject(self, params: Any, target: Any, ttl: float | None = None) -> dict[str, Any]:
        procs = resolve_processes(target)
        service = service_of(target)
        sig = signal_number(params.signal)
        killed = []
        for proc in procs:
            try:
                proc.send_signal(sig)
                killed.append(proc.pid)
            except psutil.NoSuchProcess:
                pass
        if service is not None and service.proc is not None:
            try:  # reap it, so the harness sees the exit
                service.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        return {"pids": killed, "signal": params.signal, "restart": restart_spec(service) if params.restart and service else None}

    def revert(self, record: dict[str, Any]) -> None:
        if record.get("restart"):
            restart(record["restart"])

    def manual_revert(self, record: dict[str, Any]) -> str:
        spec = record.get("restart") or {}
        return " ".join(spec.get("command", [])) or "nothing to revert"


@register
class ProcessRestart(FaultType):
    name = "process.restart"
    summary = "stop a harness service, wait, start it and wait until healthy; records time_to_healthy_s"
    target_help = "service:NAME"
    instant = True

    class Params(FaultParams):
        wait: Seconds = 0.0
        signal: str = "SIGTERM"

    def check(self, params: Any, target: Any) -> None:
        if service_of(target) is None:
            raise FaultError("process.restart: the target must be a service the harness started (service:NAME)")
        resolve_processes(target)

    def inject(self, params: Any, target: Any, ttl: float | None = None) -> dict[str, Any]:
        service = service_of(target)
        assert service is not None and service.proc is not None
        old = service.proc.pid
        stopped_at = time.monotonic()
        try:
            os.kill(old, signal_number(params.signal))
        except ProcessLookupError:
            pass
        try:
            service.proc.wait(timeout=service.stop_timeout)
        except subprocess.TimeoutExpired:
            service.proc.kill()
            service.proc.wait()
        time.sleep(params.wait)
        started_at = time.monotonic()
        service.start()
        healthy_at = time.monotonic()
        return {
            "old_pid": old,
            "new_pid": service.proc.pid,
            "time_to_healthy_s": round(healthy_at - started_at, 4),
            "downtime_s": round(healthy_at - stopped_at, 4),
        }

    def revert(self, record: dict[str, Any]) -> None:
        return None
