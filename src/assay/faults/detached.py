"""Helper processes a fault runs (stress-ng, the leaker): own session, found again by identity.

They run in their own session so the owner's death does not take them down before the
watchdog has recorded the revert, and so revert can kill the whole group (stress-ng
forks its workers).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from typing import Any

import psutil

from assay.faults.model import FaultError


def require(tool: str, package: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise FaultError(f"{tool} is not installed (apt-get install {package})")
    return path


def start(command: list[str], settle: float = 0.3) -> dict[str, Any]:
    """Start a helper in a new session; fail loudly when it exits at once (bad arguments)."""
    proc = subprocess.Popen(command, start_new_session=True, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + settle
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace").strip() if proc.stderr else ""
            raise FaultError(f"{command[0]} exited with {proc.returncode} at start: {err[-300:]}")
        time.sleep(0.02)
    if proc.stderr is not None:
        proc.stderr.close()
    return {"pid": proc.pid, "pgid": proc.pid, "start": psutil.Process(proc.pid).create_time(), "command": command}


def stop(record: dict[str, Any], timeout: float = 5.0) -> None:
    """Kill the helper's process group if the leader is still the one we started; harmless twice."""
    try:
        leader = psutil.Process(int(record["pid"]))
        if abs(leader.create_time() - float(record["start"])) >= 0.5:
            return  # PID reused: ours is long gone
    except psutil.NoSuchProcess:
        leader = None
    members = [p for p in psutil.process_iter(["pid"]) if _pgid(p.pid) == record["pgid"]]
    if leader is None and not members:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(int(record["pgid"]), sig)
        except ProcessLookupError:
            return
        gone, alive = psutil.wait_procs(members, timeout=timeout / 2)
        if not alive:
            return
        members = alive


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def _live_member(proc: psutil.Process, pgid: int) -> bool:
    try:
        return _pgid(proc.pid) == pgid and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:  # exited while the process table was read (other processes come and go)
        return False


def group_alive(record: dict[str, Any]) -> bool:
    return any(_live_member(p, record["pgid"]) for p in psutil.process_iter(["pid"]))
