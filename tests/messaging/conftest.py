"""Fixtures for the messaging tests: the faulty fan-out service in its own process."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from assay.harness.ports import free_port
from assay.harness.process import ServiceProcess

HERE = Path(__file__).resolve().parent


@contextmanager
def _fanout(mode: str, every: int) -> Iterator[str]:
    port = free_port()
    proc = ServiceProcess(
        [sys.executable, str(HERE / "faulty_fanout.py"), str(port), mode, str(every)],
        port=port,
        health_url=f"http://127.0.0.1:{port}/health",
    )
    with proc:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
def faulty_fanout() -> Callable[[str, int], Iterator[str]]:
    """`with faulty_fanout("lose", 5) as base:` the service's base URL (see faulty_fanout.py)."""
    return _fanout
