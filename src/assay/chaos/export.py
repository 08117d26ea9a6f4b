"""`assay chaos export EXPERIMENT --to chaos-mesh`: the experiment's faults as one Chaos Mesh Workflow.

The method's order is kept: each fault is a chaos template with its duration as deadline, a
pause is a Suspend template, a background fault starts together with the step after it (a
Parallel template). Proxy toxics become the NetworkChaos closest to them (latency -> delay,
bandwidth -> bandwidth); probes, python/process/http actions and toxics with no equivalent are
listed as skipped, never exported silently wrong. Every manifest is validated against the
Chaos Mesh CRDs (faults.chaosmesh).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from assay.chaos.plan import Injection, build
from assay.faults.chaosmesh import NoEquivalent, SelectorMap, export_fault, workflow


@dataclass
class Exported:
    manifest: dict[str, Any]
    skipped: list[str] = field(default_factory=list)


def _toxic_as_fault(inj: Injection) -> tuple[str, dict[str, Any]]:
    attrs = dict(inj.params.get("attributes") or {})
    if inj.what == "latency":
        return "network.netem", {"delay": f"{int(attrs.get('latency', 0))}ms", "jitter": f"{int(attrs.get('jitter', 0))}ms"}
    if inj.what == "bandwidth":
        return "network.bandwidth", {"rate": f"{int(attrs.get('rate', 0)) * 8}kbit"}
    raise NoEquivalent(f"toxic {inj.what}: no NetworkChaos/HTTPChaos does what this proxy toxic does")


def _manifest(inj: Injection, mapping: SelectorMap) -> dict[str, Any]:
    if inj.kind == "toxic":
        fault, params = _toxic_as_fault(inj)
    else:
        fault, params = inj.what, dict(inj.params)
    return export_fault(fault, params, inj.target, inj.duration, mapping, name=inj.label)


def to_chaos_mesh(experiment: Mapping[str, Any], mapping: SelectorMap) -> Exported:
    """One validated Workflow; raises NoEquivalent when no fault of the experiment can be exported."""
    plan = build(experiment)
    skipped: list[str] = []
    steps: list[Any] = []
    waiting: list[dict[str, Any]] = []  # background faults, started with the next step
    by_label = {i.label: i for i in plan.injections}
    for act in experiment.get("method") or []:
        if not isinstance(act, dict):
            continue
        pauses = act.get("pauses") or {}
        if isinstance(pauses.get("before"), (int, float)) and pauses["before"] > 0:
            steps.append({"suspend": pauses["before"]})
        name = str(act.get("name") or act.get("ref"))
        inj = by_label.get(name)
        if inj is None:
            skipped.append(f"{act.get('type', 'ref')} {name}: not a fault (runs only under assay chaos run)")
        else:
            try:
                manifest = _manifest(inj, mapping)
            except NoEquivalent as exc:
                skipped.append(f"{name}: {exc.message}")
            else:
                if act.get("background"):
                    waiting.append(manifest)
                elif waiting:
                    steps.append({"parallel": [*waiting, manifest]})
                    waiting = []
                else:
                    steps.append(manifest)
        if isinstance(pauses.get("after"), (int, float)) and pauses["after"] > 0 and not act.get("background"):
            if waiting:
                steps.append({"parallel": [*waiting, {"suspend": pauses["after"]}]})
                waiting = []
            else:
                steps.append({"suspend": pauses["after"]})
    if waiting:
        steps.append({"parallel": waiting})
    manifests = [m for s in steps for m in (s["parallel"] if "parallel" in s else [s]) if "suspend" not in m]
    if not manifests:
        raise NoEquivalent(f"{plan.title}: no fault of the experiment has a Chaos Mesh equivalent ("
                           + "; ".join(skipped) + ")")
    return Exported(workflow(manifests, plan.title, steps=steps, namespace=mapping.namespace), skipped)
