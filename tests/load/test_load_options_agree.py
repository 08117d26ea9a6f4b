"""A YAML file and a Python file take the same k6 options: the keys are declared once (each
executor's REQUIRED/OPTIONAL, the fields of assay.load.spec.Options) and both paths follow k6."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from assay.errors import ExitCode
from assay.load.executors import EXECUTORS
from assay.load.executors.base import COMMON_KEYS
from assay.load.k6options import Options
from assay.load.loaders import load_scenario
from assay.load.options import TOP_LEVEL_KEYS, build_plan
from assay.load.scenario import ScenarioError


def load_yaml(tmp_path: Path, options: str) -> Any:
    path = tmp_path / "s.yaml"
    path.write_text("options:\n" + textwrap.indent(textwrap.dedent(options), "  ") + "requests: [{url: 'http://127.0.0.1:1/'}]\n")
    loaded = load_scenario(path)
    return build_plan(loaded)


def load_python(tmp_path: Path, options: dict[str, Any]) -> Any:
    path = tmp_path / "s.py"
    path.write_text(f"options = {options!r}\n\nasync def default(vu):\n    pass\n")
    return build_plan(load_scenario(path))


def test_each_executor_declares_its_options_once_with_k6_defaults() -> None:
    for name, cls in EXECUTORS.items():
        assert cls.Options.model_fields["executor"].default == name
        assert cls.keys() == set(cls.Options.model_fields) - COMMON_KEYS
    # k6's defaults, read by the Python path from the same models
    assert EXECUTORS["shared-iterations"].default("maxDuration") == "10m"
    assert EXECUTORS["ramping-vus"].default("gracefulRampDown") == "30s"
    assert EXECUTORS["constant-vus"].default("duration") is None  # required
    assert TOP_LEVEL_KEYS == set(Options.model_fields)


def test_a_fractional_stage_target_is_rejected_from_yaml_and_from_python(tmp_path: Path) -> None:
    # k6's stage target is an integer (VUs, or iterations per timeUnit): 2.5 is an error there too
    with pytest.raises(ScenarioError) as from_yaml:
        load_yaml(tmp_path, "scenarios:\n  s: {executor: ramping-arrival-rate, preAllocatedVUs: 2, stages: [{duration: 1s, target: 2.5}]}\n")
    assert from_yaml.value.exit_code == ExitCode.USAGE
    assert "s.yaml:3:85: options.scenarios.s.stages[0].target:" in str(from_yaml.value)
    for executor in ({"executor": "ramping-arrival-rate", "preAllocatedVUs": 2}, {"executor": "ramping-vus"}):
        scenario = {**executor, "stages": [{"duration": "1s", "target": 2.5}]}
        with pytest.raises(ScenarioError, match=r"scenarios\.s\.stages\[0\]\.target: expected a whole number, got 2\.5") as from_py:
            load_python(tmp_path, {"scenarios": {"s": scenario}})
        assert from_py.value.exit_code == ExitCode.USAGE


def test_a_scenario_options_key_is_accepted_from_yaml_and_from_python(tmp_path: Path) -> None:
    # k6 scenarios take `options` (e.g. {browser: {type: chromium}}); assay accepts it and runs HTTP as usual
    plan = load_yaml(tmp_path, "scenarios:\n  s: {executor: constant-vus, duration: 1s, options: {browser: {type: chromium}}}\n")
    assert [c.executor for c in plan.scenarios] == ["constant-vus"]
    plan = load_python(tmp_path, {"scenarios": {"s": {"executor": "constant-vus", "duration": "1s", "options": {"browser": {"type": "chromium"}}}}})
    assert [c.executor for c in plan.scenarios] == ["constant-vus"]


def test_max_response_body_size_is_an_option_in_yaml_as_in_python(tmp_path: Path) -> None:
    assert load_yaml(tmp_path, "maxResponseBodySize: 1024\n").client["max_body"] == 1024
    assert load_python(tmp_path, {"maxResponseBodySize": 1024}).client["max_body"] == 1024


@pytest.mark.parametrize("executor, extra", [
    ("constant-vus", "duration: 1s"),
    ("shared-iterations", "iterations: 2"),
    ("per-vu-iterations", "iterations: 2"),
    ("ramping-vus", "stages: [{duration: 1s, target: 1}]"),
    ("constant-arrival-rate", "rate: 1\n    duration: 1s\n    preAllocatedVUs: 1"),
])
@pytest.mark.parametrize("key", ["startTime", "gracefulStop"])
def test_every_executor_checks_the_common_durations(tmp_path: Path, executor: str, extra: str, key: str) -> None:
    """Each executor's own duration checks add to the common ones (startTime, gracefulStop), not replace them."""
    with pytest.raises(ScenarioError) as err:
        load_yaml(tmp_path, f"scenarios:\n  s:\n    executor: {executor}\n    {extra}\n    {key}: bogus\n")
    assert key in str(err.value) and err.value.exit_code == ExitCode.USAGE


@pytest.mark.parametrize("executor", sorted(EXECUTORS))
def test_executor_models_keep_the_common_duration_checks(executor: str) -> None:
    """An executor's own duration validator must not shadow ScenarioSpec's (startTime, gracefulStop)."""
    import pydantic

    cls = EXECUTORS[executor].Options
    for key in ("startTime", "gracefulStop"):
        with pytest.raises(pydantic.ValidationError) as err:
            cls.model_validate({"executor": executor, key: "bogus"})
        assert any(e["loc"] == (key,) for e in err.value.errors())
