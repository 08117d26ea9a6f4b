"""`assay chaos run --record`: the experiment's RunResult (kind chaos) lands in the trend store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from assay.cli.app import main
from assay.trends.store import open_store

EXPERIMENTS = Path(__file__).parent / "experiments"


class _Run:
    def __init__(self, code: int, output: str) -> None:
        self.exit_code, self.output = code, output


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Any:
    """`assay ARGS` in this process through the CLI's real main(): exit code and stdout + stderr."""

    def run(*args: str) -> _Run:
        code = 0
        try:
            main(list(args))
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return _Run(code, out + err)

    return run


def test_chaos_run_records_its_result(tmp_path: Path, support_path: Path, cli: Any) -> None:
    url = f"sqlite:///{tmp_path / 'trends.db'}"
    out = tmp_path / "result.json"
    run = cli("chaos", "run", "--journal-path", str(tmp_path / "j.json"), "--result", str(out), "--record", "--store", url,
              str(EXPERIMENTS / "tol_bool.json"))
    assert run.exit_code == 0, run.output
    assert "recorded run" in run.output and "(bool tolerance)" in run.output
    with open_store(url) as store:
        [stored] = store.runs()
        assert stored.kind == "chaos" and stored.scenario == "bool tolerance" and stored.status == "passed"
        assert stored.run_id == json.loads(out.read_text())["id"]


def test_a_bad_store_fails_before_the_experiment(tmp_path: Path, support_path: Path, cli: Any) -> None:
    journal = tmp_path / "j.json"
    run = cli("chaos", "run", "--journal-path", str(journal), "--record", "--store", "mysql://nowhere/x", str(EXPERIMENTS / "tol_bool.json"))
    assert run.exit_code == 64 and "--store" in run.output and "Traceback" not in run.output
    assert not journal.exists()  # nothing ran
    run = cli("chaos", "run", "--journal-path", str(journal), "--store", f"sqlite:///{tmp_path / 'x.db'}", str(EXPERIMENTS / "tol_bool.json"))
    assert run.exit_code == 64 and "--record" in run.output and not journal.exists()
    run = cli("chaos", "run", "--dry", "plan", "--record", str(EXPERIMENTS / "tol_bool.json"))
    assert run.exit_code == 64 and "no run to record" in run.output
