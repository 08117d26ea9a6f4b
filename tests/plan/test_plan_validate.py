"""`assay plan validate`: every mistake found before anything runs, with its line; exit 64."""

from __future__ import annotations

from pathlib import Path

from plan_helpers import assay

GOOD = """\
name: night
stages:
  build:
    steps:
      - {name: hello, kind: run, command: "true"}
  load:
    needs: [build]
    timeout: 1m
    steps:
      - {name: soak, kind: load, target: http://127.0.0.1:1/, vus: 1, duration: 30s}
"""


def _validate(tmp_path: Path, text: str) -> tuple[int, str]:
    plan = tmp_path / "plan.yaml"
    plan.write_text(text)
    proc = assay("plan", "validate", str(plan))
    return proc.returncode, proc.stdout + proc.stderr


def test_a_good_plan_validates_and_shows_its_budgets(tmp_path: Path) -> None:
    code, out = _validate(tmp_path, GOOD)
    assert code == 0, out
    assert "2 stages, 2 steps" in out and "planned 30s of 60s" in out


def test_unknown_step_kind_and_key_are_located_with_the_closest_name(tmp_path: Path) -> None:
    text = GOOD.replace("kind: run, command", "kind: rnu, command").replace("vus: 1,", "vsu: 1,")
    code, out = _validate(tmp_path, text)
    assert code == 64
    assert "plan.yaml:5:" in out and "unknown step kind 'rnu'; did you mean 'run'?" in out
    assert "plan.yaml:10:" in out and "unknown key 'vsu' for a load step; did you mean 'vus'?" in out
    assert "Traceback" not in out


def test_cycles_and_needs_naming_no_stage(tmp_path: Path) -> None:
    text = GOOD + """\
  a:
    needs: [b]
    steps: [{name: x, kind: run, command: "true"}]
  b:
    needs: [a, nowhere, lod]
    steps: [{name: y, kind: run, command: "true"}]
"""
    code, out = _validate(tmp_path, text)
    assert code == 64
    assert "a cycle in needs: a -> b -> a" in out
    assert "needs 'nowhere', which is no stage" in out
    assert "needs 'lod', which is no stage; did you mean 'load'?" in out
    assert "plan.yaml:15:" in out  # the line of b's needs entry


def test_time_budgets_that_cannot_fit(tmp_path: Path) -> None:
    text = GOOD.replace("duration: 30s}", "duration: 45s}\n      - {name: spike, kind: load, target: http://127.0.0.1:1/, vus: 1, duration: 20s}")
    text += """\
  chaos:
    steps:
      - {name: slow, kind: run, command: "true", duration: 2m, timeout: 1m}
"""
    code, out = _validate(tmp_path, text)
    assert code == 64
    assert "plan.yaml:8:5: stages.load.timeout: the steps take 1m5s (soak 45s, spike 20s) but the stage's timeout is 1m" in out
    assert "step 'slow' runs 2m but its timeout is 1m" in out


def test_references_and_bad_values(tmp_path: Path) -> None:
    text = """\
name: night
services:
  api: {command: "python -m http.server ${services.api.port}", port: auto}
stages:
  s:
    if: {weekday: [funday]}
    steps:
      - {name: a, kind: run, command: "curl ${services.apx.url}", timeout: soon}
      - {name: b, kind: slo, slo: slo.yaml, results: [nothing]}
"""
    code, out = _validate(tmp_path, text)
    assert code == 64
    assert "unknown weekday 'funday'" in out
    assert "timeout: soon" in out or "'soon' is not a duration" in out
    code, out = _validate(tmp_path, text.replace("    if: {weekday: [funday]}\n", "").replace(", timeout: soon", ""))
    assert code == 64
    assert "${services.apx.url}: no service 'apx'; did you mean 'api'?" in out
    assert "'nothing' names no step" in out


def test_the_courier_nightly_plans_validate() -> None:
    root = Path(__file__).resolve().parents[2] / "examples" / "courier"
    for name in ("nightly.yaml", "nightly-full.yaml"):
        proc = assay("plan", "validate", str(root / name))
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_load_steps_budget_comes_from_its_scenario_file(tmp_path: Path) -> None:
    (tmp_path / "soak.yaml").write_text("""\
options:
  scenarios:
    warm: {executor: constant-vus, vus: 1, duration: 30s}
    soak: {executor: constant-vus, vus: 5, duration: 2m, startTime: 30s}
requests: [{method: GET, url: "http://127.0.0.1:1/"}]
""")
    code, out = _validate(tmp_path, """\
name: night
stages:
  soak:
    timeout: 2m
    steps:
      - {name: soak, kind: load, target: soak.yaml}
      - {name: after, kind: run, command: "true", duration: 10s}
""")
    assert code == 64
    assert "the steps take 2m40s (soak 2m30s, after 10s) but the stage's timeout is 2m" in out


def test_a_load_step_whose_scenario_file_is_missing_is_located(tmp_path: Path) -> None:
    code, out = _validate(tmp_path, """\
name: night
stages:
  load:
    steps:
      - {name: crud, kind: load, target: crud_mix.yaml}
      - {name: live, kind: load, target: "http://127.0.0.1:1/", vus: 1, duration: 1s}
""")
    assert code == 64
    assert "plan.yaml:5:" in out and "stages.load.steps[0].target: no such scenario file" in out
    assert "crud_mix.yaml" in out and "steps[1]" not in out


def test_run_refuses_a_plan_validate_would_refuse_before_anything_runs(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(GOOD.replace("needs: [build]", "needs: [biuld]").replace('command: "true"', 'command: "touch ran"'))
    proc = assay("plan", "run", str(plan), "--artifacts", str(tmp_path / "out"), cwd=tmp_path)
    assert proc.returncode == 64
    assert "needs 'biuld', which is no stage; did you mean 'build'?" in proc.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "ran").exists()
