"""Run one step's command in its own process group, with a timeout and a clean way to stop it.

Steps run as subprocesses (`assay load run ...`, `assay chaos run ...`, or the user's own
command) so a step that hangs can be killed without taking the plan down, and a step that
injected a fault gets the chance to revert it: stopping sends SIGINT first (every assay
command treats it as Ctrl-C: revert, roll back, write results), then SIGTERM, then SIGKILL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

GRACE_S = 10.0  # after SIGINT, before SIGTERM; the same again before SIGKILL


@dataclass
class Finished:
    exit_code: int
    duration_s: float
    timed_out: bool
    stopped: bool


class StepProcess:
    """One command, output appended to `log_path`; `wait()` enforces the timeout."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: str | Path,
        log_path: Path,
        timeout: float | None = None,
        grace: float = GRACE_S,
    ) -> None:
        self.argv = list(argv)
        self.timeout = timeout
        self.grace = grace
        self.log_path = log_path
        self.stopped = False
        self.timed_out = False
        self._lock = threading.Lock()
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as log:
            log.write(("$ " + " ".join(self.argv) + "\n").encode())
            log.flush()
            self.started = time.monotonic()
            self.proc = subprocess.Popen(
                self.argv, env=dict(env), cwd=str(cwd), stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def running(self) -> bool:
        return self.proc.poll() is None

    def wait(self, stop_event: threading.Event | None = None) -> Finished:
        """Until it exits, its timeout passes (then it is stopped) or `stop_event` is set."""
        deadline = self.started + self.timeout if self.timeout else None
        while self.proc.poll() is None:
            if stop_event is not None and stop_event.is_set():
                self.stop()
                break
            if deadline is not None and time.monotonic() >= deadline:
                self.timed_out = True
                self.stop()
                break
            try:
                self.proc.wait(0.1)
            except subprocess.TimeoutExpired:
                pass
        code = self.proc.wait()
        return Finished(code, time.monotonic() - self.started, self.timed_out, self.stopped)

    def stop(self) -> int:
        """SIGINT the group (revert, roll back, write results), then SIGTERM, then SIGKILL."""
        with self._lock:
            self.stopped = True
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
                if self.proc.poll() is not None:
                    break
                try:
                    os.killpg(self.proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.proc.wait(self.grace if sig != signal.SIGKILL else None)
                except subprocess.TimeoutExpired:
                    continue
            # the leader is gone; children it left in the group go too
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            return self.proc.wait()


__all__ = ["Finished", "StepProcess"]
