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

import json
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from difflib import get_close_matches
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from assay.config import ConfigError, ConfigIssue, KeyPath, key_positions, parse_config, read_text
from assay.load.http.client import FrozenTags, StaticRequest
from assay.load.scenario import IterationFn, LoadedScenario, ScenarioError
from assay.load.sink import CORRECTED
from assay.load.spec import (
    Check,
    Expect,
    Flow,
    HeaderCapture,
    JsonCapture,
    Options,
    RegexCapture,
    Request,
    ScenarioFile,
    ThinkRange,
    WsAction,
    WsStep,
)
from assay.load.templating import (
    _MISSING,
    FUNCTION_ROOTS,
    CaptureError,
    DataSource,
    Extract,
    Names,
    Predicate,
    Reply,
    Scope,
    TemplateError,
    WeightedChoice,
    body_contains_check,
    body_matches_check,
    compile_capture,
    compile_expectation,
    compile_template,
    compile_value,
    header_getter,
    json_getter,
    latency_check,
    load_rows,
    parse_seconds,
    status_check,
)
from assay.load.ws import MSG_LATENCY, WsError, WsSession, ws_connect
from assay.messaging.verdict import LEDGER_METRICS
from assay.results import BUILTIN_METRICS, Contains, MetricType, parse_metric_name
from assay.thresholds import ThresholdError, validate_threshold

# Metrics a YAML file may put thresholds on: k6's built-ins and the engine's corrected latency.
KNOWN_METRICS: dict[str, tuple[MetricType, Contains]] = {
    **BUILTIN_METRICS,
    CORRECTED: (MetricType.TREND, Contains.TIME),
    MSG_LATENCY: (MetricType.TREND, Contains.TIME),
    **LEDGER_METRICS,
}

__all__ = ["load_yaml_scenario", "compile_scenario", "YamlScenarioError", "CaptureError"]

Runner = Callable[[Any, Scope], Awaitable[None]]


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
    return _Compiler(spec, source, base_dir or Path.cwd(), dict(positions or {}), dict(env or {})).build()


# --- compiled pieces --------------------------------------------------------------------------------------------


@dataclass
class _Compiled:
    """A compiled step: how to run it, and the capture names it surely defines."""

    run: Runner
    defines: frozenset[str]


def _think(value: Any) -> Callable[[], float] | None:
    if value is None:
        return None
    if isinstance(value, ThinkRange):
        lo, hi = parse_seconds(value.min), parse_seconds(value.max)
        if hi < lo:
            raise TemplateError(f"think_time max ({value.max}) is below min ({value.min})")
        import random

        return lambda: random.uniform(lo, hi)
    seconds = parse_seconds(value)
    if seconds <= 0:
        return None
    return lambda: seconds


class _Compiler:
    def __init__(
        self, spec: ScenarioFile, source: str, base_dir: Path, positions: dict[KeyPath, tuple[int, int]], env: dict[str, str]
    ) -> None:
        self.spec = spec
        self.source = source
        self.base_dir = base_dir
        self.positions = positions
        self.env = env
        self.issues: list[ConfigIssue] = []
        self.data: dict[str, DataSource] = {}
        self.used_roots: set[str] = set()
        self.reads_body: list[str] = []

    # -- errors ---------------------------------------------------------------------------------------------

    def issue(self, path: KeyPath, message: str) -> None:
        line = col = None
        for n in range(len(path), -1, -1):
            if path[:n] in self.positions:
                line, col = self.positions[path[:n]]
                break
        self.issues.append(ConfigIssue(self.source, line, col, path, message))

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
        flows: list[tuple[str, KeyPath, Sequence[Request | Flow | WsStep]]] = []
        steps: Sequence[Request | Flow | WsStep]
        if spec.requests:
            key = "flow" if ("flow",) in self.positions else "requests"
            flows.append(("default", (key,), spec.requests))
        for fname, steps in (spec.flows or {}).items():
            flows.append((fname, ("flows", fname), steps))
        think_end = self.guard(("think_time",), lambda: _think(spec.think_time))
        iteration_names = names.with_names({v: None for v in variables})
        for fname, path, steps in flows:
            run = self.block(steps, path, iteration_names, base_url, default_headers)
            if run is not None:
                functions[fname] = self.iteration(run.run, variables, think_end)
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
            custom_metrics={MSG_LATENCY: (MetricType.TREND, Contains.TIME)},
        )

    def guard(self, path: KeyPath, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except TemplateError as exc:
            self.issue(path, str(exc))
            return None

    # -- options --------------------------------------------------------------------------------------------------

    def options(self) -> dict[str, Any]:
        spec = self.spec
        options: dict[str, Any] = {}
        if spec.options is not None:
            self.check_thresholds(spec.options)
            options = spec.options.model_dump(by_alias=True, exclude_none=True)
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
            fname = sc.exec or "default"
            if fname not in functions:
                known = sorted(functions)
                close = get_close_matches(fname, known, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else f"; flows defined: {', '.join(known) or 'none'}"
                where = ("options", "scenarios", sname, "exec") if sc.exec else ("options", "scenarios", sname)
                what = f"exec {fname!r} names no flow" if sc.exec else "this scenario runs `requests`, which the file does not have"
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
        self, steps: Sequence[Request | Flow | WsStep], path: KeyPath, names: Names, base_url: Any, headers: dict[str, str]
    ) -> _Compiled | None:
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

            return _Compiled(choose, defines)
        runs: list[Runner] = []
        defined: set[str] = set()
        ok = True
        for i, s in enumerate(steps):
            c = self.step(s, (*path, i), names.with_names({d: None for d in defined}), base_url, headers)
            if c is None:
                ok = False
                continue
            runs.append(c.run)
            defined |= c.defines
        if not ok:
            return None
        if len(runs) == 1:
            return _Compiled(runs[0], frozenset(defined))
        sequence = tuple(runs)

        async def in_order(vu: Any, scope: Scope) -> None:
            for run in sequence:
                await run(vu, scope)

        return _Compiled(in_order, frozenset(defined))

    def step(self, step: Request | Flow | WsStep, path: KeyPath, names: Names, base_url: Any, headers: dict[str, str]) -> _Compiled | None:
        if isinstance(step, Flow):
            inner = self.block(step.flow, (*path, "flow"), names, base_url, headers)
            think = self.guard((*path, "think_time"), lambda: _think(step.think_time))
            group = self.guard((*path, "group"), lambda: _group_name(step.group))
            if inner is None:
                return None
            return _Compiled(_wrap(inner.run, group, think), inner.defines)
        if isinstance(step, WsStep):
            return self.ws_step(step, path, names, base_url)
        return self.request(step, path, names, base_url, headers)

    def request(self, req: Request, path: KeyPath, names: Names, base_url: Any, default_headers: dict[str, str]) -> _Compiled | None:
        n_issues = len(self.issues)
        name = req.name or f"{req.method} {req.url}"
        url = self.guard((*path, "url"), lambda: compile_template(req.url, names, "url"))
        query = self.guard((*path, "query"), lambda: compile_value(req.query, names, "query")) if req.query else None
        all_headers = {**default_headers, **(req.headers or {})}
        hdrs = self.guard((*path, "headers"), lambda: compile_value(all_headers, names, "headers")) if all_headers else None
        body = None
        content_type = None
        if req.json_ is not None:
            body = self.guard((*path, "json"), lambda: compile_value(req.json_, names, "json"))
            content_type = "application/json"
        elif req.body is not None:
            body = self.guard((*path, "body"), lambda: compile_template(req.body or "", names, "body"))
        captures: list[tuple[str, Extract]] = []
        for var, cap in (req.capture or {}).items():
            where = (*path, "capture", var)
            if var in ("vu", "env") or var in FUNCTION_ROOTS or var in self.data:
                self.issue(where, f"capture name {var!r} would hide the built-in or data name of the same name")
                continue
            if not isinstance(cap, HeaderCapture):
                self.reads_body.append(f"{name} capture {var}")
            extract = self.guard(where, partial(_capture, var, cap))
            if extract is not None:
                captures.append((var, extract))
        checks = self.checks(req.check, (*path, "check"), name, names) if req.check is not None else {}
        think = self.guard((*path, "think_time"), lambda: _think(req.think_time))
        timeout = parse_seconds(req.timeout) if req.timeout is not None else None
        group = self.guard((*path, "group"), lambda: _group_name(req.group))
        if len(self.issues) > n_issues or url is None:
            return None
        for part in (url, query, hdrs, body):
            if part is not None:
                self.used_roots |= part.roots
        tags = {**(req.tags or {}), "name": name}
        send = _sender(req.method, base_url, url, query, hdrs, body, content_type, tags, timeout)
        run = _request_runner(send, checks, captures, think)
        return _Compiled(_wrap(run, group, None), frozenset(v for v, _ in captures))

    def ws_step(self, st: WsStep, path: KeyPath, names: Names, base_url: Any) -> _Compiled | None:
        n_issues = len(self.issues)
        name = st.name or st.ws
        url = self.guard((*path, "ws"), lambda: compile_template(st.ws, names, "ws"))
        hdrs = self.guard((*path, "headers"), lambda: compile_value(st.headers, names, "headers")) if st.headers else None
        connect_timeout = parse_seconds(st.timeout) if st.timeout is not None else 10.0
        group = self.guard((*path, "group"), lambda: _group_name(st.group))
        think = self.guard((*path, "think_time"), lambda: _think(st.think_time))
        actions: list[WsRun] = []
        defined: set[str] = set()
        for i, act in enumerate(st.session):
            made = self.ws_action(act, (*path, "session", i), names.with_names({d: None for d in defined}), name, i)
            if made is not None:
                actions.append(made[0])
                defined |= made[1]
        if len(self.issues) > n_issues or url is None:
            return None
        for part in (url, hdrs):
            if part is not None:
                self.used_roots |= part.roots
        url_fn = _ws_url(base_url, url)
        header_fn = (lambda s: None) if hdrs is None else (lambda s: {str(k): str(v) for k, v in hdrs.render(s).items()})
        tags = dict(st.tags or {})
        subprotocols = list(st.subprotocols) if st.subprotocols else None
        steps = tuple(actions)

        async def session(vu: Any, scope: Scope) -> None:
            async with ws_connect(
                vu, url_fn(scope), headers=header_fn(scope), subprotocols=subprotocols, name=name, tags=tags,
                timeout=connect_timeout,
            ) as ws:
                for act in steps:
                    await act(vu, ws, scope)

        return _Compiled(_wrap(session, group, think), frozenset(defined))

    def ws_action(
        self, act: WsAction, path: KeyPath, names: Names, step_name: str, index: int
    ) -> tuple[WsRun, set[str]] | None:
        if act.sleep is not None:
            seconds = parse_seconds(act.sleep)

            async def pause(vu: Any, ws: WsSession, scope: Scope) -> None:
                await vu.sleep(seconds)

            return pause, set()
        if act.ping:

            async def ping(vu: Any, ws: WsSession, scope: Scope) -> None:
                await ws.ping()

            return ping, set()
        n_issues = len(self.issues)
        payload: Callable[[Scope], str] | None = None
        if act.send is not None:
            t = self.guard((*path, "send"), lambda: compile_template(act.send or "", names, "send"))
            if t is not None:
                self.used_roots |= t.roots
                if t.is_constant:
                    fixed_text = str(t.constant)
                    payload = lambda s: fixed_text  # noqa: E731
                else:
                    payload = lambda s: str(t.render(s))  # noqa: E731
        elif act.json_ is not None:
            v = self.guard((*path, "json"), lambda: compile_value(act.json_, names, "json"))
            if v is not None:
                self.used_roots |= v.roots
                if v.is_constant:
                    text = json.dumps(v.constant, separators=(",", ":"))
                    payload = lambda s: text  # noqa: E731
                else:
                    payload = lambda s: json.dumps(v.render(s), separators=(",", ":"))  # noqa: E731
        preds: list[tuple[str, Predicate]] = []
        exp = act.expect
        if exp is not None:
            if exp.contains is not None:
                made = self.guard((*path, "expect", "contains"), partial(body_contains_check, exp.contains, names, "expect"))
                if made is not None:
                    preds.append(made)
            if exp.matches is not None:
                made = self.guard((*path, "expect", "matches"), partial(body_matches_check, exp.matches))
                if made is not None:
                    preds.append(made)
            for jpath, expectation in (exp.json_ or {}).items():
                made = self.guard((*path, "expect", "json", jpath), partial(_json_expectation, jpath, _plain(expectation), names))
                if made is not None:
                    preds.append(made)
        captures: list[tuple[str, Extract]] = []
        for var, cap in (act.capture or {}).items():
            where = (*path, "capture", var)
            if isinstance(cap, HeaderCapture):
                self.issue(where, "a WebSocket message has no headers: capture with `json` or `regex`")
                continue
            extract = self.guard(where, partial(_capture, var, cap))
            if extract is not None:
                captures.append((var, extract))
        if len(self.issues) > n_issues:
            return None
        timeout = parse_seconds(act.timeout) if act.timeout is not None else 10.0
        if exp is None:
            assert payload is not None
            send_only = payload

            async def send(vu: Any, ws: WsSession, scope: Scope) -> None:
                await ws.send(send_only(scope))

            return send, set()
        labels = [label for label, _ in preds]
        check_name = f"{step_name}: message {index + 1} " + (" and ".join(labels) if labels else "arrives")
        tests = [p for _, p in preds]

        def matcher(scope: Scope) -> Callable[[Any], bool]:
            return lambda message: all(p(Reply(_WsMessage(message), scope)) for p in tests)

        async def expect(vu: Any, ws: WsSession, scope: Scope) -> None:
            match = matcher(scope)
            try:
                if payload is not None:
                    reply, _ = await ws.request(payload(scope), match=match, timeout=timeout)
                else:
                    reply = await _wait_for(ws, match, timeout)
            except WsError as exc:
                if not exc.timed_out:
                    raise
                vu.check(None, {check_name: False})
                if captures:
                    raise CaptureError(f"capture {captures[0][0]!r}: {exc}") from None
                return
            vu.check(None, {check_name: True})
            if captures:
                r = Reply(_WsMessage(reply), scope)
                for var, extract in captures:
                    scope[var] = extract(r)

        return expect, {v for v, _ in captures}

    def checks(self, check: Check, path: KeyPath, req_name: str, names: Names) -> dict[str, Predicate]:
        out: list[tuple[str, Predicate]] = []

        def add(where: KeyPath, fn: Callable[[], tuple[str, Predicate]]) -> None:
            made = self.guard(where, fn)
            if made is not None:
                out.append(made)

        if check.json_ or check.body_contains or check.body_not_contains or check.body_matches:
            self.reads_body.append(f"{req_name} check")
        if check.status is not None:
            add((*path, "status"), lambda: status_check(check.status))  # type: ignore[arg-type]
        for jpath, expectation in (check.json_ or {}).items():
            exp = _plain(expectation)
            where = (*path, "json", jpath)
            add(where, partial(_json_expectation, jpath, exp, names))
        for hname, expectation in (check.headers or {}).items():
            exp = _plain(expectation)
            where = (*path, "headers", hname)
            add(where, partial(_header_expectation, hname, exp, names))
        for key, negate in (("body_contains", False), ("body_not_contains", True)):
            needles = getattr(check, key)
            if needles is None:
                continue
            for i, needle in enumerate([needles] if isinstance(needles, str) else needles):
                where = (*path, key) if isinstance(needles, str) else (*path, key, i)
                add(where, partial(body_contains_check, needle, names, "check", negate=negate))
        if check.body_matches is not None:
            add((*path, "body_matches"), lambda: body_matches_check(check.body_matches or ""))
        if check.latency_ms is not None:
            add((*path, "latency_ms"), lambda: latency_check(check.latency_ms))  # type: ignore[arg-type]
        return {f"{req_name}: {label}": pred for label, pred in out}

    # -- the iteration --------------------------------------------------------------------------------------------------

    def iteration(
        self, run: Runner, variables: dict[str, Any], think_end: Callable[[], float] | None
    ) -> Callable[[Any], Awaitable[None]]:
        constants = {k: v.constant for k, v in variables.items() if v.is_constant}
        dynamic = [(k, v.render) for k, v in variables.items() if not v.is_constant]
        used = self.used_roots | {r for v in variables.values() for r in v.roots}
        sources = [(name, src) for name, src in self.data.items() if name in used]

        static = getattr(run, "static_request", None)

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

        if static is not None and think_end is None and not dynamic and not sources:
            # the whole iteration is one fixed request whose response nobody reads
            iteration.static_request = static  # type: ignore[attr-defined]
        return iteration


def _plain(expectation: Any) -> Any:
    return expectation.comparisons() if isinstance(expectation, Expect) else expectation


def _json_expectation(jpath: str, exp: Any, names: Names) -> tuple[str, Predicate]:
    return compile_expectation(jpath, json_getter(jpath), exp, names, f"check {jpath}")


def _header_expectation(hname: str, exp: Any, names: Names) -> tuple[str, Predicate]:
    return compile_expectation(f"header {hname}", header_getter(hname), exp, names, f"check header {hname}")


def _capture(var: str, cap: Any) -> Extract:
    if isinstance(cap, str):
        return compile_capture(var, "json", cap)
    default = cap.default if "default" in cap.model_fields_set else _MISSING
    if isinstance(cap, JsonCapture):
        return compile_capture(var, "json", cap.json_, default=default)
    if isinstance(cap, HeaderCapture):
        return compile_capture(var, "header", cap.header, default=default)
    assert isinstance(cap, RegexCapture)
    return compile_capture(var, "regex", cap.regex, group=cap.group, default=default)


def _group_name(group: str | None) -> str | None:
    if group is not None and ("::" in group or not group):
        raise TemplateError(f"group name {group!r} must be non-empty and may not contain '::'")
    return group


def _wrap(run: Runner, group: str | None, think: Callable[[], float] | None) -> Runner:
    if group is None and think is None:
        return run

    async def wrapped(vu: Any, scope: Scope) -> None:
        if group is not None:
            async with vu.group(group):
                await run(vu, scope)
        else:
            await run(vu, scope)
        if think is not None:
            await vu.sleep(think())

    return wrapped


Send = Callable[[Any, Scope], Awaitable[Any]]


def _sender(
    method: str,
    base_url: Any,
    url: Any,
    query: Any,
    headers: Any,
    body: Any,
    content_type: str | None,
    tags: dict[str, str],
    timeout: float | None,
) -> Send:
    """The cheapest closure that sends this request: constants are prepared once."""
    # URL
    if isinstance(base_url, str):
        prefix = base_url

        def join(u: str) -> str:
            return u if "://" in u[:10] else prefix + u if u.startswith("/") or not u else prefix + "/" + u

        url_fn: Callable[[Scope], str]
        if url.is_constant:
            fixed = join(str(url.constant))
            url_fn = lambda s: fixed  # noqa: E731
        else:
            render_url = url.render
            url_fn = lambda s: join(str(render_url(s)))  # noqa: E731
    else:
        render_base, render_url = base_url.render, url.render

        def url_fn(s: Scope) -> str:
            u = str(render_url(s))
            if "://" in u[:10]:
                return u
            b = str(render_base(s)).rstrip("/")
            return b + (u if u.startswith("/") else "/" + u)

    if query is not None:
        base_url_fn = url_fn
        if query.is_constant:
            qs = urlencode(query.constant, doseq=True)
            url_fn = lambda s: _add_query(base_url_fn(s), qs)  # noqa: E731
        else:
            render_q = query.render
            url_fn = lambda s: _add_query(base_url_fn(s), urlencode(render_q(s), doseq=True))  # noqa: E731

    # headers
    header_fn: Callable[[Scope], dict[str, str] | None]
    if headers is None:
        fixed_h: dict[str, str] | None = {"Content-Type": content_type} if content_type else None
        header_fn = lambda s: fixed_h  # noqa: E731
    elif headers.is_constant:
        const_h = {str(k): str(v) for k, v in headers.constant.items()}
        if content_type and not any(k.lower() == "content-type" for k in const_h):
            const_h["Content-Type"] = content_type
        header_fn = lambda s: const_h  # noqa: E731
    else:
        render_h = headers.render

        def header_fn(s: Scope) -> dict[str, str] | None:
            h = {str(k): ("" if v is None else str(v)) for k, v in render_h(s).items()}
            if content_type and not any(k.lower() == "content-type" for k in h):
                h["Content-Type"] = content_type
            return h

    # body
    body_fn: Callable[[Scope], bytes | None]
    if body is None:
        body_fn = lambda s: None  # noqa: E731
    elif content_type == "application/json":
        if body.is_constant:
            encoded = json.dumps(body.constant, separators=(",", ":")).encode()
            body_fn = lambda s: encoded  # noqa: E731
        else:
            render_b = body.render
            body_fn = lambda s: json.dumps(render_b(s), separators=(",", ":")).encode()  # noqa: E731
    else:
        if body.is_constant:
            raw = str(body.constant).encode()
            body_fn = lambda s: raw  # noqa: E731
        else:
            render_t = body.render
            body_fn = lambda s: str(render_t(s)).encode()  # noqa: E731

    frozen_tags = FrozenTags(tags)
    if url.is_constant and query is None and isinstance(base_url, str) and body is None and (headers is None or headers.is_constant):
        fixed_url = url_fn({})
        fixed_headers = header_fn({})

        async def send_fixed(vu: Any, scope: Scope) -> Any:
            return await vu.http.request(method, fixed_url, headers=fixed_headers, tags=frozen_tags, timeout=timeout)

        send_fixed.static_request = StaticRequest(method, fixed_url, fixed_headers, None, frozen_tags, timeout)  # type: ignore[attr-defined]
        return send_fixed

    async def send(vu: Any, scope: Scope) -> Any:
        return await vu.http.request(
            method, url_fn(scope), headers=header_fn(scope), body=body_fn(scope), tags=frozen_tags, timeout=timeout
        )

    return send


def _add_query(url: str, qs: str) -> str:
    if not qs:
        return url
    return url + ("&" if "?" in url else "?") + qs


def _request_runner(
    send: Send,
    checks: dict[str, Predicate],
    captures: list[tuple[str, Extract]],
    think: Callable[[], float] | None,
) -> Runner:
    if not checks and not captures and think is None:
        return send  # type: ignore[return-value]  # its result is simply not used

    async def run(vu: Any, scope: Scope) -> None:
        res = await send(vu, scope)
        reply = Reply(res, scope)
        if checks:
            vu.check(reply, checks)
        for var, extract in captures:
            scope[var] = extract(reply)
        if think is not None:
            await vu.sleep(think())

    return run


# --- WebSocket steps -------------------------------------------------------------------------------------------------

WsRun = Callable[[Any, WsSession, Scope], Awaitable[None]]


class _WsMessage:
    """A WebSocket message dressed as a response, so body/JSON/regex checks and captures apply."""

    __slots__ = ("body", "text")

    status = 101
    error = ""
    headers: dict[str, str] = {}

    def __init__(self, message: str | bytes) -> None:
        if isinstance(message, bytes):
            self.body = message
            self.text = message.decode("utf-8", errors="replace")
        else:
            self.text = message
            self.body = message.encode()


async def _wait_for(ws: WsSession, match: Callable[[Any], bool], timeout: float) -> Any:
    """The first message `match` accepts (others are read and dropped), or WsError on timeout."""
    import time

    deadline = time.perf_counter() + timeout
    while True:
        left = deadline - time.perf_counter()
        if left <= 0:
            raise WsError(f"no matching WebSocket message within {timeout:g}s", timed_out=True)
        try:
            message = await ws.recv(timeout=left)
        except WsError as exc:
            if exc.timed_out:
                raise WsError(f"no matching WebSocket message within {timeout:g}s", timed_out=True) from None
            raise
        if match(message):
            return message


def _to_ws(url: str) -> str:
    if url.startswith("https://"):
        return "wss://" + url[8:]
    if url.startswith("http://"):
        return "ws://" + url[7:]
    return url


def _ws_url(base_url: Any, url: Any) -> Callable[[Scope], str]:
    def join(base: str, u: str) -> str:
        if "://" in u[:10]:
            return u
        return _to_ws(base.rstrip("/")) + (u if u.startswith("/") else "/" + u)

    if isinstance(base_url, str):
        if url.is_constant:
            fixed = join(base_url, str(url.constant))
            return lambda s: fixed
        return lambda s: join(base_url, str(url.render(s)))
    return lambda s: join(str(base_url.render(s)), str(url.render(s)))
