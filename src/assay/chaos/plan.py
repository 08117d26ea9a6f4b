"""The plan of an experiment, read without running anything: what would be injected where, when
and for how long, the probes, guards, load and rollbacks. It feeds `assay chaos run --dry`, the
blast-radius pre-flight, and `assay chaos export --to chaos-mesh`.

Times are the plan's: activities run one after another, pauses included; background activities
start with the one they precede. A `${var}` still in a value is shown as written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from assay.chaos import blast


@dataclass
class Injection:
    label: str  # the activity's name
    kind: str  # "fault" | "toxic"
    what: str  # the fault type, or the toxic type
    target: str
    starts_at: float  # seconds from the method's start, as planned
    duration: float | None
    params: dict[str, Any]
    level: str
    background: bool = False


@dataclass
class Plan:
    title: str
    injections: list[Injection] = field(default_factory=list)
    steps: list[tuple[float, str, str]] = field(default_factory=list)  # (at, section, text)
    method_s: float = 0.0


def _seconds(value: Any) -> float | None:
    from assay.faults.model import parse_duration

    try:
        return float(parse_duration(value))
    except Exception:
        return None


def _pause(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def describe(act: Mapping[str, Any]) -> str:
    """One line saying what an activity does."""
    provider = act.get("provider") or {}
    kind = provider.get("type")
    args = provider.get("arguments") or {}
    if kind == "assay" and isinstance(args, dict):
        func = provider.get("func")
        if func == "fault":
            extra = {k: v for k, v in args.items() if k not in ("fault", "target", "duration")}
            return f"inject {args.get('fault')} on {args.get('target') or 'this host'} for {args.get('duration')}" + (
                f" {extra}" if extra else "")
        if func == "toxic":
            return (f"add toxic {args.get('type')} {args.get('attributes') or {}} to proxy {args.get('proxy')} "
                    f"for {args.get('duration', '300s')}")
        if func == "revert":
            return "revert every fault injected so far"
        return f"assay probe {func} {dict(args)}"
    if kind == "http":
        return f"http {provider.get('method', 'GET')} {provider.get('url')}"
    if kind == "process":
        shown = " ".join(str(a) for a in args) if isinstance(args, list) else str(args or "")
        return f"process {provider.get('path')} {shown[:80]}".rstrip()
    if kind == "python":
        names = ", ".join(f"{k}=" for k in args) if isinstance(args, dict) else ""
        return f"python {provider.get('module')}.{provider.get('func')}({names})"
    if "ref" in act:
        return f"ref {act['ref']}"
    return str(kind)


def build(experiment: Mapping[str, Any]) -> Plan:
    plan = Plan(str(experiment.get("title") or "experiment"))
    at = 0.0
    for act in experiment.get("method") or []:
        if not isinstance(act, dict):
            continue
        pauses = act.get("pauses") or {}
        at += _pause(pauses.get("before"))
        name = str(act.get("name") or act.get("ref"))
        plan.steps.append((at, "method", f"{act.get('type', 'ref')} {name}: {describe(act)}"
                           + (" (background)" if act.get("background") else "")))
        provider = act.get("provider") or {}
        raw_args = provider.get("arguments")
        args = dict(raw_args) if isinstance(raw_args, dict) else {}
        if provider.get("type") == "assay" and provider.get("func") in ("fault", "toxic"):
            if provider["func"] == "fault":
                what, target = str(args.get("fault")), str(args.get("target") or "this host")
                params = {k: v for k, v in args.items() if k not in ("fault", "target", "duration")}
                duration = _seconds(args.get("duration"))
            else:
                what, target = str(args.get("type")), f"proxy:{args.get('proxy')}"
                params = {"attributes": args.get("attributes") or {}, "stream": args.get("stream", "downstream"),
                          "toxicity": args.get("toxicity", 1.0)}
                duration = _seconds(args.get("duration", 300))
            level = blast.level_of(provider["func"], what if provider["func"] == "fault" else None, target, params)
            plan.injections.append(Injection(name, provider["func"], what, target, at, duration, params, level,
                                             bool(act.get("background"))))
        if not act.get("background"):
            at += _pause(pauses.get("after"))
    plan.method_s = at
    return plan


def blast_items(plan: Plan) -> list[tuple[str, str, str]]:
    return [(f"{i.label} ({i.what})", i.level, i.target) for i in plan.injections]


def render(experiment: Mapping[str, Any], plan: Plan, *, safety: Any = None, recovery: Any = None,
           load: Any = None, rollback_strategy: str = "default") -> str:
    """The dry-run text: nothing here has been done."""
    lines = [f"Plan for {plan.title!r} (dry run: nothing is injected, no probe or action runs)", ""]
    hypo = experiment.get("steady-state-hypothesis") or {}
    if hypo.get("probes"):
        lines.append(f"Steady state before and after: {hypo.get('title')}")
        for p in hypo["probes"]:
            lines.append(f"  probe {p.get('name') or p.get('ref')}: {describe(p)}; tolerance {p.get('tolerance')!r}")
    else:
        lines.append("No steady-state hypothesis: the method runs without a gate.")
    lines += ["", "Method (times from its start, as planned):"]
    for at, _section, text in plan.steps:
        lines.append(f"  t+{at:6.1f}s  {text}")
    if plan.injections:
        lines += ["", "Faults:"]
        lines.append(f"  {'activity':<24} {'fault':<18} {'target':<28} {'from':>8} {'for':>8}  blast radius")
        for i in plan.injections:
            dur = f"{i.duration:.0f}s" if i.duration is not None else "?"
            lines.append(f"  {i.label[:24]:<24} {i.what[:18]:<18} {i.target[:28]:<28} {f't+{i.starts_at:.0f}s':>8} {dur:>8}  {i.level}")
        lines.append("  every fault is reverted at the end of the method, when a guard trips, on Ctrl-C/SIGTERM,"
                     " and by its own TTL if assay dies")
    else:
        lines += ["", "Faults: none injected by assay (python/process/http actions may still act)."]
    rollbacks = experiment.get("rollbacks") or []
    lines += ["", f"Rollbacks (strategy {rollback_strategy}):" if rollbacks else "Rollbacks: none declared."]
    for r in rollbacks:
        if isinstance(r, dict):
            lines.append(f"  {r.get('name') or r.get('ref')}: {describe(r)}")
    if load is not None:
        lines += ["", f"Background load: {load.target} ({'rate ' + str(load.rate) + '/s' if load.rate else str(load.vus) + ' VUs'}),"
                  f" in {load.segment} segments, one RunResult per phase"]
    if safety is not None:
        lines += ["", "Guards:"]
        lines.append(f"  lock on target {safety.target or 'the experiment title'}; planned duration cap {safety.max_duration:.0f}s")
        watched = [w for w, on in ((f"guard probe {safety.probe.get('name')!r}" if safety.probe else "", safety.probe),
                                   ("the background load", load is not None and safety.declared)) if on]
        if watched:
            lines.append(f"  abort when availability < {safety.min_availability:.0%} or error rate > "
                         f"{safety.max_error_rate:.0%}, measured by {' and '.join(watched)}")
        else:
            lines.append("  no guard during the method (no guard probe, no background load)")
        if safety.max_p95_ms is not None and load is not None:
            lines.append(f"  abort when the background load's p95 > {safety.max_p95_ms:.0f} ms")
        if safety.blast is not None:
            b = safety.blast
            lines.append(f"  blast radius {b.level}" + (f", max {b.max_targets} targets" if b.max_targets else "")
                         + (f", max {b.max_fraction:.0%} of {len(b.population)}" if b.max_fraction else ""))
    if recovery is not None:
        lines += ["", f"Recovery: the hypothesis every {recovery.frequency}s after the revert, held {recovery.hold}s,"
                  f" timeout {recovery.timeout}s" + (f", target {recovery.target}s" if recovery.target is not None else "")]
    return "\n".join(lines)
