"""Fixtures shared by every test folder."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

K6_SAMPLES = Path(__file__).resolve().parent / "data" / "k6"

os.environ.setdefault("PACT_DO_NOT_TRACK", "true")


@pytest.fixture
def reference_dir() -> Path:
    """tests/data/k6: k6 summary files (summary-export and handleSummary) of one run, see its README."""
    return K6_SAMPLES


@pytest.fixture
def system_tool() -> Callable[..., str]:
    """Find a Debian tool a test runs (chromium, prometheus-pushgateway, ...).

    Missing on a developer's machine: the test skips and says how to get it. Missing in CI
    (`CI` set): the test fails, because .ci/run installs every such tool and a skip there
    would hide a test that never ran.
    """

    def find(name: str, package: str | None = None) -> str:
        path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")
        if path:
            return path
        why = f"{name} is not installed (apt-get install {package or name}; .ci/run installs it)"
        if os.environ.get("CI"):
            pytest.fail(f"{why}, but CI is set: .ci/run must install it")
        pytest.skip(why)

    return find


@pytest.fixture
def postgres_url() -> str:
    """The machine's PostgreSQL (trust auth, database `test`)."""
    return os.environ.get("ASSAY_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
def redis_url() -> str:
    """The machine's Redis."""
    return os.environ.get("ASSAY_TEST_REDIS", "redis://127.0.0.1:6379/0")
