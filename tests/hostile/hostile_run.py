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
    """`assay ARGS` in a child: exit code, output, the child's peak RSS (os.wait4) and wall time."""
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
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        killer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    for r in readers:
        r.join(10)
    wall = time.monotonic() - t0
    assert wall < timeout, f"assay {' '.join(args)} was killed after {timeout}s\n{''.join(err)[-2000:]}"
    return Ran(proc.returncode, "".join(out), "".join(err), usage.ru_maxrss / 1024.0, wall)


def load_json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data
