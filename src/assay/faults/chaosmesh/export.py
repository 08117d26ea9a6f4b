"""Turn assay faults into Chaos Mesh v2.8 manifests, validated before they are returned.

A small mapping file says which pods a local target stands for:

    namespace: shop                        # default namespace of the manifests
    targets:
      courier: {labels: {app: courier}, port: 8080}
      db: {namespace: data, labels: {app: postgres}, mode: one}

A fault with no faithful Chaos Mesh equivalent raises NoEquivalent naming the closest
kind and why it differs: an export is never silently wrong.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from assay.config import StrictModel, load_config
from assay.faults import registry
from assay.faults.chaosmesh.validate import API_VERSION, CHAOS_KEYS, validate
from assay.faults.model import FaultError, format_duration, parse_duration
from assay.faults.sizes import parse_percent, parse_size


class NoEquivalent(FaultError):
    """The fault cannot be expressed in Chaos Mesh without changing what it does."""


class InvalidManifest(FaultError):
    """A generated manifest fails the CRD schema or the webhook rules (its lines say where)."""


class TargetSelector(StrictModel):
    namespace: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    mode: str = "all"
    value: str | None = None
    containerNames: list[str] | None = None  # noqa: N815 - Chaos Mesh's key
    port: int | None = Field(None, description="HTTPChaos: the port the service listens on in the pod")
    volumePath: str | None = None  # noqa: N815


class SelectorMap(StrictModel):
    namespace: str = "default"
    targets: dict[str, TargetSelector] = Field(default_factory=dict)


def load_mapping(path: str | Path) -> SelectorMap:
    return load_config(path, SelectorMap)


def target_name(target: Any) -> str | None:
    if target is None:
        return None
    text = str(getattr(target, "name", target))
    return text.split(":", 1)[1] if re.match(r"^(service|netns|proxy|pid|pattern):", text) else text


def _dns_name(*parts: str) -> str:
    name = re.sub(r"[^a-z0-9-]+", "-", "-".join(parts).lower()).strip("-")
    return name[:63].rstrip("-") or "assay-fault"


def _select(mapping: SelectorMap, target: Any, what: str) -> tuple[str, TargetSelector, dict[str, Any]]:
    name = target_name(target)
    if name is None:
        raise FaultError(f"{what}: exporting needs --target NAME (a key of the mapping file's targets)")
    sel = mapping.targets.get(str(target)) or mapping.targets.get(name)
    if sel is None:
        known = ", ".join(sorted(mapping.targets)) or "none"
        raise FaultError(f"{what}: no selector for target {name!r} in the mapping file (known: {known}); add targets.{name}")
    namespace = sel.namespace or mapping.namespace
    common: dict[str, Any] = {"mode": sel.mode, "selector": {"namespaces": [namespace]}}
    if sel.labels:
        common["selector"]["labelSelectors"] = dict(sel.labels)
    if sel.value is not None:
        common["value"] = sel.value
    if sel.containerNames:
        common["containerNames"] = list(sel.containerNames)
    return name, sel, common


def _pct(value: float) -> str:
    return f"{value:g}"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:g}ms"


def _memory_size(size: str) -> str:
    if parse_percent(size) is not None:
        return size
    if re.match(r"^\d+(B|KB|KiB|MB|MiB|GB|GiB|TB|TiB)$", size):
        return size
    return f"{parse_size(size)}B"


def _spec(fault_type: str, p: Any, sel: TargetSelector, mapping: SelectorMap, common: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(kind, spec without duration) for one fault, or NoEquivalent."""
    if fault_type in ("process.kill", "process.restart"):
        sig = getattr(p, "signal", "SIGTERM")
        if sig not in ("SIGKILL", "SIGTERM"):
            raise NoEquivalent(f"{fault_type} with {sig}: PodChaos kills pods with SIGTERM or SIGKILL only")
        return "PodChaos", {**common, "action": "pod-kill", "gracePeriod": 0 if sig == "SIGKILL" else 30}
    if fault_type == "process.pause":
        raise NoEquivalent("process.pause (SIGSTOP, requests hang) has no Chaos Mesh equivalent; the closest, "
                           "PodChaos pod-failure, makes requests fail at once instead of hang")
    if fault_type == "network.netem":
        effects: dict[str, Any] = {}
        if p.delay:
            delay: dict[str, Any] = {"latency": _ms(p.delay)}
            if p.jitter:
                delay["jitter"] = _ms(p.jitter)
            if p.correlation:
                delay["correlation"] = _pct(p.correlation)
            if p.reorder:
                delay["reorder"] = {"reorder": _pct(p.reorder), "correlation": "0", "gap": p.reorder_gap}
            effects["delay"] = delay
        for key in ("loss", "duplicate", "corrupt"):
            if getattr(p, key):
                effects[key] = {key: _pct(getattr(p, key))}
        if p.rate:
            effects["rate"] = {"rate": p.rate}
        action = next(iter(effects)) if len(effects) == 1 and "rate" not in effects else "netem"
        return "NetworkChaos", {**common, "action": action, "direction": "to", **effects}
    if fault_type == "network.loss":
        if p.to:
            raise NoEquivalent("network.loss to one address: NetworkChaos selects targets by pod, not by IP; "
                               "use network.partition-style peers or drop `to`")
        return "NetworkChaos", {**common, "action": "loss", "direction": "to", "loss": {"loss": _pct(p.loss)}}
    if fault_type == "network.bandwidth":
        return "NetworkChaos", {**common, "action": "bandwidth", "direction": "to",
                                "bandwidth": {"rate": p.rate, "limit": p.limit, "buffer": p.burst}}
    if fault_type == "network.partition":
        if p.peer is None:
            raise NoEquivalent("network.partition without a peer has nothing to cut")
        peer_name = p.peer.split("@", 1)[0]
        _, _, peer_common = _select(mapping, peer_name, "network.partition peer")
        target = {k: v for k, v in peer_common.items() if k in ("mode", "selector", "value")}
        return "NetworkChaos", {**common, "action": "partition", "direction": p.direction, "target": target}
    if fault_type == "stress.cpu":
        return "StressChaos", {**common, "stressors": {"cpu": {"workers": p.workers, "load": p.load}}}
    if fault_type == "stress.memory":
        return "StressChaos", {**common, "stressors": {"memory": {"workers": p.workers, "size": _memory_size(p.size)}}}
    if fault_type == "stress.io":
        return "StressChaos", {**common, "stressngStressors":
                               f"--hdd {p.workers} --hdd-bytes {parse_size(p.size)} --temp-path {p.path}"}
    if fault_type == "memory.leak":
        raise NoEquivalent("memory.leak grows slowly; StressChaos memory holds a fixed size at once (no growth rate)")
    if fault_type == "disk.fill":
        raise NoEquivalent("disk.fill has no Chaos Mesh kind (Litmus has disk-fill); IOChaos changes file calls, not free space")
    if fault_type == "io.fault":
        volume = sel.volumePath or p.volume_path
        spec: dict[str, Any] = {**common, "action": p.action, "volumePath": volume, "path": p.path, "percent": p.percent}
        if p.methods:
            spec["methods"] = list(p.methods)
        if p.action == "latency":
            spec["delay"] = _ms(p.delay)
        else:
            spec["errno"] = p.errno
        return "IOChaos", spec
    if fault_type == "clock.offset":
        return "TimeChaos", {**common, "timeOffset": p.offset}
    if fault_type == "inprocess":
        return "HTTPChaos", _http_chaos(p, sel, common)
    raise NoEquivalent(f"{fault_type} has no Chaos Mesh equivalent")


def _http_chaos(p: Any, sel: TargetSelector, common: dict[str, Any]) -> dict[str, Any]:
    kind = p.kind.value
    if p.point != "http":
        raise NoEquivalent(f"inprocess {kind} on fault point {p.point!r} acts inside the code; "
                           "Chaos Mesh's HTTPChaos only sees HTTP traffic (point 'http')")
    if p.probability < 1:
        raise NoEquivalent("inprocess with probability < 1: HTTPChaos applies to every matching request")
    if p.blast_radius.value == "SINGLE_REQUEST":
        raise NoEquivalent("inprocess SINGLE_REQUEST: HTTPChaos cannot stop after one request")
    if sel.port is None:
        raise FaultError("inprocess export: the mapping file's target needs `port` (the pod's HTTP port)")
    spec: dict[str, Any] = {**common, "port": sel.port, "path": (p.path or "/") + "*"}
    if p.method:
        spec["method"] = p.method.upper()
    if kind == "LATENCY":
        if p.jitter:
            raise NoEquivalent("inprocess LATENCY with jitter: HTTPChaos delays by a fixed time")
        return {**spec, "target": "Request", "delay": _ms(p.delay)}
    if kind in ("EXCEPTION", "CIRCUIT_BREAK", "RESOURCE_EXHAUSTION"):
        status = p.status or {"EXCEPTION": 500, "CIRCUIT_BREAK": 503, "RESOURCE_EXHAUSTION": 503}[kind]
        return {**spec, "target": "Response", "replace": {"code": status}}
    raise NoEquivalent(f"inprocess {kind}: HTTPChaos has no {'per-window counter' if kind == 'RATE_LIMIT' else 'delay-then-fail'}")


def export_fault(fault_type: str, params: dict[str, Any] | BaseModel | None, target: Any, duration: float | str | None,
                 mapping: SelectorMap, name: str | None = None) -> dict[str, Any]:
    """One validated Chaos Mesh manifest for one fault."""
    from assay.faults import injector

    checked = injector.validate(fault_type, params)
    registry.get(fault_type)
    local, sel, common = _select(mapping, target, fault_type)
    kind, spec = _spec(fault_type, checked, sel, mapping, common)
    if duration is not None:
        spec["duration"] = format_duration(parse_duration(duration))
    manifest = {
        "apiVersion": API_VERSION,
        "kind": kind,
        "metadata": {"name": name or _dns_name(fault_type.replace(".", "-"), local),
                     "namespace": sel.namespace or mapping.namespace,
                     "labels": {"app.kubernetes.io/managed-by": "assay"}},
        "spec": spec,
    }
    return checked_manifest(manifest)


def checked_manifest(manifest: dict[str, Any]) -> dict[str, Any]:
    problems = validate(manifest)
    if problems:
        raise InvalidManifest(f"{manifest['kind']} {manifest['metadata']['name']}: " + "; ".join(problems))
    return manifest


def schedule(manifest: dict[str, Any], cron: str, history_limit: int = 5) -> dict[str, Any]:
    """Wrap one chaos (or a Workflow) in a Schedule: `@every 10m` or a cron line."""
    kind = manifest["kind"]
    inner = dict(manifest["spec"])
    return checked_manifest({
        "apiVersion": API_VERSION, "kind": "Schedule",
        "metadata": {**manifest["metadata"], "name": _dns_name(manifest["metadata"]["name"], "schedule")},
        "spec": {"schedule": cron, "type": kind, "historyLimit": history_limit,
                 "concurrencyPolicy": "Forbid", CHAOS_KEYS[kind]: inner},
    })


def workflow(manifests: list[dict[str, Any]], name: str, *, parallel: bool = False,
             namespace: str | None = None, steps: list[Any] | None = None) -> dict[str, Any]:
    """A Workflow running the manifests one after another (or together); each keeps its duration as deadline.

    `steps` instead lays out a sequence: a manifest, `{"suspend": seconds}` (a pause: a Suspend
    template), or `{"parallel": [manifests]}` (started together, e.g. a background fault and the next one).
    """
    templates: list[dict[str, Any]] = []
    counter = [0]

    def chaos_template(manifest: dict[str, Any]) -> str:
        counter[0] += 1
        spec = dict(manifest["spec"])
        deadline = spec.pop("duration", None)
        template: dict[str, Any] = {"name": _dns_name(f"{counter[0]}", manifest["metadata"]["name"]),
                                    "templateType": manifest["kind"], CHAOS_KEYS[manifest["kind"]]: spec}
        if deadline:
            template["deadline"] = deadline
        templates.append(template)
        return str(template["name"])

    def step_template(step: Any) -> str:
        if isinstance(step, dict) and "suspend" in step:
            counter[0] += 1
            t: dict[str, Any] = {"name": f"{counter[0]}-pause", "templateType": "Suspend",
                 "deadline": format_duration(parse_duration(step["suspend"]))}
            templates.append(t)
            return str(t["name"])
        if isinstance(step, dict) and "parallel" in step:
            children = [step_template(m) for m in step["parallel"]]
            counter[0] += 1
            group: dict[str, Any] = {"name": f"{counter[0]}-together", "templateType": "Parallel", "children": children}
            templates.append(group)
            return str(group["name"])
        return chaos_template(step)

    if steps is None:
        steps = [{"parallel": manifests}] if parallel else list(manifests)
        children = [step_template(m) for m in (manifests if parallel else steps)]
        entry = {"name": "entry", "templateType": "Parallel" if parallel else "Serial", "children": children}
    else:
        entry = {"name": "entry", "templateType": "Serial", "children": [step_template(s) for s in steps]}
    ns = namespace or (manifests[0]["metadata"]["namespace"] if manifests else "default")
    return checked_manifest({
        "apiVersion": API_VERSION, "kind": "Workflow",
        "metadata": {"name": _dns_name(name), "namespace": ns, "labels": {"app.kubernetes.io/managed-by": "assay"}},
        "spec": {"entry": "entry", "templates": [entry, *templates]},
    })
