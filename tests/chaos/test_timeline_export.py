"""The HTML timeline (self-contained, drawn by headless Chromium without console errors) and
`assay chaos export --to chaos-mesh` (a Workflow valid against the Chaos Mesh CRDs)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from assay.chaos.export import to_chaos_mesh
from assay.faults.chaosmesh import SelectorMap, validate
from assay.faults.model import FaultError


@pytest.fixture(autouse=True)
def _lock_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSAY_CHAOS_LOCK_DIR", str(tmp_path / "locks"))


def _cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "assay", "chaos", *args], capture_output=True, text=True, timeout=timeout,
                          env=os.environ.copy())


def _chromium(page: Path, png: Path, system_tool: Any) -> str:
    binary = system_tool("chromium")
    with tempfile.TemporaryDirectory(prefix="assay-chaos-chromium-") as profile:
        proc = subprocess.run(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
             "--enable-logging=stderr", "--v=0", f"--screenshot={png}", "--window-size=1200,1200", "--hide-scrollbars",
             page.as_uri()], check=True, capture_output=True, text=True, timeout=120)
    return proc.stderr


def _pixels(png: Path, hex_colour: str) -> int:
    from PIL import Image

    target = tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return sum(1 for p in Image.open(png).convert("RGB").getdata() if p == target)


@pytest.mark.slow
def test_html_timeline_of_a_real_run_draws_faults_probes_load_and_recovery(
        tmp_path: Path, recovering_service: str, sleeper: subprocess.Popen[bytes], system_tool: Any) -> None:
    base = recovering_service
    exp = tmp_path / "exp.json"
    exp.write_text(json.dumps({
        "title": "timeline <demo>", "description": "a fault, the service breaks and heals",
        "steady-state-hypothesis": {"title": "healthy", "probes": [
            {"type": "probe", "name": "health", "tolerance": 200, "provider": {"type": "http", "url": f"{base}/health"}}]},
        "method": [{"type": "action", "name": "pause worker", "provider": {"type": "assay", "func": "fault", "arguments": {
                        "fault": "process.pause", "target": f"pid:{sleeper.pid}", "duration": "30s"}}},
                   {"type": "action", "name": "break", "provider": {"type": "http", "url": f"{base}/break", "method": "POST"},
                    "pauses": {"before": 0.5, "after": 1.5}},
                   {"type": "action", "name": "heal", "provider": {"type": "http", "url": f"{base}/heal?delay=1", "method": "POST"}}],
        "extensions": [{"name": "assay", "recovery": {"frequency": 0.2, "timeout": 20},
                        "load": {"url": f"{base}/health", "rate": 30, "segment": "500ms"}}],
    }))
    page = tmp_path / "timeline.html"
    done = _cli("run", str(exp), "--journal-path", str(tmp_path / "journal.json"), "--html", str(page),
                "--hypothesis-strategy", "during-method-only", "--hypothesis-frequency", "0.2")
    assert done.returncode == 0, done.stderr
    text = page.read_text()
    assert "<script" not in text and "<link" not in text
    assert not re.search(r"""(src|href|url)\s*[=(]\s*["']?https?:""", text)
    assert "timeline &lt;demo&gt;" in text  # escaped
    assert 'class="fault-band"' in text and 'class="fault"' in text and "pause worker" in text
    assert 'class="probe missed"' in text and 'class="probe met"' in text
    assert 'class="series p95_ms"' in text and 'class="series rps"' in text and 'class="series errors"' in text
    assert 'class="ttd"' in text and "time to detect" in text and 'class="ttr"' in text and "time to recover" in text
    png = tmp_path / "timeline.png"
    log = _chromium(page, png, system_tool)
    assert "CONSOLE" not in log and "Uncaught" not in log, log
    assert _pixels(png, "#188038") > 100 and _pixels(png, "#e37400") > 50 and _pixels(png, "#d93025") > 100
    # the same page from a saved journal
    again = tmp_path / "again.html"
    done = _cli("report", str(tmp_path / "journal.json"), "--html", str(again))
    assert done.returncode == 0 and again.read_text() == text
    done = _cli("report", str(exp), "--html", str(again))
    assert done.returncode == 64 and "not a chaos journal" in done.stderr


MAPPING = {"namespace": "shop", "targets": {"courier": {"labels": {"app": "courier"}},
                                            "worker": {"labels": {"app": "courier-worker"}},
                                            "db": {"namespace": "data", "labels": {"app": "postgres"}}}}


def _experiment() -> dict[str, Any]:
    def fault(name: str, fault: str, target: str, duration: str, **params: Any) -> dict[str, Any]:
        return {"type": "action", "name": name, "provider": {"type": "assay", "func": "fault", "arguments": {
            "fault": fault, "target": target, "duration": duration, **params}}}

    return {
        "title": "Courier cascade", "description": "db slow, worker killed, cpu",
        "configuration": {"delay": "1500ms"},
        "method": [
            {"type": "action", "name": "slow db", "background": True, "provider": {"type": "assay", "func": "toxic", "arguments": {
                "proxy": "db", "type": "latency", "attributes": {"latency": 1500, "jitter": 100}, "duration": "60s"}}},
            fault("kill worker", "process.kill", "service:worker", "1s", signal="SIGKILL") | {"pauses": {"after": 10}},
            fault("pause worker", "process.pause", "service:worker", "5s"),
            fault("cpu", "stress.cpu", "courier", "30s", workers=2, load=80) | {"pauses": {"before": 5}},
            {"type": "probe", "name": "ready", "provider": {"type": "http", "url": "http://127.0.0.1:8080/health/ready"}},
        ],
    }


def test_export_writes_a_workflow_valid_against_the_crds() -> None:
    exported = to_chaos_mesh(_experiment(), SelectorMap.model_validate(MAPPING))
    manifest = exported.manifest
    assert validate(manifest) == []
    templates = {t["name"]: t for t in manifest["spec"]["templates"]}
    entry = templates["entry"]
    assert entry["templateType"] == "Serial"
    kinds = [templates[c]["templateType"] for c in entry["children"]]
    assert kinds == ["Parallel", "Suspend", "Suspend", "StressChaos"]
    together = templates[entry["children"][0]]
    assert [templates[c]["templateType"] for c in together["children"]] == ["NetworkChaos", "PodChaos"]
    net = templates[together["children"][0]]
    assert net["networkChaos"]["delay"] == {"latency": "1500ms", "jitter": "100ms"} and net["deadline"] == "60s"
    assert templates[entry["children"][1]]["deadline"] == "10s"
    assert exported.skipped[0].startswith("pause worker: process.pause (SIGSTOP, requests hang) has no Chaos Mesh equivalent")
    assert exported.skipped[1].startswith("probe ready: not a fault")


def test_export_cli_writes_yaml_and_refuses_what_cannot_be_exported(tmp_path: Path) -> None:
    exp, mapping, out = tmp_path / "exp.yaml", tmp_path / "map.yaml", tmp_path / "workflow.yaml"
    exp.write_text(yaml.safe_dump(_experiment()))
    mapping.write_text(yaml.safe_dump(MAPPING))
    done = _cli("export", str(exp), "--to", "chaos-mesh", "-m", str(mapping), "-o", str(out))
    assert done.returncode == 0, done.stderr
    manifest = yaml.safe_load(out.read_text())
    assert manifest["kind"] == "Workflow" and validate(manifest) == []
    assert "not exported: pause worker" in done.stderr
    only_pause = _experiment()
    only_pause["method"] = [only_pause["method"][2]]
    exp.write_text(yaml.safe_dump(only_pause))
    done = _cli("export", str(exp), "--to", "chaos-mesh", "-m", str(mapping))
    assert done.returncode == 64 and "no fault of the experiment has a Chaos Mesh equivalent" in done.stderr
    done = _cli("export", str(exp), "--to", "litmus", "-m", str(mapping))
    assert done.returncode == 64 and "expected chaos-mesh" in done.stderr
    with pytest.raises(FaultError, match="no selector for target 'nowhere'"):
        bad = _experiment()
        bad["method"] = [bad["method"][3] | {"provider": {**bad["method"][3]["provider"], "arguments": {
            **bad["method"][3]["provider"]["arguments"], "target": "nowhere"}}}]
        to_chaos_mesh(bad, SelectorMap.model_validate(MAPPING))
