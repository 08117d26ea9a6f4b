"""A test whose Debian tool or service is missing skips with the reason on a developer's machine, and fails in CI."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

CONFTEST = (Path(__file__).resolve().parents[1] / "conftest.py").read_text()
TESTS = """
import pytest

def test_needs_a_tool(system_tool):
    system_tool("assay-no-such-tool", "assay-tools")

@pytest.mark.node
def test_needs_node():
    pass
"""


def test_missing_tool_skips_with_how_to_get_it(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    pytester.makeconftest(CONFTEST)
    pytester.makeini("[pytest]\nmarkers =\n    node: needs node\n")
    pytester.makepyfile(TESTS)
    result = pytester.runpytest("-rs")
    result.assert_outcomes(skipped=1, passed=1)  # node is on this machine
    result.stdout.fnmatch_lines(["*assay-no-such-tool is not installed (apt-get install assay-tools; .ci/run installs it)*"])


def test_missing_tool_fails_in_ci(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    pytester.makeconftest(CONFTEST)
    pytester.makeini("[pytest]\nmarkers =\n    node: needs node\n")
    pytester.makepyfile(TESTS)
    result = pytester.runpytest()
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(["*but CI is set: .ci/run must provide it*"])


def test_a_stopped_service_skips_the_tests_marked_for_it(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    # Point the Redis marker at a port nothing listens on.
    pytester.makeconftest(CONFTEST.replace('"redis": ("Redis", 6379)', '"redis": ("Redis", 9)'))
    pytester.makeini("[pytest]\nmarkers =\n    redis: needs redis\n")
    pytester.makepyfile("import pytest\n\n@pytest.mark.redis\ndef test_uses_redis():\n    pass\n")
    result = pytester.runpytest("-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*Redis is not running on 127.0.0.1:9 (.ci/run starts it)*"])
