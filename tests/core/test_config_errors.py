"""Config errors name the file, line, column, key path and what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import Field

from assay.config import ConfigError, StrictModel, load_config, parse_config
from assay.errors import ExitCode, UsageError


class Objective(StrictModel):
    sli: str
    pass_: list[str] = Field(default_factory=list, alias="pass")
    weight: int = 1
    priority: str = "P1"


class SloLike(StrictModel):
    objectives: list[Objective]
    total_score: dict[str, float] = Field(default_factory=dict)


def error_of(text: str, fmt: str = "yaml") -> str:
    with pytest.raises(ConfigError) as err:
        parse_config(text, SloLike, source=f"slo.{fmt}", fmt=fmt)  # type: ignore[arg-type]
    assert err.value.exit_code == ExitCode.USAGE
    return err.value.message


def test_unknown_key_suggests_the_closest() -> None:
    msg = error_of("objectives:\n  - sli: http_req_duration\n    pas: ['<350']\n")
    assert msg == "slo.yaml:3:5: objectives[0].pas: unknown key 'pas'; did you mean 'pass'?"


def test_unknown_key_without_close_match_lists_known_keys() -> None:
    msg = error_of("objectives:\n  - sli: x\n    zzzz: 1\n")
    assert "unknown key 'zzzz'; known keys: sli, pass, weight, priority" in msg


def test_wrong_type_says_what_was_expected() -> None:
    msg = error_of("objectives:\n  - sli: x\n    weight: heavy\n")
    assert msg == "slo.yaml:3:5: objectives[0].weight: expected an integer, got 'heavy'"


def test_missing_required_key() -> None:
    assert error_of("objectives:\n  - weight: 2\n") == "slo.yaml:2:5: objectives[0].sli: required key is missing"


def test_broken_yaml_is_one_located_line() -> None:
    msg = error_of("objectives:\n  - sli: [unclosed\n")
    assert msg.startswith("slo.yaml:3:1: invalid YAML:")
    assert "\n" not in msg


def test_truncated_json_is_one_located_line() -> None:
    msg = error_of('{"objectives": [{"sli": "a"}', fmt="json")
    assert msg.startswith("slo.json:1:")
    assert "invalid JSON" in msg


def test_json_validation_errors_are_located() -> None:
    msg = error_of('{\n  "objectives": [\n    {"sli": "a", "wieght": 2}\n  ]\n}', fmt="json")
    assert msg == "slo.json:3:18: objectives[0].wieght: unknown key 'wieght'; did you mean 'weight'?"


def test_toml_errors_are_located() -> None:
    msg = error_of('[[objectives]]\nsli = "a"\nweight = "x"\n', fmt="toml")
    assert msg == "slo.toml:3:1: objectives[0].weight: expected an integer, got 'x'"
    assert error_of("objectives = ", fmt="toml").startswith("slo.toml: invalid TOML")


def test_load_config_by_suffix(tmp_path: Path) -> None:
    path = tmp_path / "slo.yml"
    path.write_text("objectives:\n  - sli: http_req_failed\n    pass: ['<0.001']\n")
    model = load_config(path, SloLike)
    assert model.objectives[0].pass_ == ["<0.001"]
    with pytest.raises(UsageError, match="no such file"):
        load_config(tmp_path / "missing.yaml", SloLike)
    bad = tmp_path / "slo.ini"
    bad.write_text("x")
    with pytest.raises(UsageError, match="unknown config format"):
        load_config(bad, SloLike)
