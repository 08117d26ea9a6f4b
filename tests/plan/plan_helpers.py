"""Helpers for the plan tests: run `assay plan` as a real subprocess, read its report, look at its page."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image


@dataclass
class PlanRun:
    code: int
    out: str
    err: str
    report: dict[str, Any] | None
    run_dir: Path | None

    def step(self, key: str) -> dict[str, Any]:
        assert self.report is not None, self.err
        for stage in self.report["stages"]:
            for step in stage["steps"]:
                if f"{stage['key']}.{step['name']}" == key:
                    return dict(step)
        raise KeyError(key)

    def stage(self, key: str) -> dict[str, Any]:
        assert self.report is not None, self.err
        return next(dict(s) for s in self.report["stages"] if s["key"] == key)


def assay(*args: str, cwd: Path | None = None, timeout: float = 240, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "assay", *args], capture_output=True, text=True, timeout=timeout,
                          cwd=cwd, env={**os.environ, **(env or {})})


def latest_run(artifacts: Path) -> Path | None:
    runs = sorted(p for p in artifacts.glob("*/*") if (p / "report.json").is_file())
    return runs[-1] if runs else None


FAILED_RED = (0xCF, 0x22, 0x2E)
PASSED_GREEN = (0x1A, 0x7F, 0x37)


def chromium(page: Path, png: Path, system_tool: Callable[..., str]) -> str:
    binary = system_tool("chromium")
    with tempfile.TemporaryDirectory(prefix="assay-chromium-") as profile:
        proc = subprocess.run(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
             "--enable-logging=stderr", "--v=0", f"--screenshot={png}", "--window-size=1100,1400", "--hide-scrollbars",
             page.as_uri()],
            check=True, capture_output=True, text=True, timeout=90,
        )
    return proc.stderr


def top_pixels(png: Path, colour: tuple[int, int, int], height: int = 260) -> int:
    img = Image.open(png).convert("RGB")
    box = img.crop((0, 0, img.width, height))
    return sum(1 for p in box.getdata() if p == colour)
