"""Iterations that are one request nobody reads (quick mode, plain YAML steps) run as a loop driven
by the connection (HttpClient.run_static). They must record exactly what the coroutine path records."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from assay.load.coordinator import run_load
from assay.load.http.client import HttpClient
from assay.load.options import build_plan
from assay.load.quick import quick_scenario
from assay.load.scenario import LoadedScenario
from assay.load.yaml.compile import load_yaml_scenario
from assay.results import RunResult


def run(loaded: LoadedScenario) -> RunResult:
    return run_load(loaded, build_plan(loaded), workers=1)


def without_static(loaded: LoadedScenario) -> LoadedScenario:
    """The same scenario, forced through the coroutine path (without its static requests)."""
    fns = {}
    for name, fn in loaded.functions.items():
        assert loaded.static_requests.get(name) is not None

        async def plain(vu: Any, fn: Any = fn) -> None:
            await fn(vu)

        fns[name] = plain
    return LoadedScenario(source=loaded.source, format=loaded.format, options=loaded.options, functions=fns)


def stat(r: RunResult, name: str, field: str = "count") -> float:
    return r.stat(name, field) or 0.0


def sub_metric_names(r: RunResult) -> set[str]:
    # URL-independent: which metrics and tag values exist
    return {n for n in r.metrics if "{name:" not in n}


@pytest.mark.parametrize("path", ["/", "/status/503"])
def test_quick_mode_static_loop_records_what_the_coroutine_path_records(target_url: str, path: str) -> None:
    fast = run(quick_scenario(target_url + path, vus=3, duration="1s"))
    slow = run(without_static(quick_scenario(target_url + path, vus=3, duration="1s")))
    assert sub_metric_names(fast) == sub_metric_names(slow)
    reqs = stat(fast, "http_reqs")
    assert reqs > 50
    assert stat(fast, "iterations") == reqs == stat(fast, "iteration_duration") == stat(fast, "http_req_duration")
    for name in ("http_req_blocked", "http_req_connecting", "http_req_sending", "http_req_waiting", "http_req_receiving"):
        assert stat(fast, name) == reqs
    # the same request bytes per request on both paths, the same response bytes
    assert stat(fast, "data_sent") / reqs == pytest.approx(stat(slow, "data_sent") / stat(slow, "http_reqs"))
    assert stat(fast, "data_received") / reqs == pytest.approx(stat(slow, "data_received") / stat(slow, "http_reqs"), rel=0.02)
    status = path.rsplit("/", 1)[-1] or "200"
    assert stat(fast, f"http_reqs{{status:{status}}}") == reqs
    failed = fast.metrics["http_req_failed"]
    assert (failed.passes, failed.fails) == ((reqs, 0) if status == "503" else (0, reqs))
    assert stat(fast, "http_req_duration", "max") < 1000.0
    assert stat(fast, "http_req_duration", "min") > 0.0


def test_redirects_cookies_and_closing_connections_leave_the_loop_and_are_finished_in_full(target_url: str) -> None:
    r = run(quick_scenario(target_url + "/redirect/2", vus=2, duration="1s"))
    iters = stat(r, "iterations")
    assert iters > 5
    assert stat(r, "http_reqs") == 3 * iters  # two hops and the final page per iteration
    assert stat(r, "http_reqs{status:302}") == 2 * iters

    r = run(quick_scenario(target_url + "/close", vus=2, duration="1s"))
    assert stat(r, "http_reqs") == stat(r, "iterations") > 5
    assert r.metrics["http_req_failed"].passes == 0
    assert stat(r, "http_req_connecting", "max") > 0  # every request opened a new connection

    r = run(quick_scenario(target_url + "/cookie/set", vus=2, duration="1s"))
    assert stat(r, "http_reqs") == stat(r, "iterations") > 5
    assert r.metrics["http_req_failed"].passes == 0


def test_yaml_static_steps_keep_name_tags_timeouts_and_errors(target_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = [0]
    real = HttpClient.run_static

    async def counted(self: HttpClient, *args: Any) -> bool:
        ran = await real(self, *args)
        calls[0] += ran
        return ran

    monkeypatch.setattr(HttpClient, "run_static", counted)
    path = tmp_path / "s.yaml"
    path.write_text(textwrap.dedent(f"""
        base_url: "{target_url}"
        options:
          scenarios:
            fast: {{executor: constant-vus, vus: 2, duration: 1s, exec: fast}}
            hang: {{executor: constant-vus, vus: 1, duration: 1s, exec: hang}}
        flows:
          fast:
            - name: root
              url: /
              tags: {{kind: cheap}}
          hang:
            - name: stuck
              url: /stall?period=0.5&stall=0.3
              timeout: 100ms
    """))
    loaded = load_yaml_scenario(path)
    assert loaded.static_requests.get("fast") is not None
    r = run(loaded)
    assert calls[0] > 0
    root = stat(r, "http_reqs{name:root}")
    assert root > 20 and stat(r, "http_reqs{kind:cheap}") == root
    assert stat(r, "iterations{scenario:fast}") == root
    # requests sent during a stall time out (reused connections too: the loop's watchdog), the others pass
    stuck = stat(r, "http_reqs{name:stuck}")
    timeouts = stat(r, "http_reqs{error_code:1050}")
    assert timeouts >= 2 and stuck - timeouts > 20
    assert stat(r, "iterations{scenario:hang}") == stuck
    # a timeout counts from the request's start: time spent connecting is not in http_req_duration
    waited = stat(r, "http_req_duration{error_code:1050}", "min") + stat(r, "http_req_blocked", "max")
    assert waited >= 95.0


def test_repeated_plain_gets_take_the_prepared_path_and_record_the_same(target_url: str) -> None:
    """`vu.http.get(url)` again on a URL: prepared bytes and series, general path for the unusual."""
    import asyncio

    from assay.load.http.client import ClientOptions
    from assay.load.runner import new_loop
    from assay.load.sink import MetricsSink
    from assay.load.vu import VU

    async def main() -> tuple[dict[str, list[Any]], MetricsSink]:
        sink = MetricsSink()
        vu = VU(id=1, scenario="t", sink=sink, http=HttpClient(sink, ClientOptions()), env={})
        seen: dict[str, list[Any]] = {}
        try:
            for path in ("/", "/gzip", "/redirect/1", "/close", "/status/404", "/cookie/set", "/cookie/echo"):
                seen[path] = [await vu.http.get(target_url + path) for _ in range(3)]
            async with vu.group("g"):
                seen["group"] = [await vu.http.get(target_url + "/") for _ in range(2)]
        finally:
            await vu.http.close()
        return seen, sink

    with asyncio.Runner(loop_factory=new_loop) as runner:
        seen, sink = runner.run(main())
    assert [r.body for r in seen["/"]] == [b"ok"] * 3
    assert [r.body for r in seen["/gzip"]] == [b"hello gzip" * 10] * 3
    assert [(r.status, r.body) for r in seen["/redirect/1"]] == [(200, b"ok")] * 3
    assert [r.status for r in seen["/close"]] == [200] * 3
    assert [r.status for r in seen["/status/404"]] == [404] * 3
    assert all(r.body for r in seen["/cookie/echo"])  # the cookie set before is sent
    for res in seen["/"] + seen["/status/404"]:
        t = res.timings
        assert t.duration == pytest.approx(t.sending + t.waiting + t.receiving, abs=1e-6)
    sink.tick(0.0)
    m = sink.to_metrics()
    assert m["http_reqs"].sum == 3 * 7 + 3 + 2  # the redirects' first hops count too
    assert m["http_reqs{status:302}"].sum == 3
    assert m["http_reqs{status:404}"].sum == 3
    assert m[f"http_req_duration{{name:{target_url}/}}"].count == 3 + 3 + 2  # incl. the redirects' targets
    assert m["http_req_duration{group:::g}"].count == 2
    assert m["http_req_failed"].passes == 3  # the 404s


def test_a_timeout_on_a_kept_alive_connection_is_a_request_timeout_not_a_retry(target_url: str) -> None:
    import asyncio

    from assay.load.http.client import ClientOptions
    from assay.load.runner import new_loop
    from assay.load.sink import MetricsSink
    from assay.load.vu import VU

    url = target_url + "/stall?period=0.8&stall=0.5"

    async def main() -> tuple[list[Any], MetricsSink]:
        sink = MetricsSink()
        vu = VU(id=1, scenario="t", sink=sink, http=HttpClient(sink, ClientOptions(timeout=0.2)), env={})
        out = []
        try:
            for _ in range(40):  # spread over ~2 s, so about half land in a stall
                t0 = time.perf_counter()
                res = await vu.http.get(url)
                out.append((res, time.perf_counter() - t0))
                await asyncio.sleep(0.03)
            return out, sink
        finally:
            await vu.http.close()

    with asyncio.Runner(loop_factory=new_loop) as runner:
        responses, sink = runner.run(main())
    failed = [r for r, _ in responses if r.error_code]
    assert failed and all(r.error_code == 1050 for r in failed)
    # the timeout counts from the call's start; connecting (blocked) is not in the duration
    assert all(0.19 <= (r.timings.blocked + r.timings.duration) / 1000.0 < 0.4 for r in failed)
    # a call ends at its timeout (+ the 50 ms watchdog): it is not sent again with a new deadline,
    # which would take two timeouts (0.4 s)
    assert max(wall for _, wall in responses) < 0.4
    sink.tick(0.0)
    assert sink.to_metrics()["http_reqs"].sum == 40  # one sample per call: nothing retried behind the scenes
