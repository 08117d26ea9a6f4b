"""`load_js_scenario(path, env)`: a k6 script as a LoadedScenario, like Python and YAML ones.

The script is bundled (local imports), checked against the API assay runs (unsupported
names fail here with file and line: exit 64, before any traffic), and evaluated once in an
init context to read `export const options`, the exported functions and the custom metrics
its init code declares. Each VU later gets its own context (k6's VU isolation), created on
the VU's first iteration.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import quickjs

from assay.errors import AssayError
from assay.load.js.runtime import AbortTest, JsContext, JsError, Program
from assay.load.js.source import Bundle, bundle
from assay.load.js.support import verdict
from assay.load.js.vu_loop import JsLoop
from assay.load.options import scenario_configs
from assay.load.scenario import LoadedScenario, ScenarioError
from assay.results import Contains, MetricType

HOOKS = ("setup", "teardown", "handleSummary")
_STATE_KEY = "_k6js_context"


def check_support(b: Bundle) -> None:
    """Raise a located ScenarioError for the first use of an API assay does not run."""
    for use in b.uses:
        if use.module == "global":
            continue
        ok, note = verdict(use.module, use.name)
        if not ok:
            what = use.module if use.name is None else f"{use.module}.{use.name}"
            raise ScenarioError(f"{use.file}:{use.line}: {what} is not supported by assay: {note}")


def load_js_scenario(path: Path, *, env: Mapping[str, str]) -> LoadedScenario:
    b = bundle(path)
    check_support(b)
    program = Program(b)
    try:
        init = JsContext(program, env=env)
        options = json.loads(init.ctx.get("__options")())
        exported = json.loads(init.ctx.get("__exportedFunctions")())
    except JsError as exc:
        raise ScenarioError(f"{path}: the script's init code failed: {exc}") from None
    except quickjs.JSException as exc:
        raise ScenarioError(f"{path}: the script's init code failed: {program.error(exc)}") from None
    if not isinstance(options, dict):
        raise ScenarioError(f"{path}: `export const options` must be an object")
    # response bodies are kept by the client and dropped here, so params.responseType can still ask for one
    program.options_json = json.dumps(options)  # exec.test.options: the script's own, as k6 shows them
    program.discard_bodies = bool(options.pop("discardResponseBodies", False))
    program.no_reuse = bool(options.get("noConnectionReuse", False))
    program.keep_cookies = bool(options.pop("noCookiesReset", False))  # k6 empties the VU's jar each iteration
    program.scenarios = dict(options.get("scenarios") or {})
    program.exported = exported
    functions = {name: _iteration(program, name) for name in exported if name not in HOOKS}
    custom = {
        name: (MetricType(kind), Contains.TIME if is_time else Contains.DEFAULT)
        for name, (kind, is_time) in program.metrics.items()
    }
    loaded = LoadedScenario(
        source=str(path),
        format="k6-js",
        options=options,
        functions=functions,  # type: ignore[arg-type]
        setup=_setup(program) if "setup" in exported else None,
        teardown=_teardown(program) if "teardown" in exported else None,
        custom_metrics=custom,
    )
    if "handleSummary" in exported:
        loaded.handle_summary = _handle_summary(program, env)
    program.executors = _executors(loaded)
    loaded.on_options = lambda run_options: _run_options(program, loaded, run_options)
    return loaded


def _run_options(program: Program, loaded: LoadedScenario, options: dict[str, Any]) -> None:
    """The run's options (the script's with the command line's overrides, in this process or a
    worker's): exec.test.options shows them as k6 consolidates them, exec.scenario.executor
    follows a `-d`/`-i`/`-s` that replaced the script's scenarios, and --no-connection-reuse applies."""
    own = json.loads(program.options_json)
    kept = {k: own[k] for k in ("discardResponseBodies", "noCookiesReset") if k in own}  # the loader took these out
    program.options_json = json.dumps({**options, **kept})
    program.no_reuse = bool(options.get("noConnectionReuse", False))
    program.executors = _executors(loaded)


def _executors(loaded: LoadedScenario) -> dict[str, str]:
    """Scenario name -> executor, k6's shortcut options included (`{vus, iterations}` is the
    shared-iterations scenario 'default'), for exec.scenario.executor. Bad options are reported
    when the run's plan is built."""
    try:  # the scenarios only: a whole plan would also scrape options.scrape's targets
        return {cfg.name: cfg.executor for cfg in scenario_configs(loaded.options, loaded.source)}
    except AssayError:
        return {}


def _context(program: Program, vu: Any) -> JsContext:
    ctx: JsContext | None = vu.state.get(_STATE_KEY)
    if ctx is None:
        ctx = vu.state[_STATE_KEY] = JsContext(program, vu=vu)
    return ctx


def _iteration(program: Program, name: str) -> Any:
    async def iteration(vu: Any) -> None:
        ctx: JsContext | None = vu.state.get(_STATE_KEY)
        if ctx is None or not ctx.ready:
            ctx = _context(program, vu)
            ctx.prepare()
        run = ctx._runners.get(name) or ctx.runner(name)
        if ctx.responses:
            ctx.responses.clear()
            ctx.kinds.clear()
        try:
            if await ctx.driver.run(run, vu.id, vu.iteration) is not None:
                await ctx.settle()  # an async default function's promise
        except quickjs.JSException as exc:
            failure = ctx.failure(exc)
            if isinstance(failure, AbortTest):
                return  # the run is stopping; as in k6 the aborting iteration is not an error
            raise failure from None
        finally:
            if ctx._groups:
                while ctx._groups:
                    ctx._groups.pop().__exit__(None, None, None)

    async def run_many(vu: Any, end_at: float, worker: Any, flags: dict[str, bool] | None) -> bool:
        """Iterations back to back in the VU's greenlet (assay.load.js.vu_loop), for closed-model
        executors; False when this script must run them one at a time (noConnectionReuse), or
        when the VU's init code fails: the general path then counts that error each iteration."""
        if program.no_reuse:
            return False
        ctx: JsContext | None = vu.state.get(_STATE_KEY)
        if ctx is None or not ctx.ready:
            try:
                ctx = _context(program, vu)
                ctx.prepare()
            except (JsError, quickjs.JSException):
                vu.state.pop(_STATE_KEY, None)
                return False
        loop = ctx.loops.get(name)
        if loop is None:
            loop = ctx.loops[name] = JsLoop(ctx, ctx.runner(name), name)
        await loop.run_batch(end_at, worker, flags)
        return True

    iteration.__name__ = name
    iteration.run_many = run_many  # type: ignore[attr-defined]
    return iteration


def _setup(program: Program) -> Any:
    async def setup(vu: Any) -> Any:
        ctx = _context(program, vu)
        try:
            return await ctx.call("setup")
        except quickjs.JSException as exc:
            raise ctx.failure(exc) from None

    return setup


def _teardown(program: Program) -> Any:
    async def teardown(data: Any, vu: Any) -> Any:
        ctx = _context(program, vu)
        try:
            return await ctx.call("teardown", data)
        except quickjs.JSException as exc:
            raise ctx.failure(exc) from None

    return teardown


def _handle_summary(program: Program, env: Mapping[str, str]) -> Any:
    def handle_summary(data: dict[str, Any]) -> dict[str, str]:
        """handleSummary(data) -> {"stdout" | "stderr" | path: content}."""

        ctx = JsContext(program, env=env)
        try:
            out = asyncio.run(ctx.call("handleSummary", data))
        except quickjs.JSException as exc:
            raise ctx.failure(exc) from None
        if out is None:
            return {}
        if not isinstance(out, dict):
            raise JsError(f"handleSummary must return an object of output -> content, got {type(out).__name__}")
        return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in out.items()}

    return handle_summary
