"""Resolve a process target and refuse the ones a fault must never touch.

A target is a PID (`pid:4242` or an int), a command-line pattern (`pattern:REGEX`, every
match), a service the harness started (`service:NAME`, or the ServiceProcess itself).
Refused: PID 1, the runner and its ancestors, and processes of other users.
"""

from __future__ import annotations

import os
import re
from typing import Any

import psutil

from assay.faults.model import FaultError, FaultRefused
from assay.harness.process import SERVICES, ServiceProcess


def service_of(target: Any) -> ServiceProcess | None:
    if isinstance(target, ServiceProcess):
        return target
    if isinstance(target, str) and target.startswith("service:"):
        name = target.split(":", 1)[1]
        if name not in SERVICES:
            known = ", ".join(sorted(SERVICES)) or "none in this process"
            raise FaultError(f"no service {name!r} started by the harness (known: {known})")
        return SERVICES[name]
    return None


def resolve_processes(target: Any) -> list[psutil.Process]:
    """The live processes a target names; a clear error when it names none."""
    service = service_of(target)
    if service is not None:
        if service.proc is None or service.proc.poll() is not None:
            raise FaultError(f"service {service.name!r} is not running")
        pids = [service.proc.pid]
    elif isinstance(target, int) or (isinstance(target, str) and (target.isdigit() or target.startswith("pid:"))):
        text = str(target).removeprefix("pid:")
        if not text.isdigit():
            raise FaultError(f"target {target!r}: expected pid:NUMBER")
        pids = [int(text)]
    elif isinstance(target, str) and target.startswith("pattern:"):
        pattern = target.split(":", 1)[1]
        try:
            rx = re.compile(pattern)
        except re.error as exc:
            raise FaultError(f"target {target!r}: bad regular expression: {exc}") from None
        mine = _protected()
        pids = []
        for proc in psutil.process_iter(["pid", "cmdline"]):
            cmd = " ".join(proc.info["cmdline"] or [])
            if cmd and rx.search(cmd) and proc.info["pid"] not in mine and "assay.faults.watchdog" not in cmd:
                pids.append(proc.info["pid"])
        if not pids:
            raise FaultError(f"target {target!r}: no process's command line matches")
    else:
        raise FaultError(f"target {target!r}: expected pid:N, pattern:REGEX or service:NAME")
    procs = []
    for pid in pids:
        try:
            procs.append(psutil.Process(pid))
        except psutil.NoSuchProcess:
            raise FaultError(f"target {target!r}: no process {pid}") from None
    for proc in procs:
        refuse_unsafe(proc)
    return procs


def _protected() -> set[int]:
    me = psutil.Process()
    return {1, me.pid, *(p.pid for p in me.parents())}


def refuse_unsafe(proc: psutil.Process) -> None:
    if proc.pid == 1:
        raise FaultRefused("refused: PID 1 (init) is never a fault target")
    me = psutil.Process()
    if proc.pid == me.pid or proc.pid in {p.pid for p in me.parents()}:
        raise FaultRefused(f"refused: PID {proc.pid} is the runner itself or one of its parents")
    try:
        owner = proc.uids().real
    except psutil.AccessDenied:
        owner = -1
    if owner != os.getuid():
        raise FaultRefused(f"refused: PID {proc.pid} belongs to another user (uid {owner}), not to uid {os.getuid()}")


def identity(proc: psutil.Process) -> dict[str, Any]:
    """What revert needs to find the same process again (PIDs are reused)."""
    return {"pid": proc.pid, "start": proc.create_time()}


def same_process(ident: dict[str, Any]) -> psutil.Process | None:
    try:
        proc = psutil.Process(int(ident["pid"]))
        return proc if abs(proc.create_time() - float(ident["start"])) < 0.5 else None
    except psutil.NoSuchProcess:
        return None
