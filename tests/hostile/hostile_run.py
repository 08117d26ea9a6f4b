"""Run `assay` in a child process for the hostile suite and measure what it cost (peak RSS, wall time)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

ASSAY = [sys.executable, "-m", "assay"]


@dataclass
class Ran:
    code: int
    stdout: str
    stderr: str
    max_rss_mb: float
    wall_s: float


def _drain(stream: IO[str], into: list[str]) -> None:
    into.append(stream.read())


def run_assay(*args: str, env: dict[str, str] | None = None, timeout: float = 120.0) -> Ran:
    """`assay ARGS` in a child: exit code, output, the child's peak RSS (VmHWM) and wall time."""
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [*ASSAY, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})}
    )
    assert proc.stdout is not None and proc.stderr is not None
    out: list[str] = []
    err: list[str] = []
    readers = [threading.Thread(target=_drain, args=(proc.stdout, out)), threading.Thread(target=_drain, args=(proc.stderr, err))]
    for r in readers:
        r.start()
    killer = threading.Timer(timeout, proc.kill)
    killer.start()
    peak_kb = [0]
    done = threading.Event()
    watcher = threading.Thread(target=_watch_hwm, args=(proc.pid, peak_kb, done))
    watcher.start()
    try:
        _, status, _usage = os.wait4(proc.pid, 0)
    finally:
        killer.cancel()
        done.set()
        watcher.join(5)
    proc.returncode = os.waitstatus_to_exitcode(status)
    for r in readers:
        r.join(10)
    wall = time.monotonic() - t0
    assert wall < timeout, f"assay {' '.join(args)} was killed after {timeout}s\n{''.join(err)[-2000:]}"
    return Ran(proc.returncode, "".join(out), "".join(err), peak_kb[0] / 1024.0, wall)


def _watch_hwm(pid: int, peak_kb: list[int], done: threading.Event) -> None:
    """The child's own peak RSS (VmHWM of its image after exec). ru_maxrss from wait4 is no use
    here: Linux carries the forking pytest process's high-water mark into the child across exec."""
    path = f"/proc/{pid}/status"
    while not done.is_set():
        try:
            with open(path) as fh:
                for line in fh:
                    if line.startswith("VmHWM:"):
                        peak_kb[0] = max(peak_kb[0], int(line.split()[1]))
        except (OSError, ValueError):
            return
        done.wait(0.02)


def load_json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data
