"""process.pause: SIGSTOP a process and its children for the duration, then SIGCONT (a hung dependency)."""

from __future__ import annotations

import signal
from typing import Any

import psutil

from assay.faults.model import FaultParams, FaultType
from assay.faults.registry import register
from assay.faults.targets import identity, resolve_processes, same_process


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
        for proc in procs:
            try:
                proc.send_signal(signal.SIGSTOP)
                stopped.append(identity(proc))
            except psutil.NoSuchProcess:
                pass
        return {"processes": stopped}

    def revert(self, record: dict[str, Any]) -> None:
        for ident in record["processes"]:
            proc = same_process(ident)
            if proc is not None:
                try:
                    proc.send_signal(signal.SIGCONT)
                except psutil.NoSuchProcess:
                    pass

    def manual_revert(self, record: dict[str, Any]) -> str:
        return "kill -CONT " + " ".join(str(p["pid"]) for p in record["processes"])
