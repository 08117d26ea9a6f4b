"""Fixtures for the SLO gate tests (builders live in slo_helpers.py)."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from slo_helpers import write_k6_ndjson

from assay.formats import load_result
from assay.results import RunResult


@pytest.fixture
def k6_run(tmp_path: Path) -> Callable[..., RunResult]:
    """Build a RunResult through k6's NDJSON format and assay's own importer."""
    counter = iter(range(1000))

    def make(**kw: object) -> RunResult:
        path = write_k6_ndjson(tmp_path / f"run-{next(counter)}.ndjson", **kw)  # type: ignore[arg-type]
        return load_result(path)

    return make


@pytest.fixture
def write_slo(tmp_path: Path) -> Callable[[str, str], Path]:
    def write(text: str, name: str = "slo.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write


@pytest.fixture
def screenshot(system_tool: Callable[..., str]) -> Callable[[Path], Path]:
    """Render an HTML file in headless Chromium and return the PNG beside it (`page.png`)."""
    chromium = system_tool("chromium")

    def shoot(page: Path, width: int = 1200, height: int = 1400) -> Path:
        png = page.with_suffix(".png")
        with tempfile.TemporaryDirectory(prefix="assay-chromium-") as profile:
            subprocess.run(
                [
                    chromium,
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                    f"--user-data-dir={profile}",
                    f"--screenshot={png}",
                    f"--window-size={width},{height}",
                    "--hide-scrollbars",
                    page.as_uri(),
                ],
                check=True,
                capture_output=True,
                timeout=90,
            )
        return png

    return shoot
