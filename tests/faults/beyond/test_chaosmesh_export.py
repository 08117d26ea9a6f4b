"""Chaos Mesh export: every manifest validates against the v2.8.3 CRDs (jsonschema) and the webhook
rules; faults with no equivalent say so; property tests over random parameters."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assay.faults.chaosmesh import NoEquivalent, SelectorMap, export_fault, schedule, validate, workflow
from assay.faults.model import FaultError

MAPPING = SelectorMap.model_validate({
    "namespace": "shop",
    "targets": {
        "courier": {"labels": {"app": "courier"}, "port": 8080},
        "db": {"namespace": "data", "labels": {"app": "postgres"}, "mode": "fixed", "value": "1"},
        "api": {"labels": {"app": "api"}, "mode": "fixed-percent", "value": "50", "containerNames": ["api"], "port": 80},
    },
})

SUPPORTED = [
    ("process.kill", {}, "PodChaos"),
    ("process.kill", {"signal": "SIGTERM"}, "PodChaos"),
    ("process.restart", {}, "PodChaos"),
    ("network.netem", {"delay": "100ms", "jitter": "10ms", "correlation": 25}, "NetworkChaos"),
    ("network.netem", {"loss": 10, "duplicate": 1, "corrupt": 2, "delay": "5ms", "reorder": 10, "reorder_gap": 3}, "NetworkChaos"),
    ("network.netem", {"loss": 30}, "NetworkChaos"),
    ("network.netem", {"rate": "1mbit"}, "NetworkChaos"),
    ("network.bandwidth", {"rate": "2mbps"}, "NetworkChaos"),
    ("network.loss", {"loss": 12.5}, "NetworkChaos"),
    ("network.partition", {"peer": "db@10.0.0.3", "direction": "to"}, "NetworkChaos"),
    ("stress.cpu", {"workers": 2, "load": 80}, "StressChaos"),
    ("stress.memory", {"size": "256MB"}, "StressChaos"),
    ("stress.memory", {"size": "10%"}, "StressChaos"),
    ("stress.io", {"path": "/var/lib/data"}, "StressChaos"),
    ("io.fault", {"action": "latency", "delay": "50ms", "methods": ["read"]}, "IOChaos"),
    ("io.fault", {"action": "fault", "errno": 28, "percent": 50}, "IOChaos"),
    ("clock.offset", {"offset": "-10m"}, "TimeChaos"),
    ("inprocess", {"kind": "LATENCY", "point": "http", "path": "/conversations", "delay": "2s"}, "HTTPChaos"),
    ("inprocess", {"kind": "EXCEPTION", "point": "http", "method": "post"}, "HTTPChaos"),
    ("inprocess", {"kind": "CIRCUIT_BREAK", "point": "http"}, "HTTPChaos"),
]


@pytest.mark.parametrize("fault_type, params, kind", SUPPORTED)
@pytest.mark.parametrize("target", ["courier", "api"])
def test_every_supported_fault_exports_a_valid_manifest(fault_type: str, params: dict[str, Any], kind: str, target: str) -> None:
    manifest = export_fault(fault_type, params, target, "30s", MAPPING)
    assert manifest["kind"] == kind
    assert manifest["spec"]["duration"] == "30s"
    assert validate(manifest) == []


def test_values_map_onto_chaos_mesh_fields() -> None:
    netem = export_fault("network.netem", {"delay": "100ms", "jitter": "10ms", "loss": 5}, "courier", "1m", MAPPING)["spec"]
    assert (netem["action"], netem["delay"], netem["loss"]) == ("netem", {"latency": "100ms", "jitter": "10ms"}, {"loss": "5"})
    assert netem["selector"] == {"namespaces": ["shop"], "labelSelectors": {"app": "courier"}}
    only_loss = export_fault("network.netem", {"loss": 30}, "courier", None, MAPPING)["spec"]
    assert only_loss["action"] == "loss" and "duration" not in only_loss
    kill = export_fault("process.kill", {}, "service:db", None, MAPPING)
    assert kill["metadata"]["namespace"] == "data" and kill["spec"]["gracePeriod"] == 0 and kill["spec"]["value"] == "1"
    part = export_fault("network.partition", {"peer": "db@10.0.0.3"}, "courier", "30s", MAPPING)["spec"]
    assert part["target"]["selector"]["labelSelectors"] == {"app": "postgres"} and part["direction"] == "both"
    http = export_fault("inprocess", {"kind": "EXCEPTION", "point": "http", "status": 502}, "courier", "30s", MAPPING)["spec"]
    assert (http["target"], http["replace"], http["port"]) == ("Response", {"code": 502}, 8080)


@pytest.mark.parametrize(
    "fault_type, params, reason",
    [
        ("process.pause", {}, "pod-failure"),
        ("process.kill", {"signal": "SIGUSR1"}, "SIGTERM or SIGKILL"),
        ("memory.leak", {}, "fixed size"),
        ("network.loss", {"loss": 5, "to": "10.0.0.9"}, "by pod"),
        ("disk.fill", {"path": "/data"}, "Litmus"),
        ("inprocess", {"kind": "LATENCY", "point": "db.*", "delay": "3s"}, "inside the code"),
        ("inprocess", {"kind": "LATENCY", "point": "http", "delay": "3s", "probability": 0.25}, "probability"),
        ("inprocess", {"kind": "RATE_LIMIT", "point": "http"}, "per-window"),
        ("inprocess", {"kind": "TIMEOUT", "point": "http"}, "delay-then-fail"),
        ("inprocess", {"kind": "LATENCY", "point": "http", "delay": "3s", "jitter": "500ms"}, "jitter"),
    ],
)
def test_faults_without_an_equivalent_say_so(fault_type: str, params: dict[str, Any], reason: str) -> None:
    with pytest.raises(NoEquivalent, match=reason):
        export_fault(fault_type, params, "courier", "30s", MAPPING)


def test_unknown_target_is_named() -> None:
    with pytest.raises(FaultError, match="no selector for target 'payments'.*add targets.payments"):
        export_fault("process.kill", {}, "payments", "30s", MAPPING)


def _valid() -> dict[str, Any]:
    return export_fault("network.netem", {"delay": "10ms", "loss": 5}, "courier", "30s", MAPPING)


@pytest.mark.parametrize(
    "path, value, message",
    [
        (("spec", "mode"), "some", "mode"),
        (("spec", "direction"), "sideways", "direction"),
        (("spec", "delay", "latency"), "10 ms", "latency"),
        (("spec", "duration"), "10 minutes", "Go duration"),
        (("spec", "loss", "loss"), "150", "outside 0..100"),
        (("spec", "value"), "x", "mode all"),
    ],
)
def test_schema_and_webhook_rules_reject_bad_values(path: tuple[str, ...], value: str, message: str) -> None:
    manifest = copy.deepcopy(_valid())
    node = manifest
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    if path[-1] == "value":  # value is only checked for the modes that use it
        manifest["spec"]["mode"] = "fixed"
        message = "integer > 0"
    problems = validate(manifest)
    assert problems and any(message.split()[0] in p or message in p for p in problems), problems


def test_webhook_rules_the_schema_misses() -> None:
    pod = export_fault("process.kill", {}, "courier", "30s", MAPPING)
    pod["spec"]["action"] = "container-kill"
    assert any("containerNames" in p for p in validate(pod))
    pod["spec"]["action"] = "pod-failure"
    del pod["spec"]["duration"]
    assert any("pod-failure needs a duration" in p for p in validate(pod))
    stress = export_fault("stress.cpu", {}, "courier", "30s", MAPPING)
    stress["spec"]["stressors"]["cpu"]["workers"] = 0
    assert any("workers: must be > 0" in p for p in validate(stress))
    stress["spec"].pop("stressors")
    assert any("needs stressors" in p for p in validate(stress))
    pct = export_fault("stress.cpu", {}, "api", "30s", MAPPING)
    pct["spec"]["value"] = "101"
    assert any("1..100" in p for p in validate(pct))


def test_schedule_and_workflow_validate() -> None:
    one = export_fault("stress.cpu", {"workers": 1}, "courier", "1m", MAPPING)
    sched = schedule(one, "@every 1h")
    assert sched["spec"]["type"] == "StressChaos" and "stressChaos" in sched["spec"]
    steps = [_valid(), export_fault("process.kill", {}, "db", None, MAPPING)]
    flow = workflow(steps, "nightly")
    templates = flow["spec"]["templates"]
    assert templates[0]["templateType"] == "Serial" and templates[0]["children"] == [t["name"] for t in templates[1:]]
    assert templates[1]["deadline"] == "30s" and "duration" not in templates[1]["networkChaos"]
    assert validate(schedule(flow, "0 3 * * *")) == []
    broken = copy.deepcopy(flow)
    broken["spec"]["entry"] = "nope"
    assert any("entry" in p for p in validate(broken))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    delay_ms=st.integers(0, 10_000), jitter_ms=st.integers(0, 10_000), correlation=st.integers(0, 100),
    loss=st.floats(0, 100, allow_nan=False), duplicate=st.integers(0, 100), corrupt=st.integers(0, 100),
    duration_s=st.integers(1, 86_400),
)
def test_any_valid_netem_parameters_export_valid_manifests(delay_ms: int, jitter_ms: int, correlation: int, loss: float,
                                                          duplicate: int, corrupt: int, duration_s: int) -> None:
    params = {"delay": f"{delay_ms}ms", "jitter": f"{min(jitter_ms, delay_ms)}ms", "correlation": correlation,
              "loss": round(loss, 2), "duplicate": duplicate, "corrupt": corrupt}
    try:
        manifest = export_fault("network.netem", params, "courier", duration_s, MAPPING)
    except Exception as exc:  # only parameter errors for the all-zero case are acceptable
        assert "at least one" in str(exc)
        return
    assert validate(manifest) == []


@settings(max_examples=40, deadline=None)
@given(workers=st.integers(1, 8192), load=st.integers(0, 100), mb=st.integers(1, 100_000))
def test_any_valid_stress_parameters_export_valid_manifests(workers: int, load: int, mb: int) -> None:
    assert validate(export_fault("stress.cpu", {"workers": workers, "load": load}, "courier", "1m", MAPPING)) == []
    assert validate(export_fault("stress.memory", {"workers": min(workers, 64), "size": f"{mb}MB"}, "db", "1m", MAPPING)) == []


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "assay", "fault", "export", *args], capture_output=True, text=True, timeout=60)


def test_cli_exports_sequences_and_reports_bad_input(tmp_path: Path) -> None:
    mapping = tmp_path / "map.yaml"
    mapping.write_text(yaml.safe_dump(MAPPING.model_dump(exclude_none=True)))
    steps = tmp_path / "steps.yaml"
    steps.write_text(yaml.safe_dump([
        {"type": "network.netem", "target": "courier", "duration": "1m", "params": {"delay": "200ms"}},
        {"type": "stress.cpu", "target": "db", "duration": "30s", "params": {"workers": 2}},
    ]))
    out = tmp_path / "flow.yaml"
    done = _cli("--sequence", str(steps), "-m", str(mapping), "--schedule", "@every 6h", "-o", str(out))
    assert done.returncode == 0, done.stderr
    flow = yaml.safe_load(out.read_text())
    assert flow["kind"] == "Schedule" and flow["spec"]["type"] == "Workflow" and validate(flow) == []
    bad = tmp_path / "bad.yaml"
    bad.write_text("- type: network.netem\n  target: courier\n  duraton: 1m\n")
    done = _cli("--sequence", str(bad), "-m", str(mapping))
    assert done.returncode == 64 and "bad.yaml:3" in done.stderr and "duraton" in done.stderr
    done = _cli("process.pause", "-t", "courier", "-m", str(mapping))
    assert done.returncode == 64 and "no Chaos Mesh equivalent" in done.stderr
    bad_map = tmp_path / "badmap.yaml"
    bad_map.write_text("namespace: shop\ntargets:\n  courier: {lables: {app: courier}}\n")
    done = _cli("process.kill", "-t", "courier", "-m", str(bad_map))
    assert done.returncode == 64 and "badmap.yaml:3" in done.stderr and "labels" in done.stderr
