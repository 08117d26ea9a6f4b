"""Fixtures for the load engine's tests: a real HTTP target server on an ephemeral port."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from assay.harness.ports import free_port
from assay.harness.process import ServiceProcess

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def target_url() -> Iterator[str]:
    """Base URL of tests/load/load_target.py running in its own process (uvloop + httptools)."""
    port = free_port()
    proc = ServiceProcess([sys.executable, str(HERE / "load_target.py"), str(port)], port=port)
    with proc:
        yield f"http://127.0.0.1:{port}"
