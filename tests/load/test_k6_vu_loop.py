"""k6 JS iterations run in the VU's greenlet and resumed by response callbacks (assay.load.js.vu_loop).

Closed-model executors run a JS VU's iterations back to back, each plain `http.get(url)` answered
from the connection's response callback. Everything else (the first request to a URL, cookies,
redirects, a closing connection, timeouts, the end of the test, other host calls) goes to the
VU's task and the general path. These runs use a raw HTTP server whose answers are chosen per
path, and check that every request and iteration is recorded exactly once, on every path.
"""

from __future__ import annotations

import asyncio
import gzip
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from assay.harness.ports import free_port
from assay.load.api import LoadRequest, prepare
from assay.load.coordinator import run_load
from assay.load.js.vu_loop import JsLoop
from assay.results import RunResult

GZIPPED = gzip.compress(b"ok")


class RawServer:
    """HTTP/1.1 on 127.0.0.1: `/ok` keep-alive; `/close` answers with Connection: close;
    `/gzip` is compressed; `/redirect` is a 302 to `/ok`; `/stall` answers its first
    `stall_after` requests and then never again (the connection stays open)."""

    def __init__(self, stall_after: int = 1_000_000_000) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.stall_after = stall_after
        self.counts: dict[str, int] = {}
        self.loop = asyncio.new_event_loop()
        self.started = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(asyncio.start_server(self._client, "127.0.0.1", self.port))
        self.server = server
        self.started.set()
        self.loop.run_forever()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ", 2)[1].decode().split("?")[0]
                n = self.counts[path] = self.counts.get(path, 0) + 1
                if path == "/stall" and n > self.stall_after:
                    await asyncio.sleep(3600)
                if path == "/close":
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
                    await writer.drain()
                    writer.close()
                    return
                if path == "/gzip":
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nContent-Encoding: gzip\r\n\r\n%s" % (len(GZIPPED), GZIPPED))
                elif path == "/redirect":
                    writer.write(b"HTTP/1.1 302 Found\r\nLocation: /ok\r\nContent-Length: 0\r\n\r\n")
                else:
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            writer.close()

    def __enter__(self) -> RawServer:
        self.thread.start()
        self.started.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()

    async def _shutdown(self) -> None:
        self.server.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@pytest.fixture()
def callbacks(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How many responses the VUs' response callbacks answered (the path under test)."""
    seen = {"answered": 0}
    original = JsLoop.on_response

    def on_response(self: JsLoop, conn: object) -> bool:
        seen["answered"] += 1
        return original(self, conn)  # type: ignore[arg-type]

    monkeypatch.setattr(JsLoop, "on_response", on_response)
    return seen


@pytest.fixture()
def server() -> Iterator[RawServer]:
    with RawServer(stall_after=20) as s:
        yield s


def run_js(tmp_path: Path, source: str, env: dict[str, str]) -> RunResult:
    script = tmp_path / "script.js"
    script.write_text(source)
    full_env = {**os.environ, **env}
    loaded, plan = prepare(LoadRequest(target=str(script), env=env), env=full_env)
    return run_load(loaded, plan, workers=1, env=full_env)


def count(result: RunResult, name: str) -> float:
    metric = result.metrics.get(name)
    return 0.0 if metric is None else float(metric.count or 0)


def test_every_path_of_a_closed_model_iteration_is_recorded_once(tmp_path: Path, server: RawServer, callbacks: dict[str, int]) -> None:
    """Plain keep-alive answers (the callback path), a closing connection, compression and a
    redirect (the general path finishing what the callback declined, or connecting anew): one
    iteration, four requests (five with the redirect's hop), each counted once, every check passing."""
    result = run_js(
        tmp_path,
        """
        import http from 'k6/http';
        import { check } from 'k6';
        export const options = { scenarios: { s: { executor: 'constant-vus', vus: 4, duration: '1s' } } };
        export default function () {
          const a = http.get(`${__ENV.BASE}/ok`);
          const b = http.get(`${__ENV.BASE}/close`);
          const c = http.get(`${__ENV.BASE}/gzip`);
          const d = http.get(`${__ENV.BASE}/redirect`);
          check(a, { 'ok': (r) => r.status === 200 && r.body === 'ok' });
          check(b, { 'closed': (r) => r.status === 200 && r.body === 'ok' });
          check(c, { 'decompressed': (r) => r.status === 200 && r.body === 'ok' });
          check(d, { 'redirected': (r) => r.status === 200 && r.url.endsWith('/ok') });
        }
        """,
        {"BASE": server.url},
    )
    iterations = count(result, "iterations")
    assert iterations > 8
    assert not result.extra.get("errors")
    assert count(result, "http_reqs") == iterations * 5  # the redirect's own hop is a request, as in k6
    served = sum(server.counts.values())
    assert served == iterations * 5
    assert server.counts["/ok"] == iterations * 2 and server.counts["/close"] == iterations
    for check in result.checks:
        assert check.fails == 0 and check.passes == iterations, (check.name, check.passes, check.fails)
    assert result.metrics["http_req_failed"].values(("rate",), result.duration_s)["rate"] == 0
    # /ok, and /close, /gzip, /redirect on a kept connection: answered (or declined) in a callback
    assert callbacks["answered"] >= iterations * 2


def test_a_request_cut_off_by_graceful_stop_on_the_callback_path_is_failed_not_lost(tmp_path: Path, server: RawServer, callbacks: dict[str, int]) -> None:
    """The server stops answering after 20 requests, while each VU waits in a callback-driven
    request: the end of the test (gracefulStop 0s) interrupts those iterations, and each request
    in flight is recorded as failed (k6's 1050), so http_reqs equals what was sent."""
    result = run_js(
        tmp_path,
        """
        import http from 'k6/http';
        export const options = { scenarios: { s: { executor: 'constant-vus', vus: 3, duration: '1s', gracefulStop: '0s' } } };
        export default function () { http.get(`${__ENV.BASE}/stall`); }
        """,
        {"BASE": server.url},
    )
    sent = server.counts["/stall"]
    assert sent == 20 + 3  # each VU's last request was sent and never answered
    assert count(result, "http_reqs") == sent
    assert result.extra.get("interrupted_iterations") == 3
    assert count(result, "iterations") == 20
    assert not result.extra.get("errors")
    failed = result.metrics["http_req_failed"].values(("rate",), result.duration_s)["rate"]
    assert failed == pytest.approx(3 / 23)
    assert callbacks["answered"] == 20 - 3  # each VU's first request connects (the general path)


def test_a_timeout_on_the_callback_path_is_recorded_and_the_vu_goes_on(tmp_path: Path) -> None:
    """options.timeout 300ms: requests the server never answers time out (error_code 1050) and
    the script sees status 0; the VU's next iteration goes on."""
    with RawServer(stall_after=2) as server:
        result = run_js(
            tmp_path,
            """
            import http from 'k6/http';
            import { check } from 'k6';
            export const options = { timeout: '300ms', scenarios: { s: { executor: 'constant-vus', vus: 1, duration: '1s' } } };
            export default function () {
              const r = http.get(`${__ENV.BASE}/stall`);
              check(r, { 'answered': (x) => x.status === 200, 'timed out': (x) => x.status === 0 && x.error_code === 1050 });
            }
            """,
            {"BASE": server.url},
        )
    checks = {c.name: c for c in result.checks}
    assert checks["answered"].passes == 2
    timed_out = checks["timed out"].passes
    assert timed_out >= 2  # 1 s at 300 ms each, after the two answered
    assert count(result, "http_reqs") == 2 + timed_out + result.extra.get("interrupted_iterations", 0)
    assert not result.extra.get("errors")


def test_script_errors_other_host_calls_and_groups_in_a_callback_driven_batch(tmp_path: Path, server: RawServer) -> None:
    """An exception thrown after a request is an iteration error (counted, the VU goes on); sleep
    and a POST are awaited by the VU's task in the middle of a batch; a group's requests carry its
    tag and its iterations count outside it."""
    result = run_js(
        tmp_path,
        """
        import http from 'k6/http';
        import { group, sleep } from 'k6';
        export const options = { scenarios: { s: { executor: 'constant-vus', vus: 2, duration: '1s' } } };
        export default function () {
          group('g', () => { http.get(`${__ENV.BASE}/ok`); });
          sleep(0.01);
          http.post(`${__ENV.BASE}/ok`, 'x');
          http.get(`${__ENV.BASE}/ok`);
          if (__ITER % 2 === 1) throw new Error('odd iteration');
        }
        """,
        {"BASE": server.url},
    )
    iterations = count(result, "iterations")
    assert iterations >= 4
    errors = sum((result.extra.get("errors") or {}).values())
    grouped = count(result, "http_reqs{group:::g}")
    assert grouped == iterations
    assert count(result, "http_reqs") == iterations * 3
    assert server.counts["/ok"] == iterations * 3
    assert "iterations{group:::g}" not in result.metrics
    odd = sum(1 for _ in range(int(iterations)))  # each VU's odd iterations threw: about half of all
    assert 0 < errors <= odd // 2 + 2


def test_a_script_that_never_waits_lets_the_run_end_on_time(tmp_path: Path) -> None:
    """Iterations that make no request never give the event loop back on their own: the batch
    ends every 256 iterations, so the duration and the ticker still rule."""
    result = run_js(
        tmp_path,
        """
        export const options = { scenarios: { s: { executor: 'constant-vus', vus: 2, duration: '1s' } } };
        export default function () { let x = 0; for (let i = 0; i < 100; i++) x += i; }
        """,
        {},
    )
    assert count(result, "iterations") > 1000
    assert result.duration_s < 5


@pytest.mark.parametrize("run_by", ["iterations: 6", "vus: 2, duration: '1s'"])
def test_an_async_iteration_ends_when_its_timers_and_promises_are_done(tmp_path: Path, server: RawServer, run_by: str) -> None:
    """As in k6, an async default function's iteration ends once its event loop is empty: a request
    after `await` of a timer belongs to the same iteration (it used to run in the next one, and
    the last iteration's never ran)."""
    result = run_js(
        tmp_path,
        """
        import http from 'k6/http';
        import { check } from 'k6';
        export const options = { RUN_BY };
        export default async function () {
          const v = await Promise.resolve(5);
          http.get(`${__ENV.BASE}/ok`);
          await new Promise((resolve) => setTimeout(resolve, 5));
          const r = http.get(`${__ENV.BASE}/ok`);
          check(r, { 'after the timer': (x) => x.status === 200 && v === 5 });
        }
        """.replace("RUN_BY", run_by),
        {"BASE": server.url},
    )
    iterations = count(result, "iterations")
    assert iterations >= (6 if run_by.startswith("iterations") else 4)
    assert count(result, "http_reqs") == iterations * 2
    assert result.checks[0].passes == iterations


@pytest.mark.parametrize("wait", ["http.get(`${__ENV.BASE}/stall`)", "sleep(3)"])
def test_an_async_iteration_cut_by_graceful_stop_is_interrupted_not_completed(tmp_path: Path, wait: str) -> None:
    """gracefulStop 0s ends each VU in a request or a sleep made after an `await` (in a promise
    job): the interruption rejects the async function's promise (no exception reaches Python),
    and the iteration counts as interrupted only, not also as completed."""
    with RawServer(stall_after=0) as server:
        result = run_js(
            tmp_path,
            """
            import http from 'k6/http';
            import { sleep } from 'k6';
            export const options = { scenarios: { s: { executor: 'constant-vus', vus: 2, duration: '1s', gracefulStop: '0s' } } };
            export default async function () {
              await Promise.resolve(1);
              WAIT;
            }
            """.replace("WAIT", wait),
            {"BASE": server.url},
        )
    assert result.extra.get("interrupted_iterations") == 2
    assert count(result, "iterations") == 0
    assert not result.extra.get("errors")
