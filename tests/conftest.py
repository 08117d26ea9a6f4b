"""Fixtures shared by every test folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_REFERENCE = REPO.parent / "shared" / "reference"

os.environ.setdefault("PACT_DO_NOT_TRACK", "true")


@pytest.fixture
def reference_dir() -> Path:
    """../shared/reference: verified sample files from the tools we must be compatible with."""
    if not SHARED_REFERENCE.is_dir():
        pytest.fail(f"{SHARED_REFERENCE} is missing: CI checks out ../shared beside the repo")
    return SHARED_REFERENCE


@pytest.fixture
def postgres_url() -> str:
    """The machine's PostgreSQL (trust auth, database `test`)."""
    return os.environ.get("ASSAY_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
def redis_url() -> str:
    """The machine's Redis."""
    return os.environ.get("ASSAY_TEST_REDIS", "redis://127.0.0.1:6379/0")
