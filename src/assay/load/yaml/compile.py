"""Compile a YAML scenario (assay.load.spec.ScenarioFile) into iteration functions for the engine.

The file is checked completely before any traffic: its shape (pydantic, with file, line
and key), then every template name, JSON path, regex, data file, threshold and `exec`
name, each error located on the line that holds it. What comes out is a LoadedScenario
whose functions are closures doing no parsing at run time: constant URLs, headers and
bodies are built once, and each request costs one call into `vu.http.request`.

Semantics, in k6's words:
- `requests` (or `flow`) is the iteration of scenarios without `exec`; `flows.NAME` is the
  iteration of scenarios with `exec: NAME`.
- A list whose entries all carry `weight` runs ONE entry per iteration, chosen with
  probability weight/sum (40/30/20/10); a list without weights runs every entry in order.
  Mixing the two in one list is an error. An entry with `flow:` is a sub-list, so a
  weighted choice can pick a whole create-then-read sequence.
- `capture` stores values from a response in the iteration's scope; later requests of the
  same iteration use them as `{{ name }}`. A capture that finds nothing (and has no
  `default`) stops the iteration, which the engine counts as an iteration error.
- `check` records k6 checks named '<request name>: <what>' (e.g. 'create: status is 201').
- Each request is tagged `name` (default 'METHOD url-template') so thresholds can use
  sub-metrics such as `http_req_duration{name:create}`.
- A step with `ws:` is a WebSocket session (assay.load.ws): its `session` actions send
  text or JSON, await messages (`expect`, a k6 check; with a send, the reply's latency is
  `ws_msg_latency`), capture from them, ping and sleep, in order, then the socket closes.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from difflib import get_close_matches
from functools import partial
from pathlib import Path
from typing import Any

from assay.config import ConfigError, KeyPath, key_positions, parse_config, read_text
from assay.load.engine_options import ENGINE_METRICS
from assay.load.http.static import StaticRequest
from assay.load.scenario import IterationFn, LoadedScenario, ScenarioError
from assay.load.sink import CORRECTED
from assay.load.spec import Flow, Options, Request, ScenarioFile, SubscribeStep, WsStep
from assay.load.ws import MSG_LATENCY
from assay.load.yaml.checks import CaptureError
from assay.load.yaml.context import CompileContext, Compiled, Runner, group_name, think_time, wrap_step
from assay.load.yaml.data import DataSource, WeightedChoice, load_rows
from assay.load.yaml.http_steps import compile_request
from assay.load.yaml.subscribe_steps import compile_subscribe
from assay.load.yaml.template import (
    FUNCTION_ROOTS,
    Names,
    Scope,
    TemplateError,
    compile_template,
    compile_value,
)
from assay.load.yaml.ws_steps import compile_ws_step
from assay.messaging.verdict import LEDGER_METRICS
from assay.results import BUILTIN_METRICS, Contains, MetricType, parse_metric_name
from assay.thresholds import ThresholdError, validate_threshold

# Metrics a YAML file may put thresholds on: k6's built-ins and the engine's corrected latency.
KNOWN_METRICS: dict[str, tuple[MetricType, Contains]] = {
    **BUILTIN_METRICS,
    CORRECTED: (MetricType.TREND, Contains.TIME),
    MSG_LATENCY: (MetricType.TREND, Contains.TIME),
    **ENGINE_METRICS,
    **LEDGER_METRICS,
}

__all__ = ["load_yaml_scenario", "compile_scenario", "YamlScenarioError", "CaptureError"]


class YamlScenarioError(ConfigError, ScenarioError):
    """A YAML scenario that cannot run; one located line per problem (exit 64, before any traffic)."""


def load_yaml_scenario(path: Path, *, env: Mapping[str, str] | None = None) -> LoadedScenario:
    """Read, validate and compile a YAML scenario file; raises YamlScenarioError (exit 64)."""
    text = read_text(path)
    try:
        spec = parse_config(text, ScenarioFile, source=str(path), fmt="yaml")
    except ConfigError as exc:
        raise YamlScenarioError(exc.issues) from None
    return compile_scenario(spec, source=str(path), base_dir=path.parent, positions=key_positions(text, "yaml"), env=env)


def compile_scenario(
    spec: ScenarioFile,
    *,
    source: str = "<scenario>",
    base_dir: Path | None = None,
    positions: Mapping[KeyPath, tuple[int, int]] | None = None,
    env: Mapping[str, str] | None = None,
) -> LoadedScenario:
    """Turn a validated ScenarioFile into a LoadedScenario (options + iteration functions)."""
    return Compiler(spec, source, base_dir or Path.cwd(), dict(positions or {}), dict(env or {})).build()


class Compiler(CompileContext):
    """One pass over a ScenarioFile: every problem is collected (located), then raised together."""

    def __init__(
        self, spec: ScenarioFile, source: str, base_dir: Path, positions: dict[KeyPath, tuple[int, int]], env: dict[str, str]
    ) -> None:
        super().__init__(source, positions)
        self.spec = spec
        self.base_dir = base_dir
        self.env = env

    # -- the whole file -----------------------------------------------------------------------------------------

    def build(self) -> LoadedScenario:
        spec = self.spec
        options = self.options()
        self.load_data()
        names = self.base_names()
        variables = self.variables(names)
        base_url = self.base_url(names)
        default_headers = dict(spec.headers or {})
        functions: dict[str, IterationFn] = {}
        static_requests: dict[str, StaticRequest] = {}
        flows: list[tuple[str, KeyPath, Sequence[Request | Flow | WsStep | SubscribeStep]]] = []
        steps: Sequence[Request | Flow | WsStep | SubscribeStep]
        if spec.requests:
            key = "flow" if ("flow",) in self.positions else "requests"
            flows.append(("default", (key,), spec.requests))
        for fname, steps in (spec.flows or {}).items():
            flows.append((fname, ("flows", fname), steps))
        think_end = self.guard(("think_time",), lambda: think_time(spec.think_time))
        iteration_names = names.with_names({v: None for v in variables})
        for fname, path, steps in flows:
            run = self.block(steps, path, iteration_names, base_url, default_headers)
            if run is not None:
                functions[fname] = self.iteration(run.run, variables, think_end)
                if run.static is not None and think_end is None and self.is_plain(variables):
                    # the whole iteration is one fixed request whose response nobody reads
                    static_requests[fname] = run.static
        self.check_exec_names(functions)
        self.apply_profile(options, functions)
        if options.get("discardResponseBodies") and self.reads_body:
            self.issue(
                ("options", "discardResponseBodies"),
                "discardResponseBodies drops the bodies that these captures and checks read: " + ", ".join(self.reads_body[:3]),
            )
        if self.issues:
            raise YamlScenarioError(self.issues)
        return LoadedScenario(
            source=self.source,
            format="yaml",
            options=options,
            functions=functions,
            static_requests=static_requests,
            custom_metrics={MSG_LATENCY: (MetricType.TREND, Contains.TIME)},
        )

    # -- options --------------------------------------------------------------------------------------------------

    def options(self) -> dict[str, Any]:
        spec = self.spec
        options: dict[str, Any] = {}
        if spec.options is not None:
            self.check_thresholds(spec.options)
            options = spec.options.model_dump(by_alias=True, exclude_none=True, exclude_unset=True)
        return options

    def apply_profile(self, options: dict[str, Any], functions: Mapping[str, Any]) -> None:
        """`profile: stress` (or {name, vus, duration, rate}) becomes one scenario per flow."""
        from assay.errors import UsageError
        from assay.load.profiles import expand_profile
        from assay.load.spec import Profile

        prof = self.spec.profile
        if prof is None:
            return
        if isinstance(prof, str):
            prof = Profile(name=prof)  # type: ignore[arg-type]
        duration = prof.duration
        if isinstance(duration, int | float):
            duration = f"{duration}s"
        try:
            scenario = expand_profile(prof.name, vus=prof.vus, duration=duration, rate=prof.rate)
        except UsageError as exc:
            self.issue(("profile",), exc.message)
            return
        scenarios: dict[str, Any] = {}
        for fname in sorted(functions):
            entry = dict(scenario)
            if fname != "default":
                entry["exec"] = fname
            scenarios[prof.name if len(functions) == 1 else f"{prof.name}-{fname}"] = entry
        options["scenarios"] = scenarios

    def check_thresholds(self, options: Options) -> None:
        for key, entries in (options.thresholds or {}).items():
            path: KeyPath = ("options", "thresholds", key)
            try:
                base, _tags = parse_metric_name(key)
            except ValueError as exc:
                self.issue(path, str(exc))
                continue
            if base not in KNOWN_METRICS:
                if options.scrape is not None:
                    continue  # perhaps the service's own: checked after the scrape before the run (options.py)
                close = get_close_matches(base, list(KNOWN_METRICS), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                self.issue(path, f"unknown metric {base!r}{hint}")
                continue
            mtype = KNOWN_METRICS[base][0]
            listed = entries if isinstance(entries, list) else [entries]
            for i, entry in enumerate(listed):
                expr = entry if isinstance(entry, str) else entry.threshold
                try:
                    validate_threshold(key, mtype, expr)
                except ThresholdError as exc:
                    self.issue((*path, i) if isinstance(entries, list) else path, exc.message)

    def check_exec_names(self, functions: Mapping[str, Any]) -> None:
        options = self.spec.options
        scenarios = options.scenarios if options is not None and options.scenarios else {}
        for sname, sc in scenarios.items():
            named = "exec" in sc.model_fields_set  # without `exec`, k6 runs the default function (`requests`)
            fname = sc.exec
            if fname not in functions:
                known = sorted(functions)
                close = get_close_matches(fname, known, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else f"; flows defined: {', '.join(known) or 'none'}"
                where = ("options", "scenarios", sname, "exec") if named else ("options", "scenarios", sname)
                what = f"exec {fname!r} names no flow" if named else "this scenario runs `requests`, which the file does not have"
                self.issue(where, f"{what}{hint}")

    # -- names, variables, data -------------------------------------------------------------------------------------

    def load_data(self) -> None:
        for name, df in (self.spec.data or {}).items():
            path = Path(df.file)
            if not path.is_absolute():
                path = self.base_dir / path
            try:
                rows = load_rows(path)
            except TemplateError as exc:
                self.issue(("data", name, "file"), str(exc))
                continue
            self.data[name] = DataSource(name, rows, df.mode, df.order)

    def base_names(self) -> Names:
        fields: dict[str, set[str] | None] = {"vu": None, "env": None}
        for name, src in self.data.items():
            fields[name] = src.columns
        for name in self.spec.data or {}:
            fields.setdefault(name, None)
        return Names(fields)

    def variables(self, names: Names) -> dict[str, Any]:
        """Variables in file order; each may use the ones before it (and data, vu, env)."""
        out: dict[str, Any] = {}
        scope_names = names
        for key, raw in (self.spec.variables or {}).items():
            if key in names.fields or key in FUNCTION_ROOTS:
                self.issue(("variables", key), f"variable {key!r} hides the built-in or data name of the same name")
                continue
            value = self.guard(("variables", key), partial(compile_value, raw, scope_names, f"variable {key}"))
            if value is None:
                continue
            self.used_roots |= value.roots
            out[key] = value
            scope_names = scope_names.with_names({key: None})
        return out

    def base_url(self, names: Names) -> Any:
        if not self.spec.base_url:
            return ""
        t = self.guard(("base_url",), lambda: compile_template(self.spec.base_url or "", names, "base_url"))
        if t is None:
            return ""
        if t.is_constant:
            url = str(t.constant)
        elif t.roots <= {"env"} and "random." not in t.source and "time." not in t.source:
            url = str(t.render({"env": {**os.environ, **self.env}}))
        else:
            self.used_roots |= t.roots
            return t
        if not url.startswith(("http://", "https://")):
            shown = f"{url!r} (from {t.source!r}: is the variable set?)" if url != t.source else repr(url)
            self.issue(("base_url",), f"base_url must start with http:// or https://, got {shown}")
        return url.rstrip("/")

    # -- flows --------------------------------------------------------------------------------------------------------

    def block(
        self, steps: Sequence[Request | Flow | WsStep | SubscribeStep], path: KeyPath, names: Names, base_url: Any, headers: dict[str, str]
    ) -> Compiled | None:
        weighted = [s.weight is not None for s in steps]
        if any(weighted) and not all(weighted):
            missing = [i for i, w in enumerate(weighted) if not w]
            self.issue(
                (*path, missing[0]),
                "every entry of a weighted list needs a `weight` (weights choose one entry per iteration; "
                "without weights every entry runs in order)",
            )
            return None
        if all(weighted) and steps:
            compiled = [self.step(s, (*path, i), names, base_url, headers) for i, s in enumerate(steps)]
            if any(c is None for c in compiled):
                return None
            weights = [float(s.weight or 0) for s in steps]
            if sum(weights) <= 0:
                self.issue(path, "the weights add up to 0; give at least one entry a weight above 0")
                return None
            chooser = WeightedChoice([c.run for c in compiled if c is not None], weights)
            defines = frozenset.intersection(*(c.defines for c in compiled if c is not None))

            async def choose(vu: Any, scope: Scope) -> None:
                await chooser.pick()(vu, scope)

            return Compiled(choose, defines)
        runs: list[Runner] = []
        defined: set[str] = set()
        only: Compiled | None = None
        ok = True
        for i, s in enumerate(steps):
            c = self.step(s, (*path, i), names.with_names({d: None for d in defined}), base_url, headers)
            if c is None:
                ok = False
                continue
            runs.append(c.run)
            only = c
            defined |= c.defines
        if not ok:
            return None
        if len(runs) == 1:
            return Compiled(runs[0], frozenset(defined), only.static if only is not None else None)
        sequence = tuple(runs)

        async def in_order(vu: Any, scope: Scope) -> None:
            for run in sequence:
                await run(vu, scope)

        return Compiled(in_order, frozenset(defined))

    def step(self, step: Request | Flow | WsStep | SubscribeStep, path: KeyPath, names: Names, base_url: Any, headers: dict[str, str]) -> Compiled | None:
        if isinstance(step, Flow):
            inner = self.block(step.flow, (*path, "flow"), names, base_url, headers)
            think = self.guard((*path, "think_time"), lambda: think_time(step.think_time))
            group = self.guard((*path, "group"), lambda: group_name(step.group))
            if inner is None:
                return None
            run = wrap_step(inner.run, group, think)
            return Compiled(run, inner.defines, inner.static if run is inner.run else None)
        if isinstance(step, WsStep):
            return compile_ws_step(self, step, path, names, base_url)
        if isinstance(step, SubscribeStep):
            return compile_subscribe(self, step, path, names, base_url)
        return compile_request(self, step, path, names, base_url, headers)

    # -- the iteration --------------------------------------------------------------------------------------------------

    def iteration(
        self, run: Runner, variables: dict[str, Any], think_end: Callable[[], float] | None
    ) -> Callable[[Any], Awaitable[None]]:
        constants = {k: v.constant for k, v in variables.items() if v.is_constant}
        dynamic = [(k, v.render) for k, v in variables.items() if not v.is_constant]
        used = self.used_roots | {r for v in variables.values() for r in v.roots}
        sources = [(name, src) for name, src in self.data.items() if name in used]

        async def iteration(vu: Any) -> None:
            scope: Scope = dict(constants)
            scope["vu"] = vu
            scope["env"] = vu.env
            for name, src in sources:
                scope[name] = src.row_for(vu.id)
            for key, render in dynamic:
                scope[key] = render(scope)
            await run(vu, scope)
            if think_end is not None:
                await vu.sleep(think_end())

        return iteration

    def is_plain(self, variables: dict[str, Any]) -> bool:
        """True when an iteration sets nothing up per run: no variable to render, no data row to take."""
        used = self.used_roots | {r for v in variables.values() for r in v.roots}
        return all(v.is_constant for v in variables.values()) and not any(name in used for name in self.data)
