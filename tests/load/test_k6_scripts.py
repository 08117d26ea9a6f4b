"""The k6 script corpus (tests/load/k6_scripts/*.js): each runs unchanged against local servers.

Each script states what it must produce on its first line, `// expect: {...}`:
- `"metric{tags}.key": value` or `[min, max]` (a k6 `values` key of the result's metric);
- `"check:NAME": [passes, fails]` (an entry may name another expectation key, e.g. "iterations.count");
- `"checkpath:PATH": passes` (the check's group path); `"same": [key, key]` (equal values);
- `"errors": n` (iterations that threw); `"error:TEXT": n` (those whose message contains TEXT); `"aborted": true`; `"summary_file": name` (handleSummary wrote it).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_load_yaml_ws_app import Served, serve

from assay.harness.ports import free_port
from assay.load.api import LoadRequest, prepare
from assay.load.coordinator import run_load
from assay.load.js.summary import run_handle_summary
from assay.results import RunResult, RunStatus

SCRIPTS = Path(__file__).resolve().parent / "k6_scripts"
CORPUS = sorted(SCRIPTS.glob("[0-9][0-9]_*.js"))


@pytest.fixture(scope="module")
def app() -> Iterator[Served]:
    with serve() as served:
        yield served


def run_script(path: Path, env: dict[str, str], workers: int = 1) -> RunResult:
    full_env = {**os.environ, **env}
    loaded, plan = prepare(LoadRequest(target=str(path), env=env), env=full_env)
    result = run_load(loaded, plan, workers=workers, env=full_env)
    result.extra["loaded"] = loaded
    return result


def value(result: RunResult, key: str) -> float:
    name, _, stat = key.rpartition(".")
    metric = result.metrics.get(name)
    if metric is None:
        raise AssertionError(f"no metric {name!r} in the result (have: {sorted(m for m in result.metrics if '{' not in m)})")
    values = metric.values(("avg", "min", "med", "max", "p(90)", "p(95)", "count"), result.duration_s)
    if stat == "count" and metric.type.value == "trend":
        return float(metric.count or 0)
    return values[stat]


def expectation(path: Path) -> dict[str, Any]:
    first = path.read_text().splitlines()[0]
    assert first.startswith("// expect: "), f"{path.name}: first line must be // expect: {{...}}"
    return json.loads(first.removeprefix("// expect: "))


def _matches(actual: float, wanted: Any, result: RunResult) -> bool:
    if isinstance(wanted, str):
        wanted = value(result, wanted)
    if isinstance(wanted, list):
        return wanted[0] <= actual <= wanted[1]
    if isinstance(wanted, bool):
        return bool(actual) is wanted
    return abs(actual - float(wanted)) < 1e-9


def test_the_corpus_covers_at_least_25_scripts() -> None:
    assert len(CORPUS) >= 25


@pytest.mark.parametrize("script", CORPUS, ids=[p.stem for p in CORPUS])
def test_k6_script_runs_with_expected_counts(script: Path, app: Served, target_url: str, tmp_path: Path) -> None:
    expected = expectation(script)
    env = {
        "BASE": target_url, "APP": app.url, "WS": app.ws_url, "CLOSED_PORT": str(free_port()),
        "GREETING": "hello", "OUT_DIR": str(tmp_path),
    }
    result = run_script(script, env)
    checks = {c.name: c for c in result.checks}
    errors = sum((result.extra.get("errors") or {}).values())
    for key, wanted in expected.items():
        if key == "same":
            a, b = (value(result, k) for k in wanted)
            assert a == b, f"{key}: {wanted[0]}={a} but {wanted[1]}={b}"
        elif key == "errors":
            assert _matches(errors, wanted, result), f"errors: {result.extra.get('errors')}"
        elif key.startswith("error:"):
            text = key.removeprefix("error:")
            found = sum(n for message, n in (result.extra.get("errors") or {}).items() if text in message)
            assert _matches(found, wanted, result), f"{key}: {found}; errors: {result.extra.get('errors')}"
        elif key == "aborted":
            assert (result.status is RunStatus.ABORTED) is wanted, result.notes
            assert any("aborted by the script" in n for n in result.notes), result.notes
        elif key == "summary_file":
            out = run_handle_summary(result.extra["loaded"], result)
            assert out is not None and out.error is None, out
            assert out.stdout is not None and out.stdout.startswith("requests=")
            written = json.loads((tmp_path / wanted).read_text())
            assert written == {"requests": value(result, "http_reqs.count"), "ok": True}
        elif key.startswith("check:"):
            name = key.removeprefix("check:")
            assert name in checks, f"no check {name!r}; checks: {sorted(checks)}; errors: {result.extra.get('errors')}"
            passes, fails = wanted
            assert _matches(checks[name].passes, passes, result), f"{key}: passes {checks[name].passes}, wanted {passes}"
            assert _matches(checks[name].fails, fails, result), f"{key}: fails {checks[name].fails}, wanted {fails}"
        elif key.startswith("checkpath:"):
            path = key.removeprefix("checkpath:")
            found = [c for c in result.checks if c.path == path]
            assert found and found[0].passes == wanted, f"{key}: {[(c.path, c.passes) for c in result.checks]}"
        else:
            actual = value(result, key)
            assert _matches(actual, wanted, result), f"{key}: got {actual}, wanted {wanted}"
    if "errors" not in expected:
        assert errors == 0, result.extra.get("errors")


def test_an_iteration_cut_by_graceful_stop_unwinds_its_script(target_url: str) -> None:
    """gracefulStop 0s ends VUs in the middle of a 3 s request; a script catching the interruption
    cannot continue it (its next request is refused too), and no iteration error is counted. The
    cut-off requests are counted as failed (k6's 1050) and a run where nothing completed fails
    (issue 10: results must not hide what never finished)."""
    result = run_script(SCRIPTS / "interrupted.js", {"BASE": target_url})
    assert not result.extra.get("errors")
    assert result.extra.get("interrupted_iterations", 0) >= 1
    assert result.status is RunStatus.FAILED and result.extra.get("nothing_completed")
