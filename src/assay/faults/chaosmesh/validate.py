"""Validate Chaos Mesh manifests: jsonschema on the v2.8.3 CRDs' openAPIV3Schema, plus the
admission-webhook rules the schema does not check (shared reference faults.md §4)."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import jsonschema
import yaml

CRDS = Path(__file__).parent / "crds"
API_VERSION = "chaos-mesh.org/v1alpha1"
KIND_FILES = {
    "NetworkChaos": "networkchaos", "PodChaos": "podchaos", "StressChaos": "stresschaos", "IOChaos": "iochaos",
    "TimeChaos": "timechaos", "HTTPChaos": "httpchaos", "Schedule": "schedules", "Workflow": "workflows",
}
CHAOS_KEYS = {"NetworkChaos": "networkChaos", "PodChaos": "podChaos", "StressChaos": "stressChaos",
              "IOChaos": "ioChaos", "TimeChaos": "timeChaos", "HTTPChaos": "httpChaos", "Workflow": "workflow"}
GO_DURATION = re.compile(r"^-?((\d+(\.\d+)?)(ns|us|µs|ms|s|m|h))+$")
MODES = {"one", "all", "fixed", "fixed-percent", "random-max-percent"}


@functools.cache
def validator(kind: str) -> jsonschema.Draft7Validator:
    text = (CRDS / f"chaos-mesh.org_{KIND_FILES[kind]}.yaml").read_text()
    crd = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return jsonschema.Draft7Validator(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"])


def schema_errors(manifest: dict[str, Any]) -> list[str]:
    kind = manifest.get("kind")
    if kind not in KIND_FILES:
        return [f"kind: {kind!r} is not one of {', '.join(KIND_FILES)}"]
    out = []
    for err in validator(kind).iter_errors(manifest):
        where = ".".join(str(p) for p in err.absolute_path) or "(root)"
        out.append(f"{where}: {err.message}")
    return out


def _percent(value: Any, where: str, out: list[str]) -> None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        out.append(f"{where}: {value!r} is not a percentage")
        return
    if not 0 <= number <= 100:
        out.append(f"{where}: {value!r} is outside 0..100")


def _chaos_rules(kind: str, spec: dict[str, Any], where: str, out: list[str], need_duration: bool = True) -> None:
    mode = spec.get("mode")
    if mode not in MODES:
        out.append(f"{where}.mode: {mode!r} is not one of {sorted(MODES)}")
    value = spec.get("value")
    if mode == "fixed":
        if not (isinstance(value, str) and value.isdigit() and int(value) > 0):
            out.append(f"{where}.value: mode fixed needs an integer > 0 as a string, got {value!r}")
    elif mode in ("fixed-percent", "random-max-percent"):
        if not (isinstance(value, str) and value.isdigit() and 0 < int(value) <= 100):
            out.append(f"{where}.value: mode {mode} needs a percentage 1..100 as a string, got {value!r}")
    duration = spec.get("duration")
    if duration is not None and not GO_DURATION.match(str(duration)):
        out.append(f"{where}.duration: {duration!r} is not a Go duration like 30s or 1m30s")
    if kind == "PodChaos":
        if spec.get("action") == "container-kill" and not spec.get("containerNames"):
            out.append(f"{where}.containerNames: container-kill needs containerNames")
        if spec.get("action") == "pod-failure" and need_duration and duration is None:
            out.append(f"{where}.duration: pod-failure needs a duration")
    elif kind == "StressChaos":
        stressors = spec.get("stressors") or {}
        if not stressors and not spec.get("stressngStressors"):
            out.append(f"{where}: StressChaos needs stressors or stressngStressors")
        for name, stressor in stressors.items():
            if int(stressor.get("workers", 0)) <= 0:
                out.append(f"{where}.stressors.{name}.workers: must be > 0")
            if name == "cpu" and "load" in stressor and not 0 <= int(stressor["load"]) <= 100:
                out.append(f"{where}.stressors.cpu.load: outside 0..100")
    elif kind == "NetworkChaos":
        for key, field in (("loss", "loss"), ("duplicate", "duplicate"), ("corrupt", "corrupt")):
            if key in spec:
                _percent(spec[key].get(field), f"{where}.{key}.{field}", out)
                if "correlation" in spec[key]:
                    _percent(spec[key]["correlation"], f"{where}.{key}.correlation", out)
        if "delay" in spec:
            for key in ("latency", "jitter"):
                if key in spec["delay"] and not GO_DURATION.match(str(spec["delay"][key])):
                    out.append(f"{where}.delay.{key}: {spec['delay'][key]!r} is not a duration")
        if spec.get("action") == "partition" and "target" not in spec and not spec.get("externalTargets"):
            out.append(f"{where}.target: partition needs a target (or externalTargets)")
        if "target" in spec:
            _chaos_rules("target", spec["target"], f"{where}.target", out, need_duration=False)
    elif kind == "IOChaos":
        if "percent" in spec:
            _percent(spec["percent"], f"{where}.percent", out)
        if spec.get("action") == "latency" and not GO_DURATION.match(str(spec.get("delay", ""))):
            out.append(f"{where}.delay: latency needs a delay duration")
        if spec.get("action") == "fault" and not spec.get("errno"):
            out.append(f"{where}.errno: fault needs an errno")
    elif kind == "TimeChaos":
        if not GO_DURATION.match(str(spec.get("timeOffset", ""))):
            out.append(f"{where}.timeOffset: {spec.get('timeOffset')!r} is not a signed duration")
    elif kind == "HTTPChaos":
        if "delay" in spec and not GO_DURATION.match(str(spec["delay"])):
            out.append(f"{where}.delay: {spec['delay']!r} is not a duration")
        if not any(k in spec for k in ("abort", "delay", "replace", "patch")):
            out.append(f"{where}: HTTPChaos needs one of abort, delay, replace, patch")


def webhook_errors(manifest: dict[str, Any]) -> list[str]:
    """The admission webhook's checks that the openAPI schema leaves out."""
    kind, spec, out = manifest.get("kind"), manifest.get("spec") or {}, []
    if kind == "Schedule":
        if not str(spec.get("schedule", "")).strip():
            out.append("spec.schedule: empty")
        inner = spec.get("type")
        key = CHAOS_KEYS.get(str(inner))
        if key is None or key not in spec:
            out.append(f"spec.type: {inner!r} needs its spec under {key or 'a known kind key'}")
        elif inner == "Workflow":
            _workflow_rules(spec[key], "spec.workflow", out)
        else:
            _chaos_rules(str(inner), spec[key], f"spec.{key}", out, need_duration=False)
    elif kind == "Workflow":
        _workflow_rules(spec, "spec", out)
    elif kind in KIND_FILES:
        _chaos_rules(str(kind), spec, "spec", out)
    return out


def _workflow_rules(spec: dict[str, Any], where: str, out: list[str]) -> None:
    names = [t.get("name") for t in spec.get("templates", [])]
    if spec.get("entry") not in names:
        out.append(f"{where}.entry: {spec.get('entry')!r} is not a template name")
    for i, template in enumerate(spec.get("templates", [])):
        at = f"{where}.templates[{i}]"
        for child in template.get("children") or []:
            if child not in names:
                out.append(f"{at}.children: {child!r} is not a template name")
        deadline = template.get("deadline")
        if deadline is not None and not GO_DURATION.match(str(deadline)):
            out.append(f"{at}.deadline: {deadline!r} is not a duration")
        key = CHAOS_KEYS.get(str(template.get("templateType")))
        if key is not None:
            if key not in template:
                out.append(f"{at}: templateType {template['templateType']} needs {key}")
            else:
                _chaos_rules(template["templateType"], template[key], f"{at}.{key}", out, need_duration=False)


def validate(manifest: dict[str, Any]) -> list[str]:
    """Every problem with one manifest: schema first, then the webhook rules."""
    return schema_errors(manifest) + webhook_errors(manifest)
