"""Active faults on disk: one JSON file per fault under a run directory.

The owner and the watchdog both read and write a fault's file, so every change goes
through `update()` under an flock; files are written atomically, so a kill -9 in the
middle leaves the old state or the new one. `events.jsonl` keeps every event of the run.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from assay.atomic import write_text_atomic
from assay.faults.events import FaultEvent

Status = str  # "active" | "reverted" | "revert-failed"


def run_dir() -> Path:
    """Where active faults live: $ASSAY_FAULTS_DIR, else one directory per user under /tmp."""
    path = Path(os.environ.get("ASSAY_FAULTS_DIR") or f"/tmp/assay-faults-{os.getuid()}")
    path.mkdir(mode=0o700, parents=True, exist_ok=True)  # records may hold a control token
    return path


def state_path(fault_id: str, directory: Path | None = None) -> Path:
    return (directory or run_dir()) / f"{fault_id}.json"


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path.with_suffix(".lock"), "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def write(path: Path, state: dict[str, Any]) -> None:
    with _locked(path):
        write_text_atomic(path, json.dumps(state, indent=1))


def update(path: Path, change: Callable[[dict[str, Any]], None]) -> dict[str, Any] | None:
    """Read-modify-write under the lock; None when the fault's file is gone."""
    with _locked(path):
        state = read(path)
        if state is None:
            return None
        change(state)
        write_text_atomic(path, json.dumps(state, indent=1))
        return state


def append_event(state: dict[str, Any], event: FaultEvent, directory: Path) -> None:
    state.setdefault("events", []).append(event.to_dict())
    with open(directory / "events.jsonl", "a") as fh:
        fh.write(json.dumps(event.to_dict()) + "\n")


def all_states(directory: Path | None = None) -> list[tuple[Path, dict[str, Any]]]:
    out = []
    for path in sorted((directory or run_dir()).glob("*.json")):
        state = read(path)
        if state is not None and "fault_id" in state:
            out.append((path, state))
    return out


def time_left(state: dict[str, Any], now: float | None = None) -> float | None:
    expires = state.get("expires_at")
    return None if expires is None else max(0.0, float(expires) - (now or time.time()))
