"""Python scenario files: options, setup/teardown data, groups, checks, custom metrics, profiles, shortcuts."""

from __future__ import annotations

from pathlib import Path

import pytest

from assay.errors import UsageError
from assay.load.api import LoadRequest, prepare
from assay.load.coordinator import run_load
from assay.load.loaders import load_scenario
from assay.load.profiles import PROFILES, expand_profile
from assay.load.scenario import ScenarioError
from assay.results import MetricType

SCENARIO = '''
import os
from assay.load import Counter, Rate, Trend

orders = Counter("orders")
ok_rate = Rate("order_ok")
think = Trend("think_time", contains="time")
TEARDOWN = []

options = {
    "scenarios": {
        "shop": {"executor": "shared-iterations", "vus": 2, "iterations": 6, "exec": "shop", "tags": {"flow": "shop"},
                 "env": {"KIND": "card"}},
        "idle": {"executor": "per-vu-iterations", "vus": 1, "iterations": 2},
    },
    "thresholds": {"orders": ["count==6"], "order_ok": ["rate==1"], "checks{flow:shop}": ["rate>0.9"]},
    "tags": {"team": "payments"},
}

async def setup(vu):
    res = await vu.http.get(os.environ["BASE"] + "/json")
    return {"id": res.json("id")}

def teardown(data):
    TEARDOWN.append(data)

async def shop(vu):
    assert vu.env["KIND"] == "card" and vu.data == {"id": 7}
    vu.state["n"] = vu.state.get("n", 0) + 1
    with vu.group("cart"):
        async with vu.group("add"):
            res = await vu.http.post(vu.env["BASE"] + "/echo", json={"n": vu.state["n"]}, tags={"name": "add"})
            vu.check(res, {"echoed": lambda r: r.json("method") == "POST"})
    orders.add(1)
    ok_rate.add(res.status == 200)
    think.add(1.5, tags={"step": "pay"})
    vu.metric("per_vu_seen", "counter").add(1)

async def default(vu):
    vu.record("ws_msgs_sent", 3)
'''


def test_python_scenario_features(tmp_path: Path, target_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BASE", target_url)
    path = tmp_path / "shop.py"
    path.write_text(SCENARIO)
    loaded, plan = prepare(LoadRequest(target=str(path)), env={"BASE": target_url})
    assert loaded.custom_metrics["orders"][0] is MetricType.COUNTER
    result = run_load(loaded, plan, workers=1, env={"BASE": target_url})
    assert result.status.value == "passed", [(n, t) for n, t in result.thresholds()]
    m = result.metrics
    assert m["orders"].sum == 6 and m["order_ok"].passes == 6
    assert m["per_vu_seen"].sum == 6
    assert m["think_time{step:pay}"].count == 6
    assert m["ws_msgs_sent"].sum == 6  # the idle scenario: 2 iterations recording 3 each
    assert m["http_reqs{group:::cart::add}"].sum == 6
    assert m["http_reqs{name:add}"].sum == 6
    assert m["http_reqs{team:payments}"].sum == 7  # 6 + setup's request
    assert m["group_duration{group:::cart}"].count == 6
    assert m["iterations{scenario:idle}"].sum == 2
    (check,) = result.checks
    assert check.path == "::cart::add::echoed" and check.passes == 6
    assert result.metrics["checks{flow:shop}"].thresholds[0].ok is True


def test_shortcuts_and_cli_overrides(tmp_path: Path) -> None:
    path = tmp_path / "s.py"
    path.write_text('options = {"vus": 3, "duration": "5s"}\nasync def default(vu):\n    pass\n')
    _, plan = prepare(LoadRequest(target=str(path)))
    (sc,) = plan.scenarios
    assert (sc.executor, sc.params["vus"], sc.params["duration"]) == ("constant-vus", 3, 5.0)
    _, plan = prepare(LoadRequest(target=str(path), iterations=10))
    assert plan.scenarios[0].executor == "shared-iterations" and plan.scenarios[0].params["iterations"] == 10
    _, plan = prepare(LoadRequest(target=str(path), rate=20, duration="2s"))
    assert plan.scenarios[0].executor == "constant-arrival-rate" and plan.scenarios[0].params["rate"] == 20
    _, plan = prepare(LoadRequest(target=str(path), profile="spike", vus=5, duration="20s"))
    assert plan.scenarios[0].executor == "ramping-vus" and plan.total_duration() == pytest.approx(20.0)


@pytest.mark.parametrize("name", PROFILES)
def test_profiles_expand_to_valid_executors(name: str) -> None:
    from assay.load.options import parse_scenario

    spec = expand_profile(name, vus=8, duration="100s", rate=500)
    cfg = parse_scenario(name, spec, f"profile {name}")
    from assay.load.executors import EXECUTORS, Segment

    ex = EXECUTORS[cfg.executor](cfg, Segment())
    assert ex.duration() == pytest.approx(100.0, abs=0.01)
    assert ex.max_vus() >= 1


def test_scenario_errors(tmp_path: Path) -> None:
    bad = tmp_path / "raise.py"
    bad.write_text("x = 1\nraise RuntimeError('no config')\n")
    with pytest.raises(ScenarioError, match=r"raise.py:2: importing the scenario raised RuntimeError: no config"):
        load_scenario(bad)
    with pytest.raises(ScenarioError, match="unknown scenario type '.txt'"):
        (tmp_path / "a.txt").write_text("")
        load_scenario(tmp_path / "a.txt")
    opts = tmp_path / "opts.py"
    opts.write_text('options = {"scenarios": {"a": {"executor": "constant-vus", "duration": "1s"}}, "vus": 2}\nasync def default(vu):\n    pass\n')
    with pytest.raises(ScenarioError, match="options.vus cannot be combined with options.scenarios"):
        prepare(LoadRequest(target=str(opts)))
    with pytest.raises(UsageError, match="--method, --header and --body are for quick mode"):
        prepare(LoadRequest(target=str(opts), method="POST"))
