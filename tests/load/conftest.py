"""Fixtures for the load engine's tests: a real HTTP target server on an ephemeral port."""

from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Callable, Iterator
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


CliRun = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run_cli() -> CliRun:
    """`run_cli("load", "run", ...)`: the CLI's real main() in this process -> (exit code, stdout, stderr)."""
    from assay.cli.app import main

    def run(*args: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        code = 0
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(list(args))
            except SystemExit as exc:
                code = int(exc.code or 0)
        return code, out.getvalue(), err.getvalue()

    return run
