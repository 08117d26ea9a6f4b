"""k6 options -> a validated plan: scenarios with executors, thresholds, tags, client settings.

Everything here runs before any traffic is sent, so every mistake (unknown executor, bad
duration, threshold on an unknown metric or with the wrong aggregation) becomes a
ScenarioError/ThresholdError naming the key path: exit 64.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from difflib import get_close_matches
from typing import Any

from assay.load.durations import parse_duration
from assay.load.engine_options import ENGINE_METRICS, EngineOptions, parse_engine_options
from assay.load.executors import EXECUTORS, Executor, ExecutorConfig, Segment
from assay.load.executors.base import ScenarioSpec, get_duration
from assay.load.k6options import Options
from assay.load.limits import MAX_BODY_LIMIT, header_problem
from assay.load.scenario import LoadedScenario, ScenarioError
from assay.load.sink import CORRECTED
from assay.messaging.verdict import LEDGER_METRICS
from assay.results import BUILTIN_METRICS, Contains, MetricType, parse_metric_name, percentile_of
from assay.thresholds import ThresholdError, validate_threshold

# what every scenario takes, with k6's defaults (the same model the YAML path validates with)
_COMMON = ScenarioSpec.model_fields

# the option names k6 takes at the top level: the fields of the YAML model, so both paths agree
TOP_LEVEL_KEYS = frozenset(Options.model_fields)


@dataclass
class ThresholdSpec:
    metric: str
    source: str
    abort_on_fail: bool = False
    delay_abort_eval: float = 0.0
    delay_text: str | None = None


@dataclass
class Plan:
    """What one run executes (the same for every worker; each scales it by its Segment)."""

    scenarios: list[ExecutorConfig]
    thresholds: list[ThresholdSpec] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    client: dict[str, Any] = field(default_factory=dict)
    setup_timeout: float = 60.0
    teardown_timeout: float = 60.0
    trend_stats: list[str] | None = None
    metric_types: dict[str, tuple[MetricType, Contains]] = field(default_factory=dict)
    engine: EngineOptions = field(default_factory=EngineOptions)  # rps, warmup, scrape

    def executors(self, segment: Segment) -> list[Executor]:
        return [EXECUTORS[c.executor](c, segment) for c in self.scenarios]

    def total_duration(self) -> float:
        """Planned seconds until the last scenario ends (with startTime, without graceful stops)."""
        ends = [c.start_time + EXECUTORS[c.executor](c, Segment()).duration() for c in self.scenarios]
        return max(ends) if ends else 0.0

    def threshold_metrics(self) -> list[str]:
        """Metrics thresholds name, with those their cross-metric expressions read."""
        from assay.thresholds import parse_threshold

        names = {t.metric for t in self.thresholds}
        for t in self.thresholds:
            names.update(r.metric for r in parse_threshold(t.source).operands() if r.metric is not None)
        return sorted(names)

    def uses_arrival_rate(self) -> bool:
        return any(c.executor.endswith("arrival-rate") for c in self.scenarios)


def build_plan(loaded: LoadedScenario, *, extra_thresholds: Mapping[str, list[Any]] | None = None, no_thresholds: bool = False) -> Plan:
    options = loaded.options
    where = loaded.source
    for key in options:
        if key not in TOP_LEVEL_KEYS:
            near = get_close_matches(key, sorted(TOP_LEVEL_KEYS), n=1)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            raise ScenarioError(f"{where}: options.{key}: unknown option{hint}")
    scenarios = scenario_configs(options, where)
    for sc in scenarios:
        loaded.function(sc.exec)  # raises a located error for a missing function
    tags = _str_map(options.get("tags", {}), f"{where}: options.tags")
    client: dict[str, Any] = {}
    if "maxRedirects" in options:
        client["max_redirects"] = _int(options["maxRedirects"], f"{where}: options.maxRedirects")
    if "insecureSkipTLSVerify" in options:
        client["verify_tls"] = not bool(options["insecureSkipTLSVerify"])
    if "userAgent" in options:
        client["user_agent"] = str(options["userAgent"])
    if "discardResponseBodies" in options:
        client["discard_body"] = bool(options["discardResponseBodies"])
    if "maxResponseBodySize" in options:
        client["max_body"] = _int(options["maxResponseBodySize"], f"{where}: options.maxResponseBodySize", minimum=0, maximum=MAX_BODY_LIMIT)
    if "timeout" in options:
        client["timeout"] = get_duration(options, "timeout", None, f"{where}: options")
    if "headers" in options:
        client["headers"] = _str_map(options["headers"], f"{where}: options.headers")
        for hname, hvalue in client["headers"].items():
            problem = header_problem(hname, hvalue)
            if problem:
                raise ScenarioError(f"{where}: options.headers[{hname!r}]: {problem}")
    types: dict[str, tuple[MetricType, Contains]] = dict(BUILTIN_METRICS)
    types[CORRECTED] = (MetricType.TREND, Contains.TIME)
    types.update(ENGINE_METRICS)
    types.update(LEDGER_METRICS)
    types.update(loaded.custom_metrics)
    engine = parse_engine_options(options, where)
    scrape_problems = _scraped_types(engine, types)
    plan = Plan(
        scenarios=scenarios,
        tags=tags,
        client=client,
        setup_timeout=get_duration(options, "setupTimeout", "60s", f"{where}: options"),
        teardown_timeout=get_duration(options, "teardownTimeout", "60s", f"{where}: options"),
        metric_types=types,
        engine=engine,
    )
    if engine.warmup and scenarios and engine.warmup >= plan.total_duration():
        # a warm-up as long as the run leaves nothing measured: thresholds and gates would pass on nothing
        raise ScenarioError(f"{where}: options.warmup: {engine.warmup:g}s is not shorter than the run "
                            f"({plan.total_duration():g}s): nothing would be measured")
    if "summaryTrendStats" in options:
        stats = options["summaryTrendStats"]
        if not isinstance(stats, list) or not all(isinstance(s, str) for s in stats):
            raise ScenarioError(f"{where}: options.summaryTrendStats: expected a list like ['avg', 'p(95)']")
        problem = trend_stats_problem(stats)
        if problem:
            raise ScenarioError(f"{where}: options.summaryTrendStats: {problem}")
        plan.trend_stats = list(stats)
    if not no_thresholds:
        raw = dict(options.get("thresholds") or {})
        if not isinstance(options.get("thresholds") or {}, Mapping):
            raise ScenarioError(f"{where}: options.thresholds: expected a mapping of metric -> list of expressions")
        for name, exprs in (extra_thresholds or {}).items():
            raw.setdefault(name, [])
            raw[name] = _as_list(raw[name]) + list(exprs)
        try:
            plan.thresholds = parse_thresholds(raw, types, where)
        except ThresholdError as exc:
            if scrape_problems and "unknown metric" in exc.message:
                raise ThresholdError(f"{exc.message} (the scrape before the run failed: {'; '.join(scrape_problems)})") from None
            raise
    return plan


def _scraped_types(engine: EngineOptions, types: dict[str, tuple[MetricType, Contains]]) -> list[str]:
    """Scrape the targets once so thresholds can name the service's metrics; returns the targets' problems."""
    if engine.scrape is None:
        return []
    from assay.load.scrape import discover

    found, problems = discover(engine.scrape)
    for name, kind in found.items():
        types.setdefault(name, kind)
    return problems


def parse_thresholds(raw: Mapping[str, Any], types: Mapping[str, tuple[MetricType, Contains]], where: str) -> list[ThresholdSpec]:
    """Validate k6 thresholds against the known metrics; ThresholdError (exit 64) on any problem."""
    specs: list[ThresholdSpec] = []
    for metric_name, entries in raw.items():
        w = f"{where}: thresholds[{metric_name!r}]"
        try:
            base, _tags = parse_metric_name(metric_name)
        except ValueError as exc:
            raise ThresholdError(f"{w}: {exc}") from None
        if base not in types:
            near = get_close_matches(base, sorted(types), n=1)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            raise ThresholdError(f"{w}: unknown metric {base!r}{hint} (custom metrics must be declared with Trend/Counter/Rate/Gauge)")
        mtype = types[base][0]
        for i, entry in enumerate(_as_list(entries)):
            abort = False
            delay = 0.0
            delay_text = None
            if isinstance(entry, Mapping):
                extra = set(entry) - {"threshold", "abortOnFail", "delayAbortEval"}
                if extra:
                    raise ThresholdError(f"{w}[{i}]: unknown key {sorted(extra)[0]!r}; expected threshold, abortOnFail, delayAbortEval")
                source = entry.get("threshold")
                if not isinstance(source, str):
                    raise ThresholdError(f"{w}[{i}].threshold: required, a string like 'p(95)<500'")
                abort = bool(entry.get("abortOnFail", False))
                if entry.get("delayAbortEval") is not None:
                    delay_text = str(entry["delayAbortEval"])
                    try:
                        delay = parse_duration(entry["delayAbortEval"], what=f"{w}[{i}].delayAbortEval")
                    except ValueError as exc:
                        raise ThresholdError(str(exc)) from None
            elif isinstance(entry, str):
                source = entry
            else:
                raise ThresholdError(f"{w}[{i}]: expected a string or {{threshold, abortOnFail, delayAbortEval}}, got {entry!r}")
            try:
                validate_threshold(metric_name, mtype, source, types)
            except ThresholdError as exc:
                raise ThresholdError(f"{w}: {exc}") from None
            specs.append(ThresholdSpec(metric_name, source, abort, delay, delay_text))
    return specs


def trend_stats_problem(stats: list[str]) -> str | None:
    """What is wrong with a summaryTrendStats list (k6 takes avg, min, med, max, count and p(N)), or None."""
    if not stats or not all(stats):
        return "expected a comma-separated list like 'avg,p(95),p(99.9)'"
    for stat in stats:
        if stat not in ("avg", "min", "med", "max", "count") and percentile_of(stat) is None:
            return f"{stat!r} is not a trend stat; expected avg, min, med, max, count or p(N) with N from 0 to 100"
    return None


def parse_cli_threshold(text: str) -> tuple[str, str]:
    """`METRIC:EXPR` from --threshold (the metric may carry tags: `http_req_duration{name:x}:p(95)<300`)."""
    if "}" in text:
        close = text.rindex("}")
        metric, sep, expr = text[: close + 1], text[close + 1 : close + 2], text[close + 2 :]
    else:
        metric, sep, expr = text.partition(":")
    if sep != ":" or not metric.strip() or not expr.strip():
        raise ThresholdError(f"--threshold {text!r}: expected METRIC:EXPR, e.g. 'http_req_duration:p(95)<300'")
    return metric.strip(), expr.strip()


def scenario_configs(options: Mapping[str, Any], where: str) -> list[ExecutorConfig]:
    """The scenarios `options` runs: its `scenarios`, or the one k6 derives from its shortcut options."""
    raw = options.get("scenarios")
    if raw is None:
        return [_shortcut(options, where)]
    if not isinstance(raw, Mapping) or not raw:
        raise ScenarioError(f"{where}: options.scenarios: expected a non-empty mapping of name -> scenario")
    shortcuts = [k for k in ("vus", "duration", "iterations", "stages") if k in options]
    if shortcuts:
        raise ScenarioError(f"{where}: options.{shortcuts[0]} cannot be combined with options.scenarios; put it inside a scenario")
    return [parse_scenario(name, spec, f"{where}: scenarios.{name}") for name, spec in raw.items()]


def _shortcut(options: Mapping[str, Any], where: str) -> ExecutorConfig:
    """k6's shortcut options: stages -> ramping-vus; iterations -> shared-iterations; duration -> constant-vus."""
    w = f"{where}: options"
    if "stages" in options:
        spec: dict[str, Any] = {"executor": "ramping-vus", "stages": options["stages"], "startVUs": options.get("vus", 1)}
    elif "iterations" in options:
        spec = {"executor": "shared-iterations", "iterations": options["iterations"], "vus": options.get("vus", 1)}
        if "duration" in options:
            spec["maxDuration"] = options["duration"]
    elif "duration" in options:
        spec = {"executor": "constant-vus", "vus": options.get("vus", 1), "duration": options["duration"]}
    else:
        spec = {"executor": "shared-iterations", "vus": options.get("vus", 1), "iterations": options.get("vus", 1)}
    return parse_scenario("default", spec, w)


def parse_scenario(name: str, spec: Any, where: str) -> ExecutorConfig:
    if not isinstance(spec, Mapping):
        raise ScenarioError(f"{where}: expected a mapping with an 'executor' key, got {spec!r}")
    executor = spec.get("executor")
    if executor not in EXECUTORS:
        near = get_close_matches(str(executor), sorted(EXECUTORS), n=1)
        hint = f"; did you mean {near[0]!r}?" if near else f"; expected one of {', '.join(sorted(EXECUTORS))}"
        raise ScenarioError(f"{where}.executor: unknown executor {executor!r}{hint}")
    cls = EXECUTORS[executor]
    params = cls.parse_params(spec, where)
    exec_name = spec.get("exec", _COMMON["exec"].default)
    if not isinstance(exec_name, str) or not exec_name:
        raise ScenarioError(f"{where}.exec: expected the name of an iteration function")
    return ExecutorConfig(
        name=name,
        executor=executor,
        start_time=get_duration(spec, "startTime", _COMMON["startTime"].default, where),
        graceful_stop=get_duration(spec, "gracefulStop", _COMMON["gracefulStop"].default, where),
        exec=exec_name,
        env=_str_map(spec.get("env", {}), f"{where}.env"),
        tags=_str_map(spec.get("tags", {}), f"{where}.tags"),
        params=params,
    )


def _str_map(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise ScenarioError(f"{where}: expected a mapping of strings, got {value!r}")
    return {str(k): str(v) for k, v in value.items()}


def _int(value: Any, where: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ScenarioError(f"{where}: expected a whole number, got {value!r}")
    if minimum is not None and value < minimum:
        raise ScenarioError(f"{where}: must be at least {minimum}, got {value!r}")
    if maximum is not None and value > maximum:
        raise ScenarioError(f"{where}: must be at most {maximum}, got {value!r}")
    return value


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    return [value]
