"""The load engine's entry point for the CLI and for other engines (plans, chaos):
turn a target (file or URL) and k6-style overrides into a validated `(LoadedScenario, Plan)`.

    loaded, plan = prepare(LoadRequest(target="scenario.py", vus=20, duration="1m"))
    result = run_load(loaded, plan, workers=1)

All validation happens here, before any traffic: a bad file, option or threshold raises
a UsageError subclass (exit 64).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from assay.errors import UsageError
from assay.load.limits import (
    MAX_ITERATIONS,
    MAX_RATE_PER_S,
    MAX_VUS,
    header_problem,
    method_problem,
    number_problem,
)
from assay.load.loaders import load_scenario
from assay.load.options import Plan, build_plan, parse_cli_threshold, trend_stats_problem
from assay.load.profiles import expand_profile
from assay.load.quick import quick_scenario
from assay.load.scenario import LoadedScenario
from assay.results import SourceInfo


@dataclass
class LoadRequest:
    target: str
    vus: int | None = None
    rate: float | None = None
    duration: str | None = None
    iterations: int | None = None
    max_vus: int | None = None
    profile: str | None = None
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    thresholds: list[str] = field(default_factory=list)
    no_thresholds: bool = False
    env: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    insecure: bool = False
    # assay.load.engine_options: override the scenario's `rps`, `warmup` and `scrape` options
    rps: float | None = None
    warmup: str | None = None
    scrape: str | None = None
    scrape_select: list[str] = field(default_factory=list)
    scrape_max_series: int | None = None
    # k6's run flags: -s/--stage, --summary-trend-stats, --user-agent, --no-connection-reuse
    stages: list[str] = field(default_factory=list)
    summary_trend_stats: str | None = None
    user_agent: str | None = None
    no_connection_reuse: bool = False


def is_url(target: str) -> bool:
    return target.startswith(("http://", "https://"))


def check_request(req: LoadRequest) -> None:
    """The command-line values against the engine's limits (assay.load.limits): UsageError, exit 64."""
    for flag, value, low, high in (
        ("--vus", req.vus, 1, MAX_VUS),
        ("--max-vus", req.max_vus, 1, MAX_VUS),
        ("--iterations", req.iterations, 1, MAX_ITERATIONS),
    ):
        if value is not None and not low <= value <= high:
            raise UsageError(f"{flag} must be between {low} and {high}, got {value}")
    if req.rate is not None:
        problem = number_problem(req.rate, what="--rate", minimum=0.0, maximum=MAX_RATE_PER_S, unit="/s")
        if problem or req.rate <= 0:
            raise UsageError(problem or f"--rate must be greater than 0, got {req.rate:g}")
    if req.stages and req.profile:
        raise UsageError("--stage cannot be combined with --profile (the profile sets the stages)")
    if req.stages and (req.duration is not None or req.iterations is not None or req.rate is not None):
        raise UsageError("--stage cannot be combined with --duration, --iterations or --rate (k6: one execution shortcut at a time)")
    if req.user_agent is not None:
        problem = header_problem("User-Agent", req.user_agent)
        if problem:
            raise UsageError(f"--user-agent: {problem}")
    problem = method_problem(req.method)
    if problem:
        raise UsageError(f"--method: {problem}")
    for name, text in req.headers.items():
        problem = header_problem(name, text)
        if problem:
            raise UsageError(f"--header: {problem}")


def prepare(req: LoadRequest, *, env: Mapping[str, str] | None = None) -> tuple[LoadedScenario, Plan]:
    check_request(req)
    if req.rate is not None and req.iterations is not None:
        raise UsageError("--rate and --iterations cannot be combined")
    if req.duration is not None:
        from assay.load.durations import parse_duration

        try:
            parse_duration(req.duration, what="--duration")
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    env_map = dict(env or req.env)
    if is_url(req.target):
        loaded = quick_scenario(
            req.target,
            method=req.method,
            headers=req.headers,
            body=req.body,
            vus=req.vus,
            rate=req.rate,
            duration=req.duration or "10s",
            iterations=req.iterations,
            max_vus=req.max_vus,
        )
    else:
        if req.headers or req.body is not None or req.method.upper() != "GET":
            raise UsageError("--method, --header and --body are for quick mode (a URL target), not scenario files")
        loaded = load_scenario(req.target, env=env_map)
    options = copy.deepcopy(loaded.options)
    if loaded.format == "quick" and req.stages:
        options["scenarios"] = {"default": {"executor": "ramping-vus", "stages": parse_cli_stages(req.stages), "startVUs": req.vus or 1}}
    if req.profile:
        profile = expand_profile(req.profile, vus=req.vus, duration=req.duration, rate=req.rate)
        exec_names = {s.get("exec", "default") for s in (options.get("scenarios") or {}).values()} or {"default"}
        scenarios = {}
        for exec_name in sorted(exec_names):
            spec = dict(profile)
            if exec_name != "default":
                spec["exec"] = exec_name
            scenarios[exec_name if len(exec_names) > 1 else req.profile] = spec
        for key in ("vus", "duration", "iterations", "stages"):
            options.pop(key, None)
        options["scenarios"] = scenarios
    elif loaded.format != "quick" and (req.vus or req.duration or req.iterations or req.rate or req.stages):
        # k6: command-line shortcuts replace the file's scenarios with one default scenario
        for key in ("vus", "duration", "iterations", "stages", "scenarios"):
            options.pop(key, None)
        if req.rate is not None:
            pre = req.vus or max(1, min(int(req.rate), 1000))
            options["scenarios"] = {"default": {
                "executor": "constant-arrival-rate", "rate": req.rate, "duration": req.duration or "10s",
                "preAllocatedVUs": pre, "maxVUs": max(pre, req.max_vus or pre * 10)}}
        else:
            if req.stages:
                options["stages"] = parse_cli_stages(req.stages)
            if req.vus is not None:
                options["vus"] = req.vus
            if req.duration is not None:
                options["duration"] = req.duration
            if req.iterations is not None:
                options["iterations"] = req.iterations
    if req.tags:
        options["tags"] = {**(options.get("tags") or {}), **req.tags}
    if req.insecure:
        options["insecureSkipTLSVerify"] = True
    _client_flags(req, loaded, options)
    _engine_overrides(req, options)
    extra: dict[str, list[Any]] = {}
    for text in req.thresholds:
        metric, expr = parse_cli_threshold(text)
        extra.setdefault(metric, []).append(expr)
    loaded.apply_options(options)
    plan = build_plan(loaded, extra_thresholds=extra, no_thresholds=req.no_thresholds)
    loaded.spec = dict(loaded.spec)
    loaded.spec["options"] = options
    return loaded, plan


def parse_cli_stages(texts: list[str]) -> list[dict[str, Any]]:
    """k6's `-s DURATION[:TARGET]` (repeatable) as `options.stages`; a missing target is 0 VUs, as in k6."""
    from assay.load.durations import parse_duration

    stages: list[dict[str, Any]] = []
    for i, text in enumerate(texts):
        duration, _, target = text.partition(":")
        where = f"--stage {text!r} (stage {i})"
        if not duration.strip():
            raise UsageError(f"{where}: needs a duration, as DURATION:TARGET, e.g. 30s:10")
        try:
            parse_duration(duration.strip(), what=where)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        target = target.strip() or "0"
        if not target.isdigit() or int(target) > MAX_VUS:
            raise UsageError(f"{where}: the target must be a whole number of VUs from 0 to {MAX_VUS}, got {target!r}")
        stages.append({"duration": duration.strip(), "target": int(target)})
    return stages


def _client_flags(req: LoadRequest, loaded: LoadedScenario, options: dict[str, Any]) -> None:
    """--summary-trend-stats, --user-agent and --no-connection-reuse replace the file's options."""
    if req.summary_trend_stats is not None:
        stats = [s.strip() for s in req.summary_trend_stats.split(",")]
        problem = trend_stats_problem(stats)
        if problem:
            raise UsageError(f"--summary-trend-stats {req.summary_trend_stats!r}: {problem}")
        options["summaryTrendStats"] = stats
    if req.user_agent is not None:
        options["userAgent"] = req.user_agent
    if req.no_connection_reuse:
        options["noConnectionReuse"] = True
    if options.get("noConnectionReuse") and loaded.format != "k6-js":  # never accepted and silently ignored
        what = "--no-connection-reuse" if req.no_connection_reuse else f"{loaded.source}: options.noConnectionReuse"
        raise UsageError(f"{what}: only k6 scripts (.js) can drop connections after each request; "
                         "Python, YAML and URL runs keep each VU's connections alive")


def _engine_overrides(req: LoadRequest, options: dict[str, Any]) -> None:
    """--rps, --warmup and --scrape* replace the file's options of the same names."""
    if req.rps is not None:
        options["rps"] = req.rps
    if req.warmup is not None:
        options["warmup"] = req.warmup
    if req.scrape is not None or req.scrape_select or req.scrape_max_series is not None:
        current = options.get("scrape")
        scrape: dict[str, Any] = dict(current) if isinstance(current, Mapping) else ({"urls": current} if current else {})
        if req.scrape is not None:
            scrape["urls"] = req.scrape
        if req.scrape_select:
            scrape["select"] = list(req.scrape_select)
        if req.scrape_max_series is not None:
            scrape["max_series"] = req.scrape_max_series
        if "urls" not in scrape and "url" not in scrape:
            raise UsageError("--scrape-select and --scrape-max-series need --scrape URL (or options.scrape in the scenario)")
        options["scrape"] = scrape


def result_source(loaded: LoadedScenario) -> SourceInfo:
    """The result's `source`: the format, the file as given, and the acceptance scenario ids the
    file declared when it was loaded (`assay trace matrix --result` reads them first)."""
    return SourceInfo(format=f"assay-load-{loaded.format}", path=loaded.source, scenarios=list(loaded.acceptance_ids))
