"""The hotel team's fixed-size presets, selectable by name beside the generic profiles."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from assay.errors import UsageError
from assay.load.durations import parse_duration
from assay.load.presets import PRESETS, expand_preset
from assay.load.profiles import PROFILES, expand_profile

CliRun = Callable[..., tuple[int, str, str]]

PLAN = {  # the team's plan: peak VUs and total minutes
    "hotel-smoke": (1, 1),
    "hotel-load": (10, 14),
    "hotel-stress": (50, 27),
    "hotel-spike": (100, 4),
    "hotel-soak": (5, 30),
}


def _length_and_peak(spec: dict) -> tuple[float, int]:  # type: ignore[type-arg]
    if spec["executor"] == "constant-vus":
        return parse_duration(spec["duration"]), spec["vus"]
    return sum(parse_duration(s["duration"]) for s in spec["stages"]), max(s["target"] for s in spec["stages"])


@pytest.mark.parametrize("name", sorted(PLAN))
def test_presets_have_the_plans_sizes(name: str) -> None:
    length, peak = _length_and_peak(expand_profile(name))
    assert (peak, length) == (PLAN[name][0], PLAN[name][1] * 60)


def test_names_do_not_collide_with_the_generic_profiles() -> None:
    assert set(PRESETS) == set(PLAN) and not set(PRESETS) & set(PROFILES)


def test_spike_reaches_its_peak_within_the_first_minutes_and_scales() -> None:
    spec = expand_preset("hotel-spike", vus=20, duration="24s")
    length, peak = _length_and_peak(spec)
    assert (length, peak) == (24.0, 20)
    with pytest.raises(UsageError, match="hotel-smoke"):
        expand_profile("hotel-nope")


def test_a_preset_runs_from_the_command_line_scaled_down(run_cli: CliRun, target_url: str, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    code, _, err = run_cli(
        "load", "run", f"{target_url}/", "--profile", "hotel-spike", "--vus", "4", "--duration", "3s", "--rps", "50",
        "--result", str(out), "--quiet", "--workers", "1",
    )
    assert code == 0, err
    import json

    data = json.loads(out.read_text())
    assert data["metrics"]["vus"]["max"] <= 4 and data["metrics"]["http_reqs"]["sum"] > 0


def test_a_yaml_scenario_selects_a_preset(tmp_path: Path, target_url: str) -> None:
    from assay.load.api import LoadRequest, prepare

    scenario = tmp_path / "s.yaml"
    scenario.write_text(f"profile: {{name: hotel-soak, duration: 6s}}\nrequests:\n  - url: {target_url}/\n")
    _, plan = prepare(LoadRequest(target=str(scenario)))
    assert plan.scenarios[0].executor == "ramping-vus" and plan.total_duration() == pytest.approx(6.0)
