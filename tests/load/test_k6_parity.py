"""k6 JS iterations record the same whichever way the executor runs them.

Closed-model executors (constant-vus, ramping-vus) run a JS VU's iterations back to back in its
greenlet, plain `http.get(url)` answered from response callbacks (assay.load.js.vu_loop); the
others run one iteration coroutine at a time (assay.load.js.loader). One script
(k6_scripts/closed_model_parity.js: groups, checks, batch, custom metrics, VU tags, cookies,
sleep, fail and a rejected promise) runs under per-vu-iterations and constant-vus: every count
per iteration and every error must be the same.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from assay.load.api import LoadRequest, prepare
from assay.load.coordinator import run_load
from assay.results import RunResult

SCRIPT = Path(__file__).resolve().parent / "k6_scripts" / "closed_model_parity.js"
THROWN = "JsError: Error: thrown 1 at <anonymous> (closed_model_parity.js:43)"
REJECTED = "JsError: Uncaught (in promise) Error: rejected at <anonymous> (closed_model_parity.js:44)"

# metric -> count per iteration: 7 requests (one of them a 404, one a POST in group shop::pay), 2 groups, 6 checks
PER_ITERATION = {
    "http_reqs": 7, "http_reqs{group:::shop}": 1, "http_reqs{group:::shop::pay}": 1, "http_reqs{name:pay}": 1,
    "http_reqs{method:POST}": 1, "http_reqs{status:404}": 1, "http_reqs{expected_response:false}": 1,
    "group_duration": 2, "group_duration{group:::shop::pay}": 1, "checks": 6, "checks{group:::shop}": 1,
    "orders": 1, "orders{kind:card}": 1, "wait_ms": 1, "even_iterations": 1,
    "iterations{suite:parity}": 1, "iterations{phase:late}": 1, "iteration_duration": 1,
}


def _run(executor: str, base: str) -> RunResult:
    env = {"BASE": base, "EXECUTOR": executor}
    full_env = {**os.environ, **env}
    loaded, plan = prepare(LoadRequest(target=str(SCRIPT), env=env), env=full_env)
    return run_load(loaded, plan, workers=1, env=full_env)


@pytest.fixture(scope="module")
def runs(target_url: str) -> dict[str, RunResult]:
    return {executor: _run(executor, target_url) for executor in ("per-vu-iterations", "constant-vus")}


def _errors(result: RunResult) -> dict[str, int]:
    """Iteration errors by message, without the `scenario: ` key prefix."""
    return {key.partition(": ")[2]: n for key, n in (result.extra.get("errors") or {}).items()}


@pytest.mark.parametrize("executor", ["per-vu-iterations", "constant-vus"])
def test_every_count_per_iteration_is_the_same_on_both_paths(runs: dict[str, RunResult], executor: str) -> None:
    result = runs[executor]
    n = result.metrics["iterations"].count or 0
    assert n >= 8 if executor == "constant-vus" else n == 24
    for name, per in PER_ITERATION.items():
        metric = result.metrics.get(name)
        assert metric is not None and metric.count == per * n, (name, None if metric is None else metric.count, per * n)
    # the VU tag set mid-iteration: on the iteration's own metrics, and on later requests only
    assert result.metrics["http_reqs{phase:late}"].count == 7 * n - 7 * 2  # each VU's first iteration before the tag
    for check in result.checks:
        assert (check.passes, check.fails) == (n, 0), (check.name, check.passes, check.fails)
    assert {c.name for c in result.checks} == {
        "iteration numbers", "scenario", "plain get", "json in group", "batch 404", "fresh cookie jar"}
    errors = _errors(result)
    assert set(errors) == {THROWN, REJECTED}, errors
    if executor == "per-vu-iterations":
        assert errors == {THROWN: 6, REJECTED: 6}  # iterations 1, 5, 9 and 3, 7, 11 of each VU
    else:
        assert abs(errors[THROWN] - n / 4) <= 2 and abs(errors[REJECTED] - n / 4) <= 2
    assert not result.extra.get("interrupted_iterations")


@pytest.mark.parametrize("executor", ["per-vu-iterations", "constant-vus"])
def test_exec_scenario_iteration_in_test_numbers_every_vus_iterations_once(runs: dict[str, RunResult], executor: str) -> None:
    """k6's exec.scenario.iterationInTest is unique in the scenario: two VUs never get the same
    number (the script counts `numbered{n:N}` for numbers below 20)."""
    result = runs[executor]
    counts = {name: m.count for name, m in result.metrics.items() if name.startswith("numbered{n:")}
    assert counts == {f"numbered{{n:{i}}}": 1 for i in range(20)}, counts


def test_an_iteration_error_is_counted_under_its_scenario_on_both_paths(runs: dict[str, RunResult]) -> None:
    """A thrown error's key is `scenario: message`, as for Python and YAML scenarios (the run's
    error table and the worker merge group errors by scenario): 'main', never the export name."""
    for executor, result in runs.items():
        keys = list(result.extra.get("errors") or {})
        assert keys and all(key.startswith("main: ") for key in keys), (executor, keys)
