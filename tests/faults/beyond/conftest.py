"""Every test gets its own fault run directory; anything left active is reverted at teardown."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fault_helpers import server_command

from assay.faults import injector
from assay.harness.ports import free_port
from assay.harness.process import ServiceProcess


@pytest.fixture(autouse=True)
def fault_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    directory = tmp_path / "faults"
    monkeypatch.setenv("ASSAY_FAULTS_DIR", str(directory))
    yield directory
    injector.revert_all(directory)


@pytest.fixture
def http_service(tmp_path: Path) -> Iterator[ServiceProcess]:
    port = free_port()
    name = f"web-{port}"
    with ServiceProcess(server_command(port), port=port, name=name, log_path=tmp_path / "web.log") as svc:
        yield svc
