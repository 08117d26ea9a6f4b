"""The real toxiproxy-node-client (npm, under node) against `assay proxy serve`."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from assay.faults.server import subprocess_server

HERE = Path(__file__).resolve().parent

pytestmark = pytest.mark.node


def test_node_client_full_set_of_calls(echo_server: str) -> None:
    node = shutil.which("node")
    assert node, "node is required (the machine has node 20)"
    if not (HERE / "node_modules" / "toxiproxy-node-client").is_dir():
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"], cwd=HERE, check=True, timeout=120)
    with subprocess_server() as service:
        result = subprocess.run(
            [node, str(HERE / "node_compat.js"), service.url, echo_server],
            cwd=HERE, capture_output=True, text=True, timeout=60,
        )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "node client: OK" in result.stdout
