"""The load engine against hostile HTTP servers: every attempt counted once with a k6 error
code, nothing stalls past its bounds, memory stays bounded, and a run in which nothing
completed does not pass.

Each test runs `assay load run` in a child process (one worker, so its peak RSS is the
engine's), against a real server on 127.0.0.1 from hostile_servers.py. Bounds on wall time
and memory are generous (a busy 2-core CI box); they catch "unbounded", not "slow".
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hostile_run import Ran, load_json, run_assay
from hostile_servers import hostile_server

from assay.load.http.connection import COMPILED, MAX_HEAD

pytestmark = pytest.mark.slow  # each runs the engine for a few seconds in a child process

WALL_LIMIT = 60  # seconds: 2-3 s of load plus start-up on a busy 2-core box
K6_ERROR_CODES = {1000, 1020, 1050, 1100, 1101, 1200, 1201, 1202, 1210, 1211, 1212, 1213, 1220, 1300, 1310, 1311, 1701}
PATHS = ["compiled", "pure"] if COMPILED else ["pure"]

SCENARIO = """
import os
options = {{
    "scenarios": {{"s": {{"executor": "constant-vus", "vus": {vus}, "duration": "{duration}", "gracefulStop": "{grace}"}}}},
    "timeout": "{timeout}",
    {extra}
}}
async def default(vu):
    res = await vu.http.get(os.environ["TARGET"] + "/")
    if res.error_code == 0 and {check_body}:
        assert len(res.body) == {body_len}, len(res.body)
"""


def scenario(tmp_path: Path, *, vus: int = 3, duration: str = "2s", grace: str = "1s", timeout: str = "60s",
             extra: str = "", check_body: bool = False, body_len: int = 0) -> Path:
    path = tmp_path / "hostile_scenario.py"
    path.write_text(SCENARIO.format(vus=vus, duration=duration, grace=grace, timeout=timeout, extra=extra,
                                    check_body=check_body, body_len=body_len))
    return path


def run(target: str, url: str, tmp_path: Path, *extra: str, path: str = "compiled") -> tuple[Ran, dict[str, Any]]:
    out = tmp_path / "result.json"
    env = {"TARGET": url, **({"ASSAY_PURE_HTTP": "1"} if path == "pure" else {})}
    ran = run_assay("load", "run", target, "-w", "1", "-q", "--result", str(out), *extra, env=env, timeout=90)
    assert "Traceback" not in ran.stderr, ran.stderr
    assert out.exists(), f"exit {ran.code}: {ran.stderr}"
    return ran, load_json(out)


def count(result: dict[str, Any], metric: str, key: str = "count") -> int:
    m = result["metrics"].get(metric)
    return int(m.get(key, 0)) if m else 0


def error_codes(result: dict[str, Any]) -> set[int]:
    codes = set()
    for name in result["metrics"]:
        m = re.search(r"error_code:(\d+)", name)
        if m and name.startswith("http_reqs{"):
            codes.add(int(m.group(1)))
    return codes


def assert_honest(result: dict[str, Any]) -> None:
    """No uncounted exception, no memory address in any key, every code one of k6's."""
    assert not result["extra"].get("errors"), result["extra"]["errors"]
    text = repr(result["metrics"].keys()) + repr(result["extra"]) + repr(result["notes"])
    assert not re.search(r"0x[0-9a-f]{6,}", text), text[:500]
    assert error_codes(result) <= K6_ERROR_CODES, error_codes(result)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("mode, code", [("close", None), ("garbage", 1000), ("badchunk", 1000), ("truncated", 1220)])
def test_servers_that_fail_fast_count_every_attempt(mode: str, code: int | None, path: str, tmp_path: Path) -> None:
    # quick mode: iterations are the connection-driven request loop and the C fast path
    with hostile_server(mode) as url:
        ran, result = run(url + "/", url, tmp_path, "--vus", "3", "--duration", "2s", path=path)
    assert ran.code == 0, ran.stderr  # k6 passes a run whose requests all failed, without thresholds
    requests = count(result, "http_reqs")
    assert requests > 0
    # one iteration is one request: every attempt is counted once, and every one failed
    assert count(result, "iterations") == requests
    assert count(result, "http_req_failed", "passes") == requests
    assert_honest(result)
    codes = error_codes(result)
    if code is None:
        assert codes and codes <= {1000, 1201, 1220}, codes  # EOF, broken pipe or reset: whichever the kernel shows first
    else:
        assert codes == {code}
    assert ran.wall_s < WALL_LIMIT


@pytest.mark.parametrize("mode", ["stall", "noread", "drip"])
def test_requests_that_never_finish_time_out_as_failed(mode: str, tmp_path: Path) -> None:
    with hostile_server(mode) as url:
        ran, result = run(str(scenario(tmp_path, timeout="1s")), url, tmp_path)
    requests = count(result, "http_reqs")
    assert requests >= 3
    assert count(result, "http_req_failed", "passes") == requests
    assert error_codes(result) == {1050}
    assert_honest(result)
    # each request timed out, so each iteration finished: a failed run, not an empty one
    assert ran.code == 0 and result["status"] == "passed"
    assert ran.wall_s < WALL_LIMIT


@pytest.mark.parametrize("mode", ["stall", "noread", "drip"])
def test_requests_cut_off_by_the_end_of_the_test_are_reported_and_the_run_fails(mode: str, tmp_path: Path) -> None:
    # the request timeout (60 s) outlasts duration + gracefulStop: every request is cut off
    with hostile_server(mode) as url:
        ran, result = run(str(scenario(tmp_path, vus=3, duration="1s", grace="1s")), url, tmp_path)
    assert count(result, "http_reqs") == 3
    assert count(result, "http_req_failed", "passes") == 3
    assert error_codes(result) == {1050}
    assert count(result, "iterations") == 0
    assert result["extra"]["interrupted_iterations"] == 3
    assert result["status"] == "failed"
    assert ran.code == 2, ran.stderr
    assert "nothing completed" in ran.stderr and "3 iteration(s) interrupted" in ran.stderr
    assert ran.wall_s < WALL_LIMIT


@pytest.mark.parametrize("path", PATHS)
def test_an_endless_header_fails_the_request_with_bounded_memory(path: str, tmp_path: Path) -> None:
    with hostile_server("endless") as url:
        ran, result = run(url + "/", url, tmp_path, "--vus", "3", "--duration", "2s", path=path)
    requests = count(result, "http_reqs")
    assert requests > 0 and count(result, "http_req_failed", "passes") == requests
    assert error_codes(result) == {1000}
    assert_honest(result)
    assert ran.max_rss_mb < 250, ran.max_rss_mb  # 3 VUs x a 256 KiB head cap, not GBs
    assert ran.wall_s < WALL_LIMIT


@pytest.mark.parametrize("path", PATHS)
def test_huge_bodies_are_dropped_as_they_stream_when_discarded(path: str, tmp_path: Path) -> None:
    target = scenario(tmp_path, vus=2, duration="2s", extra='"discardResponseBodies": True,', check_body=True, body_len=0)
    with hostile_server("huge") as url:
        ran, result = run(str(target), url, tmp_path, path=path)
    assert ran.code == 0, ran.stderr
    requests = count(result, "http_reqs")
    whole = requests - count(result, "http_req_failed", "passes")
    # on a busy box a 50 MB transfer may still run when gracefulStop ends: cut off (1050), not lost
    assert whole >= 1 and error_codes(result) <= {1050}
    assert count(result, "data_received", "sum") >= whole * 50_000_000
    assert_honest(result)
    # 50 MB responses, none of them held: the engine's baseline plus read buffers
    assert ran.max_rss_mb < 200, ran.max_rss_mb
    assert ran.wall_s < WALL_LIMIT


@pytest.mark.parametrize("path", PATHS)
def test_kept_bodies_past_the_limit_fail_with_a_clear_error(path: str, tmp_path: Path) -> None:
    target = scenario(tmp_path, vus=2, duration="2s", extra='"maxResponseBodySize": 1_000_000,')
    with hostile_server("huge") as url:
        ran, result = run(str(target), url, tmp_path, path=path)
    requests = count(result, "http_reqs")
    assert requests >= 2 and count(result, "http_req_failed", "passes") == requests
    assert error_codes(result) == {1000}
    assert_honest(result)
    assert ran.max_rss_mb < 200, ran.max_rss_mb
    assert ran.wall_s < WALL_LIMIT


def test_a_kept_body_within_the_limit_is_whole(tmp_path: Path) -> None:
    target = scenario(tmp_path, vus=1, duration="1s", extra='"maxResponseBodySize": 60_000_000,', check_body=True, body_len=50_000_000)
    with hostile_server("huge") as url:
        ran, result = run(str(target), url, tmp_path)
    assert ran.code == 0, ran.stderr
    assert count(result, "http_req_failed", "passes") == 0 and count(result, "http_reqs") >= 1
    assert_honest(result)


def test_the_compiled_path_leaves_long_heads_to_the_python_limit() -> None:
    if not COMPILED:
        pytest.skip("built without a C compiler")
    from assay.load.http import _fastresp

    assert _fastresp.MAX_HEAD == MAX_HEAD
    plain = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    assert _fastresp.scan(plain) is not None
    long_head = b"HTTP/1.1 200 OK\r\nX-Pad: " + b"a" * MAX_HEAD + b"\r\nContent-Length: 2\r\n\r\nok"
    assert _fastresp.scan(long_head) is None


def test_error_messages_carry_no_memory_addresses(tmp_path: Path) -> None:
    script = tmp_path / "raises.py"
    script.write_text(
        'options = {"scenarios": {"s": {"executor": "per-vu-iterations", "vus": 2, "iterations": 5}}}\n'
        "async def default(vu):\n"
        "    raise RuntimeError(f'unable to use {object()!r}')\n"
    )
    ran, result = run(str(script), "http://127.0.0.1:9", tmp_path)
    errors = result["extra"]["errors"]
    assert list(errors.values()) == [10], errors  # one message, not ten
    assert not re.search(r"0x[0-9a-f]{4,}", repr(errors)), errors


def test_a_compressed_body_is_bounded_by_its_decoded_size() -> None:
    import gzip

    from assay.load.http.wire import decompress as _decompress

    bomb = gzip.compress(b"0" * 20_000_000)  # 20 KB on the wire
    assert len(bomb) < 100_000
    with pytest.raises(ValueError, match="maxResponseBodySize"):
        _decompress(bomb, "gzip", 1_000_000)
    assert _decompress(bomb, "gzip", 20_000_000) == b"0" * 20_000_000
