"""process.pause: SIGSTOP a process and its children for the duration, then SIGCONT (a hung dependency).

Signals are asynchronous: kill() returns before the target has been scheduled to stop (on a busy
box, many milliseconds later). inject and revert therefore wait, briefly and bounded, until every
process is really stopped / running again, so "injected" means in effect, not merely requested.
"""

from __future__ import annotations

import signal
import time
from typing import Any

import psutil

from assay.faults.model import FaultParams, FaultType
from assay.faults.registry import register
from assay.faults.targets import identity, resolve_processes, same_process

SETTLE_S = 5.0  # longest wait for the kernel to act on SIGSTOP / SIGCONT


def _settle(procs: list[psutil.Process], stopped: bool) -> None:
    """Wait until each process is (not) in the stopped state; gone processes count as settled."""
    deadline = time.monotonic() + SETTLE_S
    pending = list(procs)
    while pending and time.monotonic() < deadline:
        still = []
        for proc in pending:
            try:
                if (proc.status() == psutil.STATUS_STOPPED) != stopped:
                    still.append(proc)
            except (psutil.NoSuchProcess, psutil.ZombieProcess):
                pass
        pending = still
        if pending:
            time.sleep(0.002)


class PauseParams(FaultParams):
    children: bool = True


@register
class ProcessPause(FaultType):
    name = "process.pause"
    summary = "SIGSTOP the target (and its children) for the duration, then SIGCONT"
    Params = PauseParams
    target_help = "pid:N | pattern:REGEX | service:NAME"

    def check(self, params: Any, target: Any) -> None:
        resolve_processes(target)

    def inject(self, params: Any, target: Any, ttl: float | None = None) -> dict[str, Any]:
        procs = resolve_processes(target)
        if params.children:
            procs += [c for p in procs for c in p.children(recursive=True)]
        stopped = []
        signalled = []
        for proc in procs:
            try:
                proc.send_signal(signal.SIGSTOP)
                stopped.append(identity(proc))
                signalled.append(proc)
            except psutil.NoSuchProcess:
                pass
        _settle(signalled, stopped=True)
        return {"processes": stopped}

    def revert(self, record: dict[str, Any]) -> None:
        resumed = []
        for ident in record["processes"]:
            proc = same_process(ident)
            if proc is not None:
                try:
                    proc.send_signal(signal.SIGCONT)
                    resumed.append(proc)
                except psutil.NoSuchProcess:
                    pass
        _settle(resumed, stopped=False)

    def manual_revert(self, record: dict[str, Any]) -> str:
        return "kill -CONT " + " ".join(str(p["pid"]) for p in record["processes"])
