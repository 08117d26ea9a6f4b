"""Run one scheduled experiment as its own `assay chaos run` process, so a crash or a hang in one
experiment cannot take the scheduler down; its journal goes beside the others, named by time."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from assay.chaos.schedules.store import Schedule


def run_schedule(schedule: Schedule, journal_dir: Path) -> tuple[int, str | None]:
    journal_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    journal = journal_dir / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', schedule.name)}-{stamp}.json"
    proc = subprocess.run([sys.executable, "-m", "assay", "chaos", "run", schedule.experiment,
                           "--journal-path", str(journal), *schedule.args], stdin=subprocess.DEVNULL, check=False)
    return proc.returncode, str(journal) if journal.exists() else None
