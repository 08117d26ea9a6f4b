"""The same experiment files under the real chaostoolkit and under `assay chaos run`: journals compared
field by field (status, deviated, steady-state results, activity statuses and outputs)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
EXPERIMENTS = HERE / "experiments"
SUPPORT = HERE / "support"

BIN = Path(sys.executable).parent  # assay's venv; the real chaostoolkit lives in its own (the `chaostoolkit` fixture)


def _run(tool: str, experiment: Path, tmp: Path, extra: list[str], variables: dict[str, str],
         chaos: Path | None = None) -> tuple[int, dict[str, Any], str]:
    workdir = tmp / tool
    workdir.mkdir()
    state = workdir / "state"
    state.mkdir()
    env = {**os.environ, "PYTHONPATH": str(SUPPORT), "CONTROL_LOG": str(workdir / "controls.log"),
           "ASSAY_CHAOS_TEST_TYPED": "12", "ASSAY_CHAOS_TEST_SECRET": "from-env"}
    env.pop("ASSAY_CHAOS_TEST_UNSET_PORT", None)
    var_args = [a for k, v in {**variables, "state_dir": str(state)}.items() for a in ("--var", f"{k}={v}")]
    journal = workdir / "journal.json"
    if tool == "chaos":
        cmd = [str(chaos), "--no-log-file", "run", "--journal-path", str(journal), *var_args, *extra, str(experiment)]
    else:
        cmd = [str(BIN / "assay"), "chaos", "run", "--journal-path", str(journal), *var_args, *extra, str(experiment)]
    proc = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=60)
    assert journal.exists(), f"{tool} wrote no journal: {proc.stdout}\n{proc.stderr}"
    log = (workdir / "controls.log").read_text() if (workdir / "controls.log").exists() else ""
    return proc.returncode, json.loads(journal.read_text()), log


def _headers(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() not in ("date",)}


def _output(output: Any) -> Any:
    if isinstance(output, dict) and "headers" in output and "status" in output:
        return {**output, "headers": _headers(output["headers"])}
    return output


def _failure(e: dict[str, Any]) -> str:
    """The exception's class (without its module) and message, as the journal's last line holds them."""
    last = (e.get("exception") or [""])[-1]
    kind, _, message = last.partition(":")
    return f"{kind.rsplit('.', 1)[-1]}:{message}".strip()


def _entry(e: dict[str, Any]) -> dict[str, Any]:
    out = {"name": e["activity"].get("name"), "type": e["activity"].get("type"), "status": e.get("status"),
           "output": _output(e.get("output")), "failed_with": _failure(e)}
    if "tolerance_met" in e:
        out["tolerance_met"] = e["tolerance_met"]
    return out


def _state(state: dict[str, Any] | None) -> Any:
    if state is None:
        return None
    return {"met": state["steady_state_met"], "probes": [_entry(p) for p in state["probes"]]}


def _view(journal: dict[str, Any], state_dirs: tuple[str, ...]) -> dict[str, Any]:
    text = json.dumps({
        "title": journal["experiment"]["title"],
        "status": journal["status"],
        "deviated": journal["deviated"],
        "before": _state(journal["steady_states"]["before"]),
        "after": _state(journal["steady_states"]["after"]),
        "during_met": sorted({s["steady_state_met"] for s in journal["steady_states"]["during"]}),
        "run": sorted((_entry(e) for e in journal["run"]), key=lambda e: str(e["name"])),
        "rollbacks": [_entry(e) for e in journal["rollbacks"]],
        "keys": sorted(journal),
    }, sort_keys=True)
    for d in state_dirs:
        text = text.replace(d, "<state>")
    return json.loads(text)


CASES: list[tuple[str, list[str]]] = [
    ("tol_bool.json", []),
    ("tol_string.yaml", []),
    ("tol_int_http.json", []),
    ("tol_list.json", []),
    ("tol_range.json", []),
    ("tol_regex.json", []),
    ("tol_probe.json", []),
    ("deviated.json", []),
    ("deviated.json", ["--rollback-strategy", "never"]),
    ("deviated.json", ["--rollback-strategy", "deviated"]),
    ("tol_bool.json", ["--rollback-strategy", "deviated"]),
    ("failed_probe.json", []),
    ("failed_probe.json", ["--rollback-strategy", "always"]),
    ("failed_action.json", []),
    ("before_not_met.json", []),
    ("substitution.yaml", []),
    ("background.json", []),
    ("controls.json", []),
    ("ref.json", []),
    ("runtime_strategy.json", []),
    ("deviated.json", ["--hypothesis-strategy", "before-method-only"]),
    ("deviated.json", ["--hypothesis-strategy", "after-method-only"]),
    ("continuous.json", ["--hypothesis-strategy", "continuously", "--hypothesis-frequency", "0.3"]),
    ("continuous.json", ["--hypothesis-strategy", "during-method-only", "--hypothesis-frequency", "0.3"]),
    ("continuous_fail_fast.json", ["--hypothesis-strategy", "during-method-only", "--hypothesis-frequency", "0.2", "--fail-fast"]),
    ("tol_bool.json", ["--dry", "actions"]),
    ("tol_regex.json", ["--dry", "probes"]),
    ("jsonpath.json", []),
    ("contributions_timeouts.json", []),
    ("contributions_timeouts.json", ["--no-validation", "--rollback-strategy", "always"]),
    ("substitution.yaml", ["--dry", "pause"]),
    ("tol_int_http.json", ["--dry", "activities"]),
]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "extra"), CASES, ids=[f"{n}{' ' + ' '.join(e) if e else ''}" for n, e in CASES])
def test_same_journal_as_chaostoolkit(name: str, extra: list[str], tmp_path: Path, http_service: str,
                                     chaostoolkit: Path) -> None:
    experiment = EXPERIMENTS / name
    variables = {"base_url": http_service}
    ct_code, ct_journal, ct_log = _run("chaos", experiment, tmp_path, extra, variables, chaostoolkit)
    as_code, as_journal, as_log = _run("assay", experiment, tmp_path, extra, variables)
    dirs = (str(tmp_path / "chaos" / "state"), str(tmp_path / "assay" / "state"))
    assert _view(as_journal, dirs) == _view(ct_journal, dirs)
    assert as_log == ct_log
    # exit codes differ only in the failure value: chaos exits 1, assay 2 (its gate convention)
    assert (as_code == 0) == (ct_code == 0), (as_code, ct_code)
    assert as_code in (0, 2)


def test_the_real_chaostoolkit_runs_from_its_own_venv(chaostoolkit: Path) -> None:
    """Not assay's venv: the comparison would mean little if both tools shared their packages."""
    assert chaostoolkit.exists() and chaostoolkit.parent != BIN
    python = chaostoolkit.parent / "python"
    assert subprocess.run([str(python), "-c", "import assay"], capture_output=True).returncode != 0
    versions = subprocess.run([str(python), "-c", "import chaoslib, jsonpath2, chaostoxi; print(chaoslib.__version__)"],
                              capture_output=True, text=True)
    assert versions.returncode == 0 and versions.stdout.strip() == "1.44.0", versions.stderr
