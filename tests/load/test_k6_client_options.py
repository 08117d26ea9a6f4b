"""A k6 script's client options (userAgent, assay's options.headers) on every kind of request."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_load_yaml_ws_app import Served, serve

from assay.load.api import LoadRequest, prepare
from assay.load.coordinator import run_load
from assay.results import RunResult

SCRIPT = Path(__file__).resolve().parent / "k6_scripts" / "options_headers.js"


@pytest.fixture(scope="module")
def result() -> Iterator[RunResult]:
    with serve() as app:
        yield _run(app)


def _run(app: Served) -> RunResult:
    env = {"APP": app.url}
    full_env = {**os.environ, **env}
    loaded, plan = prepare(LoadRequest(target=str(SCRIPT), env=env), env=full_env)
    return run_load(loaded, plan, workers=1, env=full_env)


def test_options_headers_and_user_agent_go_with_requests_that_have_params(result: RunResult) -> None:
    checks = {c.name: (c.passes, c.fails) for c in result.checks}
    assert checks["with params"] == (1, 0) and checks["post"] == (1, 0)


def test_options_headers_go_with_a_plain_get_too(result: RunResult) -> None:
    checks = {c.name: (c.passes, c.fails) for c in result.checks}
    assert checks["plain get"] == (1, 0)


def test_a_4xx_answer_is_tagged_with_k6s_error_code(target_url: str) -> None:
    script = SCRIPT.with_name("11_expected_statuses.js")
    env = {"BASE": target_url}
    full_env = {**os.environ, **env}
    loaded, plan = prepare(LoadRequest(target=str(script), env=env), env=full_env)
    result = run_load(loaded, plan, workers=1, env=full_env)
    assert result.metrics["http_reqs{error_code:1404}"].count == 1
    assert result.metrics["http_reqs{error_code:1500}"].count == 1
