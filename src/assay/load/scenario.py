"""The scenario types every loader produces and the runner executes: `LoadedScenario`, `ScenarioError`.

Loaders (assay.load.loaders) turn a Python, YAML or k6 JavaScript file into a LoadedScenario;
the runner only ever sees this structure. Its contract:
- `options` uses k6's keys (scenarios, thresholds, tags, shortcuts), checked by assay.load.options;
- `functions` maps every `exec` name used by `options["scenarios"]` (or "default") to an
  `async def fn(vu)` iteration function using `vu.http`, `vu.check`, `vu.group`, `vu.record`;
- `static_requests` names the functions whose whole iteration is one request nobody reads
  (quick mode, plain YAML steps): the runner may loop those on one connection instead;
- `setup`/`teardown` are optional (sync or async callables);
- `custom_metrics` declares metrics the thresholds may name (name -> (MetricType, Contains));
- bad input raises `ScenarioError` (a UsageError: exit 64) naming the file, line and key.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from assay.errors import UsageError
from assay.results import Contains, MetricType

if TYPE_CHECKING:
    from assay.load.http.static import StaticRequest

IterationFn = Callable[[Any], Awaitable[None] | None]


class ScenarioError(UsageError):
    """A scenario file that cannot be loaded or is inconsistent (exit 64, before any traffic)."""


@dataclass
class LoadedScenario:
    """Everything the runner needs: options, iteration functions, setup/teardown, custom metrics."""

    source: str
    format: str  # "python" | "yaml" | "quick" | "k6-js"
    options: dict[str, Any] = field(default_factory=dict)
    functions: dict[str, IterationFn] = field(default_factory=dict)
    setup: Callable[[], Any] | None = None
    teardown: Callable[[Any], Any] | None = None
    custom_metrics: dict[str, tuple[MetricType, Contains]] = field(default_factory=dict)
    # How to load this scenario again in another process (see load_from_spec).
    spec: dict[str, Any] = field(default_factory=dict)
    # k6's handleSummary(data) -> {"stdout" | "stderr" | path: content} (JS scripts)
    handle_summary: Callable[[dict[str, Any]], dict[str, str]] | None = None
    # function name -> the one request its iteration is, when nobody reads the response
    static_requests: dict[str, StaticRequest] = field(default_factory=dict)
    # acceptance scenario ids the file declares (`scenario:`, assay.acceptance), for the result's source
    acceptance_ids: list[str] = field(default_factory=list)
    # called with the run's options (command-line overrides applied) by apply_options: a k6 script
    # keeps what exec.scenario.executor, exec.test.options and noConnectionReuse read
    on_options: Callable[[dict[str, Any]], None] | None = None

    def apply_options(self, options: dict[str, Any]) -> None:
        """Make `options` (the file's, with the command line's overrides) the ones this scenario runs with."""
        self.options = options
        if self.on_options is not None:
            self.on_options(options)

    def function(self, name: str) -> IterationFn:
        try:
            return self.functions[name]
        except KeyError:
            known = ", ".join(sorted(self.functions)) or "none"
            raise ScenarioError(f"{self.source}: no iteration function {name!r} (defined: {known})") from None


async def call_maybe_async(fn: Callable[..., Any], *args: Any) -> Any:
    """Call a user hook that may be sync or async (setup, teardown, iteration functions)."""
    result = fn(*args)
    if inspect.isawaitable(result):
        return await result
    return result


def ensure_coroutine_function(fn: IterationFn) -> Callable[[Any], Awaitable[None]]:
    """Wrap a sync iteration function so executors always await one kind of thing."""
    if asyncio.iscoroutinefunction(fn):
        return fn  # type: ignore[return-value]

    async def _wrapped(vu: Any) -> None:
        result = fn(vu)
        if inspect.isawaitable(result):
            await result

    _wrapped.__name__ = getattr(fn, "__name__", "iteration")
    return _wrapped
