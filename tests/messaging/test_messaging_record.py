"""`assay messaging run --record`: the broker run's RunResult (kind messaging) lands in the trend store."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from assay.trends.store import open_store


def assay(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "assay", "messaging", "run", *args], capture_output=True, text=True, timeout=120)


@pytest.mark.redis
def test_messaging_run_records_its_result(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'trends.db'}"
    out = tmp_path / "run.json"
    stream = f"assay-record-test-{uuid.uuid4().hex[:10]}"
    proc = assay("--broker", "redis://127.0.0.1:6379/0", "--stream", stream, "--count", "20", "--rate", "100", "--grace", "1s",
                 "--quiet", "--result", str(out), "--record", "--store", url)
    assert proc.returncode == 0, proc.stderr
    saved = json.loads(out.read_text())
    assert "recorded run" in proc.stderr and f"({saved['name']})" in proc.stderr
    with open_store(url) as store:
        [stored] = store.runs()
        assert stored.kind == "messaging" and stored.scenario == saved["name"] and stored.run_id == saved["id"]
        assert store.metrics("messages_delivered", [stored])[stored.pk].sum == 20


def test_a_bad_store_fails_before_the_broker_is_touched(tmp_path: Path) -> None:
    # the broker URL is unreachable too: the store's error comes first, so nothing was tried
    proc = assay("--broker", "redis://127.0.0.1:1/0", "--count", "1", "--record", "--store", "mysql://nowhere/x")
    assert proc.returncode == 64, proc.stderr
    assert "--store" in proc.stderr and "Redis" not in proc.stderr and "Traceback" not in proc.stderr
    proc = assay("--broker", "redis://127.0.0.1:1/0", "--count", "1", "--store", f"sqlite:///{tmp_path / 'x.db'}")
    assert proc.returncode == 64 and "--record" in proc.stderr and "Redis" not in proc.stderr
