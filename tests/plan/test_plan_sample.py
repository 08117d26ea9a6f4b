"""A plan follows its services' resources: `sample: true` on a service or `sample: [NAME]` on a
load/chaos step hands `--sample NAME=PID` to the step, so its result holds proc_* gauges that
thresholds, SLOs, leak verdicts and trends read; a `sample: true` service is also followed for
the whole night (its own result, peaks in the report). Names that match nothing are located errors."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from plan_helpers import PlanRun, assay

Run = Callable[..., PlanRun]
HERE = Path(__file__).resolve().parent
SERVICE = HERE / "slow_service.py"

EXPERIMENT = {
    "title": "hold a fault window",
    "description": "a process action held for 3 s; the experiment names one process to follow itself",
    "configuration": {"api_pid": "0"},
    "method": [{"type": "action", "name": "hold", "provider": {"type": "process", "path": sys.executable, "arguments": "-c pass"},
                "pauses": {"after": 3}}],
    "extensions": [{"name": "assay", "sample": ["declared=${api_pid}"]}],
}


@pytest.mark.slow
def test_sampled_services_land_in_the_load_and_chaos_results(run_plan: Run, tmp_path: Path) -> None:
    (tmp_path / "hold.json").write_text(json.dumps(EXPERIMENT))
    pidfile = tmp_path / "api.pid"
    run = run_plan(f"""\
name: sampled
services:
  api:
    command: [python, {SERVICE}, --port, "${{services.api.port}}", --pidfile, {pidfile}]
    port: auto
    sample: true
  other:
    command: [python, {SERVICE}, --port, "${{services.other.port}}"]
    port: auto
stages:
  s:
    steps:
      - {{name: smoke, kind: load, target: "${{services.api.url}}/", rate: 10, duration: 4s, vus: 2,
          thresholds: ["proc_threads{{proc:api}}:value<500"]}}
      - {{name: hold, kind: chaos, experiment: hold.json, sample: [other], vars: {{api_pid: "${{services.api.pid}}"}}}}
""")
    assert run.code == 0, run.err
    assert run.run_dir is not None
    pid = pidfile.read_text().strip()
    step_dir = run.run_dir / "stages" / "s"
    assert f"--sample api={pid}" in (step_dir / "smoke" / "step.log").read_text()
    load = json.loads((step_dir / "smoke" / "result.json").read_text())["metrics"]
    rss = load["proc_rss_bytes{proc:api}"]
    assert 1_000_000 < rss["value"] < 2_000_000_000 and rss["min"] <= rss["value"] <= rss["max"]  # a small python server
    assert 1 <= load["proc_threads{proc:api}"]["value"] < 500
    assert load["proc_open_fds{proc:api}"]["value"] >= 3  # stdin/out/err at least, plus its listening socket
    gates = {g["name"]: g["status"] for g in run.step("s.smoke")["gates"]}
    assert gates["threshold proc_threads{proc:api}: value<500"] == "passed"

    chaos = json.loads((step_dir / "hold" / "result.json").read_text())
    assert chaos["kind"] == "chaos"
    for proc in ("api", "other", "declared"):  # the service's own flag, the step's list, the experiment's extension
        assert chaos["metrics"][f"proc_rss_bytes{{proc:{proc}}}"]["value"] > 1_000_000, proc
    assert chaos["metrics"]["proc_rss_bytes{proc:declared}"]["value"] == pytest.approx(
        chaos["metrics"]["proc_rss_bytes{proc:api}"]["value"], rel=0.5)  # the same process, by the PID handed over

    # the sampled service across the whole night, from ready to stopped: its own result and report line
    assert run.report is not None
    services = {s["name"]: s for s in run.report["services"]}
    api, other = services["api"], services["other"]
    assert other["resources"] is None and other["peaks"] == {}
    assert api["resources"] == "services/api.resources.json" and api["leaks"] == []
    assert 1_000_000 < api["peaks"]["proc_rss_bytes"] < 2_000_000_000 and api["peaks"]["proc_threads"] >= 1
    night = json.loads((run.run_dir / api["resources"]).read_text())
    assert night["kind"] == "service" and night["duration_s"] > 7  # the load's 4 s and the experiment's 3 s at least
    assert night["metrics"]["proc_rss_bytes{proc:api}"]["max"] == api["peaks"]["proc_rss_bytes"]
    assert any(v["metric"] == "proc_rss_bytes{proc:api}" for v in night["extra"]["leaks"])
    assert "peak RSS " in (run.run_dir / "report.html").read_text()


@pytest.mark.slow
def test_a_sampled_services_night_is_in_the_trend_store_across_nights(run_plan: Run, tmp_path: Path) -> None:
    """The whole-night resources of a plan's and a stage's sampled service are recorded with the night's
    other results, so `assay trend show` has a CPU/RSS series per service across nights."""
    plan = f"""\
name: nightly
services:
  api: {{command: [python, {SERVICE}, --port, "${{services.api.port}}"], port: auto, sample: true}}
stages:
  s:
    services:
      side: {{command: [python, {SERVICE}, --port, "${{services.side.port}}"], port: auto, sample: true}}
    steps:
      - {{name: wait, kind: run, command: [python, -c, "import time; time.sleep(1)"]}}
"""
    for _ in range(2):
        run = run_plan(plan)
        assert run.code == 0, run.err
    assert run.run_dir is not None and (run.run_dir / "services" / "api.resources.json").is_file()
    store = f"sqlite:///{tmp_path / 'trends.db'}"
    for scenario, proc in (("nightly.services.api", "api"), ("nightly.s.services.side", "side")):
        runs = assay("trend", "runs", "--scenario", scenario, "--store", store)
        assert runs.returncode == 0, runs.stderr
        assert runs.stdout.count("service=") == 2, runs.stdout  # one run per night
        for metric in (f"proc_rss_bytes{{proc:{proc}}}", f"proc_cpu_percent{{proc:{proc}}}"):
            shown = assay("trend", "show", f"{metric} max", "--scenario", scenario, "--store", store,
                          env={"COLUMNS": "200"})
            assert shown.returncode == 0, shown.stderr
            assert f"{scenario}: {metric} max" in shown.stdout, shown.stdout
            assert len([line for line in shown.stdout.splitlines() if " 20" in line and "│" in line]) == 2, shown.stdout


@pytest.mark.slow
def test_resource_gates_read_in_mib_and_percent(run_plan: Run, tmp_path: Path) -> None:
    """A crossed resource threshold and a failed resource SLO say `observed 19.6 MiB`, not 2.057e+07,
    in the report's gates (JSON, Markdown, HTML); the SLO verdict file keeps the raw bytes."""
    (tmp_path / "slo.yaml").write_text("objectives:\n"
                                      "  - {name: rss, sli: 'proc_rss_bytes{proc:api}', aggregation: max, pass: ['<1000']}\n"
                                      "  - {name: cpu, sli: 'proc_cpu_percent{proc:api}', aggregation: max, pass: ['<=100']}\n")
    run = run_plan(f"""\
name: gates
services:
  api: {{command: [python, {SERVICE}, --port, "${{services.api.port}}"], port: auto, sample: true}}
stages:
  gated:
    steps:
      - {{name: smoke, kind: load, target: "${{services.api.url}}/", rate: 5, duration: 2s, vus: 1}}
      - {{name: gate, kind: slo, slo: slo.yaml}}
  crossed:
    steps:
      - {{name: smoke, kind: load, target: "${{services.api.url}}/", rate: 5, duration: 2s, vus: 1,
          thresholds: ["proc_rss_bytes{{proc:api}}:max<1000", "proc_cpu_percent{{proc:api}}:max<=100"]}}
""")
    assert run.code == 2, run.err
    assert run.run_dir is not None
    size = r"\d+(\.\d+)? (MiB|GiB)"
    threshold = {g["name"]: g for g in run.step("crossed.smoke")["gates"]}
    assert re.fullmatch(f"crossed \\(observed {size}\\)", threshold["threshold proc_rss_bytes{proc:api}: max<1000"]["detail"])
    assert threshold["threshold proc_cpu_percent{proc:api}: max<=100"]["status"] == "passed"
    slo = {g["name"]: g for g in run.step("gated.gate")["gates"]}
    assert re.fullmatch(f"{size} FAIL", slo["SLO rss: rss"]["detail"]), slo
    assert re.fullmatch(r"\d+(\.\d+)?% PASS", slo["SLO cpu: cpu"]["detail"]), slo
    verdict = json.loads((run.run_dir / "stages" / "gated" / "gate" / "slo.json").read_text())
    raw = verdict["evaluations"][0]["objectives"][0]
    assert raw["unit"] == "B" and raw["value"] > 1_000_000 and raw["target"] == "<1000 (1000 B)"
    md = (run.run_dir / "report.md").read_text()
    page = (run.run_dir / "report.html").read_text()
    assert re.search(f"crossed \\(observed {size}\\)", md) and re.search(f">{size}<", page), page
    assert not re.search(r"\d\.\d+e\+0\d", md + page)
    # the step's own output (the load summary, its THRESHOLDS block and the crossed line) and the
    # run's threshold table embedded in the night's page say the same
    log = (run.run_dir / "stages" / "crossed" / "smoke" / "step.log").read_text()
    assert re.search(f"proc_rss_bytes{{proc:api}}: 'max<1000' max={size}", log), log
    assert re.search(f"threshold crossed: proc_rss_bytes{{proc:api}}: max<1000 \\(observed {size}\\)", log), log
    assert re.search(r"proc_cpu_percent\{proc:api\}: 'max<=100' max=\d+(\.\d+)?%", log), log
    assert re.search(f"<code>max&lt;1000</code></td><td class=\"n\">{size}</td>", page), page


def _validate(tmp_path: Path, text: str) -> tuple[int, str]:
    plan = tmp_path / "plan.yaml"
    plan.write_text(text)
    proc = assay("plan", "validate", str(plan))
    return proc.returncode, proc.stdout + proc.stderr


BAD = """\
name: night
services:
  api: {command: "python -m http.server ${services.api.port}", port: auto}
  db: {url: "http://127.0.0.1:1/", sample: true}
stages:
  s:
    steps:
      - {name: a, kind: load, target: http://127.0.0.1:1/, vus: 1, duration: 1s, sample: [apj]}
      - {name: b, kind: load, target: http://127.0.0.1:1/, vus: 1, duration: 1s, sample: [db, "re:("]}
"""


def test_sample_names_that_match_no_started_service_are_located_errors(tmp_path: Path) -> None:
    code, out = _validate(tmp_path, BAD)
    assert code == 64, out
    assert "plan.yaml:4" in out and "a service only checked by url has no process the plan knows to sample" in out
    assert "plan.yaml:8" in out and "sample 'apj': no service 'apj' runs during this stage; did you mean 'api'?" in out
    assert "plan.yaml:9" in out and "sample 'db': the service is only checked by url" in out
    assert "sample 're:(': not a valid pattern" in out
    assert "Traceback" not in out


def test_run_refuses_a_bad_sample_before_anything_runs(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(BAD)
    proc = assay("plan", "run", str(plan), "--artifacts", str(tmp_path / "out"), cwd=tmp_path)
    assert proc.returncode == 64 and "no service 'apj'" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_a_sampled_service_and_step_validate(tmp_path: Path) -> None:
    code, out = _validate(tmp_path, BAD.replace("sample: true", "ready: {http: 'http://127.0.0.1:1/'}")
                          .replace("[apj]", "[api, 'web=4242']").replace('[db, "re:("]', "['re:uvicorn.*courier']"))
    assert code == 0, out


@pytest.mark.parametrize(("sample", "said"), [(["re:("], "not a valid pattern"),
                                              ({"pid": 1}, "extensions.assay.sample: expected a list of PID, NAME=PID or re:PATTERN")])
def test_a_bad_sample_in_an_experiment_fails_before_it_runs(tmp_path: Path, sample: object, said: str) -> None:
    experiment = tmp_path / "hold.json"
    experiment.write_text(json.dumps({**EXPERIMENT, "extensions": [{"name": "assay", "sample": sample}]}))
    journal = tmp_path / "journal.json"
    proc = assay("chaos", "run", str(experiment), "--journal-path", str(journal))
    assert proc.returncode == 64 and said in proc.stderr and "Traceback" not in proc.stderr
    assert not journal.exists()


def test_chaos_validate_checks_the_sample_section(tmp_path: Path) -> None:
    experiment = tmp_path / "hold.json"
    experiment.write_text(json.dumps({**EXPERIMENT, "extensions": [{"name": "assay", "sample": ["web=4242", "re:uvicorn.*"]}]}))
    ok = assay("chaos", "validate", str(experiment))
    assert ok.returncode == 0, ok.stderr
    experiment.write_text(json.dumps({**EXPERIMENT, "extensions": [{"name": "assay", "sample": ["re:("]}]}))
    bad = assay("chaos", "validate", str(experiment))
    assert bad.returncode == 64 and "not a valid pattern" in bad.stderr and str(experiment) in bad.stderr
