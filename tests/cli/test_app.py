"""The CLI shell: version, help, not-built groups and error exit codes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from assay.cli.app import GROUPS


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "assay", *args], capture_output=True, text=True, timeout=60)


def test_version_as_subprocess() -> None:
    proc = run("--version")
    assert proc.returncode == 0
    assert proc.stdout.startswith("assay ")


def test_help_lists_every_group() -> None:
    proc = run("--help")
    assert proc.returncode == 0
    for name in GROUPS:
        assert name in proc.stdout


def test_unknown_command_is_usage_error() -> None:
    proc = run("no-such-group")
    assert proc.returncode == 64
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("kind", ["no-such-kind"])
def test_unknown_schema_kind(kind: str) -> None:
    proc = run("schema", kind)
    assert proc.returncode == 64
    assert "known kinds" in proc.stderr


def test_typer_exit_codes_reach_the_process(monkeypatch: pytest.MonkeyPatch) -> None:
    import typer

    from assay.cli import app as app_module

    probe = typer.Typer()

    @probe.command()
    def gate() -> None:
        raise typer.Exit(2)

    @probe.command()
    def fine() -> None:
        pass

    monkeypatch.setattr(app_module, "app", probe)
    with pytest.raises(SystemExit) as done:
        app_module.main(["gate"])
    assert done.value.code == 2
    with pytest.raises(SystemExit) as done:
        app_module.main(["fine"])
    assert done.value.code == 0
