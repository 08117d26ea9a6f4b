"""The per-VU context every iteration function receives: `async def default(vu): ...`.

One `VU` object lives as long as its virtual user. It holds the VU's HTTP client (its own
keep-alive pool and cookie jar), per-VU `state`, the `setup()` data, the environment, and
the metric helpers. Everything a scenario records goes through the VU so the scenario,
group and custom tags are attached the way k6 attaches them.

    async def default(vu):
        res = await vu.http.get(vu.env["BASE"] + "/items", tags={"name": "list"})
        vu.check(res, {"status is 200": lambda r: r.status == 200})
        async with vu.group("create"):
            await vu.http.post(vu.env["BASE"] + "/items", json={"n": vu.iteration})
        await vu.sleep(0.1)

Interface for other parts of the load engine (YAML scenarios, WebSocket, delivery):
- `vu.http`: `assay.load.http.client.HttpClient` (get/post/put/patch/delete/head/options/request).
- `vu.check(value, {"name": predicate_or_bool}, tags=None) -> bool`, one `checks` sample per entry.
- `vu.group(name)`: usable as `with` and `async with`; records `group_duration`.
- `await vu.sleep(seconds)`.
- `vu.metric(name, "trend"|"counter"|"rate"|"gauge", contains="default"|"time"|"data")` -> a metric with `.add(value, tags=None)`.
- `vu.record(metric_name, value, tags=None)`: one sample of any metric, built-in (ws_*, ...) or declared.
- `vu.tags`: the tags every sample of this VU carries now (scenario, group, custom); a copy.
- `vu.id` (1-based, global within the worker's segment), `vu.id_in_scenario`, `vu.iteration`
  (0-based, per VU in this scenario), `vu.iteration_in_scenario` (shared iterations' global number),
  `vu.scenario` (name), `vu.state` (dict kept across iterations), `vu.data` (setup() result),
  `vu.env` (dict of environment variables: os.environ overlaid with `-e KEY=VAL` and scenario `env`).
- `vu.loop`: the running event loop (for clients that need it).
- `vu.ledger`: the run's delivery ledger (`assay.messaging.Ledger`; see assay.load.ledgered).
- `current_vu()`: the VU of the running task (module-level `Trend/Counter/Rate/Gauge` use it).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from assay.load.context import CURRENT_VU
from assay.load.custom_metrics import Counter, CustomMetric, Gauge, Rate, Trend, make_metric

if TYPE_CHECKING:
    from assay.load.http.client import HttpClient
    from assay.load.sink import MetricsSink
    from assay.messaging.ledger import Ledger

__all__ = ["VU", "Group", "current_vu", "Trend", "Counter", "Rate", "Gauge"]

def current_vu() -> VU | None:
    """The VU whose iteration is running in this task, or None outside iterations."""
    vu: VU | None = CURRENT_VU.get()
    return vu


_TAG_SETS: dict[tuple[tuple[str, str], ...], int] = {}


def _tag_set_id(key: tuple[tuple[str, str], ...]) -> int:
    """A small int per distinct tag set in this process (a cheap, collision-free series key)."""
    found = _TAG_SETS.get(key)
    if found is None:
        found = _TAG_SETS[key] = len(_TAG_SETS) + 1
    return found


YIELD_EVERY = 255  # a VU yields to the event loop after every 256th iteration (a mask)

class Group:
    """`with vu.group("name")` / `async with vu.group("name")`: nests the group tag, times it."""

    __slots__ = ("_vu", "_name", "_prev", "_start")

    def __init__(self, vu: VU, name: str) -> None:
        if "::" in name:
            raise ValueError(f"group name {name!r} may not contain '::'")
        self._vu = vu
        self._name = name
        self._prev = ""
        self._start = 0.0

    def __enter__(self) -> Group:
        vu = self._vu
        self._prev = vu._group
        vu._group = f"{self._prev}::{self._name}"
        vu._tags_cache = None
        self._start = time.perf_counter()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        vu = self._vu
        elapsed_ms = (time.perf_counter() - self._start) * 1000.0
        vu.record("group_duration", elapsed_ms)
        vu._group = self._prev
        vu._tags_cache = None

    async def __aenter__(self) -> Group:
        return self.__enter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(exc_type, exc, tb)


class VU:
    """A virtual user: one at a time runs its scenario's iteration function."""

    __slots__ = (
        "id",
        "id_in_scenario",
        "iteration",
        "iteration_in_scenario",
        "scenario",
        "http",
        "state",
        "data",
        "env",
        "loop",
        "sink",
        "_base_tags",
        "_group",
        "_tags_cache",
        "_tags_key",
        "_tags_version",
        "_token",
        "lateness",
        "iter_series",
    )

    def __init__(
        self,
        *,
        id: int,
        scenario: str,
        sink: MetricsSink,
        http: HttpClient,
        env: Mapping[str, str],
        data: Any = None,
        tags: Mapping[str, str] | None = None,
        id_in_scenario: int | None = None,
    ) -> None:
        self.id = id
        self.id_in_scenario = id_in_scenario if id_in_scenario is not None else id
        self.iteration = 0
        self.iteration_in_scenario = 0
        self.scenario = scenario
        self.sink = sink
        self.http = http
        self.env = dict(env)
        self.data = data
        self.state: dict[str, Any] = {}
        self.loop = asyncio.get_event_loop()
        self._base_tags: dict[str, str] = {"scenario": scenario, **(tags or {})}
        self._group = ""
        self._tags_cache: dict[str, str] | None = None
        self._tags_key: tuple[tuple[str, str], ...] = ()
        self._tags_version = 0
        self._token: Any = None
        # Seconds between the iteration's intended and actual start (arrival-rate executors), else -1.
        self.lateness = -1.0
        # (tag set id, iterations series, iteration_duration series): kept by the runner
        self.iter_series: Any = None
        http.bind(self)

    # -- tags ---------------------------------------------------------------------------------------

    @property
    def tags(self) -> dict[str, str]:
        """Tags every sample of this VU carries right now (a copy)."""
        return dict(self._current_tags())

    @property
    def group_path(self) -> str:
        """`""` at the root, `"::outer::inner"` inside nested groups (k6's group path)."""
        return self._group

    def _current_tags(self) -> dict[str, str]:
        cached = self._tags_cache
        if cached is None:
            cached = dict(self._base_tags)
            cached["group"] = self._group
            self._tags_cache = cached
            self._tags_key = tuple(sorted(cached.items()))
            self._tags_version = _tag_set_id(self._tags_key)
        return cached

    def tags_key(self) -> tuple[tuple[tuple[str, str], ...], dict[str, str]]:
        """A hashable key of the current tags and the tags themselves (for the metrics fast path)."""
        tags = self._current_tags()
        return self._tags_key, tags

    def set_tag(self, key: str, value: str) -> None:
        """Add a custom tag to every later sample of this VU (k6's `exec.vu.tags[key] = value`)."""
        self._base_tags[key] = str(value)
        self._tags_cache = None

    # -- the scenario API -----------------------------------------------------------------------------

    @property
    def ledger(self) -> Ledger:
        """The run's delivery ledger (assay.messaging): one per worker, created on first use."""
        from assay.load.ledgered import run_ledger

        return run_ledger(self.sink)

    def check(self, value: Any, checks: Mapping[str, Callable[[Any], Any] | Any], tags: Mapping[str, str] | None = None) -> bool:
        """Run each named predicate on `value`; record one `checks` sample each; True if all pass.

        A predicate that raises counts as a failed check, never as a crash; the error is
        reported once in the summary with how often it happened.
        """
        all_ok = True
        base = self._current_tags()
        for name, predicate in checks.items():
            if callable(predicate):
                try:
                    ok = bool(predicate(value))
                except Exception as exc:
                    ok = False
                    self.sink.add_check_error(f"{self._group}::{name}", exc)
            else:
                ok = bool(predicate)
            self.sink.add_check(name, self._group, ok, base if not tags else {**base, **tags})
            all_ok = all_ok and ok
        return all_ok

    def group(self, name: str) -> Group:
        return Group(self, name)

    async def sleep(self, seconds: float) -> None:
        if seconds > 0:
            await asyncio.sleep(seconds)

    def metric(self, name: str, kind: str, contains: str = "default") -> CustomMetric:
        """A custom metric bound to this run (declared now if it was not declared at import)."""
        metric = make_metric(name, kind, contains)
        self.sink.declare(name, metric.type, metric.contains)
        return metric

    def record(self, metric_name: str, value: float, tags: Mapping[str, str] | None = None) -> None:
        """One sample of `metric_name` (built-in such as ws_msgs_sent, or a declared custom metric)."""
        base = self._current_tags()
        self.sink.add(metric_name, value, base if not tags else {**base, **tags})

    # -- used by executors ------------------------------------------------------------------------------

    def count_iteration(self, elapsed_ms: float) -> None:
        """Count one finished iteration in the `iterations` and `iteration_duration` series of the
        VU's tags, outside any group as k6 tags them (the series is cached per tag set)."""
        if self._group:
            self._group = ""
            self._tags_cache = None
        if self._tags_cache is None:
            self.tags_key()
        cached = self.iter_series
        if cached is None or cached[0] != self._tags_version:
            key, tags = self.tags_key()
            sink = self.sink
            cached = self.iter_series = (self._tags_version, sink.get_series("iterations", tags, key), sink.get_series("iteration_duration", tags, key))
        it_series = cached[1]
        it_series.count += 1
        it_series.sum += 1.0
        cached[2].buf.append(elapsed_ms)
        self.iteration += 1


    def activate(self) -> None:
        """Make this the current VU of the running task (for module-level custom metrics)."""
        self._token = CURRENT_VU.set(self)

    def __repr__(self) -> str:
        return f"VU(id={self.id}, scenario={self.scenario!r}, iteration={self.iteration})"
