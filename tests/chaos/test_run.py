"""`assay chaos run|validate` beyond Chaos Toolkit: located validation errors (exit 64), --strict,
jsonpath, --var/--var-file, the RunResult of kind chaos, assay faults and toxics reverted at the
end of the method, and rollback on SIGTERM."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from assay.chaos.jsonpath import find
from assay.chaos.runner import RunOptions
from assay.chaos.session import run_file
from assay.cli.app import main
from assay.results import RunResult

HERE = Path(__file__).parent
EXPERIMENTS = HERE / "experiments"
BIN = Path(sys.executable).parent


class _Cli:
    """`assay ARGS` in this process through the CLI's real main() (exit code and messages included)."""

    def __init__(self, args: list[str]) -> None:
        out, err = io.StringIO(), io.StringIO()
        self.exit_code = 0
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(args)
            except SystemExit as exc:
                self.exit_code = int(exc.code or 0)
        self.stdout = out.getvalue()
        self.output = self.stdout + err.getvalue()


def cli(*args: str) -> _Cli:
    return _Cli(list(args))


def _write(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(json.dumps(data, indent=1))
    return path


def _py(func: str, **arguments: Any) -> dict[str, Any]:
    return {"type": "python", "module": "chaos_fns", "func": func, "arguments": arguments}


def test_validate_reports_every_mistake_with_its_line(tmp_path: Path, support_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "title: ''\n"
        "description: bad\n"
        "tags: [ok, '']\n"
        "runtime: {rollbacks: {strategy: sometimes}}\n"
        "steady-state-hypothesis:\n"
        "  title: t\n"
        "  probes:\n"
        "    - type: probe\n"
        "      name: no-tolerance\n"
        "      provider: {type: python, module: chaos_fns, func: returns_value}\n"
        "method:\n"
        "  - type: act\n"
        "    name: x\n"
        "    pauses: {before: soon}\n"
        "    provider: {type: process, path: no-such-program-xyz}\n"
        "  - ref: nothing-here\n"
    )
    result = cli("chaos", "validate", str(bad))
    assert result.exit_code == 64
    out = result.output
    for expected in (
        f"{bad}:1:1: title: required",
        f"{bad}:3:12: tags[1]: a tag is a non-empty string",
        "runtime.rollbacks.strategy: expected one of default, always, never, deviated, got 'sometimes'",
        "steady-state-hypothesis.probes[0]: a steady-state probe needs a 'tolerance'",
        "required argument 'value' of returns_value() is missing",
        f"{bad}:12:5: method[0].type: expected 'probe' or 'action', got 'act'",
        "method[0].pauses.before: expected a number of seconds",
        "'no-such-program-xyz' is not found on PATH",
        "method[1].ref: no activity is named 'nothing-here'",
    ):
        assert expected in out, (expected, out)
    run = cli("chaos", "run", "--journal-path", str(tmp_path / "j.json"), str(bad))
    assert run.exit_code == 64
    assert not (tmp_path / "j.json").exists()


def test_validate_accepts_every_bundled_experiment(support_path: Path) -> None:
    for path in sorted(EXPERIMENTS.iterdir()):
        result = cli("chaos", "validate", str(path))
        assert result.exit_code == 0, (path, result.output)


def test_syntax_error_is_located(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"title": "x",\n "description": }')
    result = cli("chaos", "validate", str(path))
    assert result.exit_code == 64
    assert f"{path}:2:" in result.output


def test_strict_fails_the_run_on_a_failed_action(tmp_path: Path, support_path: Path) -> None:
    path = EXPERIMENTS / "failed_action.json"
    lenient = run_file(path, RunOptions(), journal_path=tmp_path / "lenient.json")
    assert (lenient.journal["status"], lenient.exit_code) == ("completed", 0)
    strict = run_file(path, RunOptions(strict=True), journal_path=tmp_path / "strict.json")
    assert strict.journal["status"] == "failed"
    assert strict.exit_code == 2
    assert [e["activity"]["name"] for e in strict.journal["run"]] == ["explodes"]  # stopped at the failure


def test_jsonpath_tolerance(tmp_path: Path, support_path: Path, http_service: str) -> None:
    outcome = run_file(EXPERIMENTS / "jsonpath.json", RunOptions(), config_vars={"base_url": http_service},
                       journal_path=tmp_path / "j.json")
    assert outcome.journal["steady_states"]["before"]["steady_state_met"] is True
    assert outcome.exit_code == 0
    doc = {"a": {"b": [{"id": 1, "ok": True}, {"id": 2, "ok": False}]}, "id": 9}
    assert find("$.a.b[*].id", doc) == [1, 2]
    assert find("$..id", doc) == [9, 1, 2]
    assert find("$.a.b[?(@.ok == true)].id", doc) == [1]
    assert find("$['a']['b'][-1].id", doc) == [2]
    assert find("$.missing", doc) == []


def test_var_file_and_var_override_configuration_and_secrets(tmp_path: Path, support_path: Path) -> None:
    exp = _write(tmp_path / "e.json", {
        "title": "vars", "description": "d", "configuration": {"who": "nobody"},
        "secrets": {"app": {"token": "t0"}},
        "steady-state-hypothesis": {"title": "t", "probes": [
            {"type": "probe", "name": "greet", "tolerance": "hi:team:t1", "provider": {**_py("greet", name="hi"), "secrets": ["app"]}}]},
        "method": [],
    })
    var_file = _write(tmp_path / "vars.json", {"configuration": {"who": "someone"}, "secrets": {"token": "t1"}})
    env_file = tmp_path / "vars.env"
    env_file.write_text("# comment\nwho='team'\n")
    journal = tmp_path / "j.json"
    result = cli("chaos", "run", "--journal-path", str(journal), "--var-file", str(var_file),
                                 "--var-file", str(env_file), str(exp))
    assert result.exit_code == 0, result.output
    result = cli("chaos", "run", "--journal-path", str(journal), "--var-file", str(var_file),
                                 "--var", "who=other", str(exp))
    # hi:other:t1 misses the tolerance: as in Chaos Toolkit the method is skipped, status completed, exit 0
    data = json.loads(journal.read_text())
    assert data["steady_states"]["before"]["probes"][0]["output"] == "hi:other:t1"
    assert (data["status"], data["deviated"], data["run"], result.exit_code) == ("completed", False, [], 0)
    bad = cli("chaos", "run", "--var", "n:int=x", str(exp))
    assert bad.exit_code == 64 and "'x' is not a int" in bad.output


def test_run_result_of_kind_chaos_and_final_table(tmp_path: Path, support_path: Path) -> None:
    out = tmp_path / "result.json"
    result = cli("chaos", "run", "--journal-path", str(tmp_path / "j.json"), "--result", str(out),
                                 "--var", f"state_dir={tmp_path}", str(EXPERIMENTS / "deviated.json"))
    assert result.exit_code == 2
    assert "DEVIATED" in result.stdout and "hypothesis after" in result.stdout
    run = RunResult.model_validate_json(out.read_text())
    assert run.kind == "chaos" and run.status == "failed"
    assert run.metrics["chaos_deviated"].value == 1.0
    assert {c.name: (c.passes, c.fails) for c in run.checks} == {
        "hypothesis before: state": (1, 0), "hypothesis after: state": (0, 1), "run: break": (1, 0), "rollbacks: heal": (1, 0),
    }


def test_assay_fault_is_reverted_at_the_end_of_the_method(tmp_path: Path, support_path: Path,
                                                         sleeper: subprocess.Popen[bytes]) -> None:
    exp = _write(tmp_path / "pause.json", {
        "title": "pause a process", "description": "the fault holds during the method, not after",
        "steady-state-hypothesis": {"title": "running", "probes": [
            {"type": "probe", "name": "status", "tolerance": "running", "provider": _py("process_status", pid=sleeper.pid)}]},
        "method": [
            {"type": "action", "name": "pause", "provider": {"type": "assay", "func": "fault", "arguments": {
                "fault": "process.pause", "target": f"pid:{sleeper.pid}", "duration": "60s"}}},
            {"type": "probe", "name": "during", "provider": _py("process_status", pid=sleeper.pid)},
        ],
    })
    events: list[tuple[str, str]] = []
    options = RunOptions(on_event=lambda kind, data: events.append((kind, str(data.get("what") or data.get("name")))))
    outcome = run_file(exp, options, journal_path=tmp_path / "j.json")
    run = {e["activity"]["name"]: e for e in outcome.journal["run"]}
    assert run["pause"]["status"] == "succeeded"
    assert run["during"]["output"] == "stopped"
    # the live console's timeline: the fault goes in with the method and out before the hypothesis after
    what = f"process.pause on pid:{sleeper.pid} for 60s"
    kinds = [k for k, _ in events]
    assert ("fault-in", what) in events and ("fault-out", what) in events
    assert kinds.index("fault-in") < kinds.index("fault-out") < events.index(("phase", "hypothesis after"))
    assert outcome.journal["steady_states"]["after"]["probes"][0]["output"] == "running"
    assert outcome.exit_code == 0
    faults = outcome.journal["x-assay"]["faults"]
    assert len(faults) == 1 and faults[0]["reverted_at"] is not None


def test_assay_fault_of_unknown_type_is_a_located_error(tmp_path: Path) -> None:
    exp = _write(tmp_path / "e.json", {"title": "t", "description": "d", "method": [
        {"type": "action", "name": "x", "provider": {"type": "assay", "func": "fault", "arguments": {"fault": "process.paws"}}}]})
    result = cli("chaos", "validate", str(exp))
    assert result.exit_code == 64
    assert "method[0].provider.arguments.fault: unknown fault type 'process.paws'" in result.output
    assert "method[0].provider.arguments.duration: required" in result.output


def test_assay_toxic_is_reverted_at_the_end_of_the_method(tmp_path: Path, support_path: Path, assay_proxy: Any,
                                                         assay_proxy_server: Any, http_service: str) -> None:
    proxy = assay_proxy(http_service.removeprefix("http://"))
    api = assay_proxy_server.url
    exp = _write(tmp_path / "toxic.json", {
        "title": "latency toxic", "description": "d",
        "steady-state-hypothesis": {"title": "no toxics", "probes": [
            {"type": "probe", "name": "toxics", "tolerance": "", "provider": _py("toxic_names", api=api, proxy=proxy.name)}]},
        "method": [
            {"type": "action", "name": "slow", "provider": {"type": "assay", "func": "toxic", "arguments": {
                "api": api, "proxy": proxy.name, "type": "latency", "name": "slow", "attributes": {"latency": 50},
                "duration": "60s"}}},
            {"type": "probe", "name": "during", "provider": _py("toxic_names", api=api, proxy=proxy.name)},
        ],
    })
    outcome = run_file(exp, RunOptions(), journal_path=tmp_path / "j.json")
    run = {e["activity"]["name"]: e for e in outcome.journal["run"]}
    assert run["slow"]["output"]["ttl"] == 60000
    assert run["during"]["output"] == "slow"
    assert outcome.journal["steady_states"]["after"]["steady_state_met"] is True
    assert proxy.toxics() == []


def _long_fault_run(tmp_path: Path, pid: int) -> tuple[subprocess.Popen[bytes], Path]:
    exp = _write(tmp_path / "long.json", {
        "title": "long", "description": "a fault, then a long wait cut short by a signal",
        "method": [
            {"type": "action", "name": "pause", "provider": {"type": "assay", "func": "fault", "arguments": {
                "fault": "process.pause", "target": f"pid:{pid}", "duration": "120s"}}},
            {"type": "action", "name": "marker", "provider": _py("write_state", path=str(tmp_path / "marker"), value="in")},
            {"type": "action", "name": "wait", "provider": _py("slow_value", value=1, seconds=60)},
        ],
        "rollbacks": [{"type": "action", "name": "rb", "provider": _py("write_state", path=str(tmp_path / "rb"), value="done")}],
    })
    journal = tmp_path / "j.json"
    env = {**os.environ, "PYTHONPATH": str(HERE / "support"), "ASSAY_CHAOS_LOCK_DIR": str(tmp_path / "locks")}
    proc = subprocess.Popen([str(BIN / "assay"), "chaos", "run", "--rollback-strategy", "always", "--journal-path", str(journal),
                             str(exp)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not (tmp_path / "marker").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert psutil.Process(pid).status() == psutil.STATUS_STOPPED
    return proc, journal


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_mid_fault_reverts_and_rolls_back(tmp_path: Path, sleeper: subprocess.Popen[bytes], sig: int) -> None:
    proc, journal = _long_fault_run(tmp_path, sleeper.pid)
    proc.send_signal(sig)
    assert proc.wait(timeout=60) == 2
    data = json.loads(journal.read_text())
    assert data["status"] == "interrupted"
    assert (tmp_path / "rb").read_text() == "done"
    assert psutil.Process(sleeper.pid).status() != psutil.STATUS_STOPPED


def test_sigkill_mid_fault_is_reverted_by_the_faults_watchdog(tmp_path: Path, sleeper: subprocess.Popen[bytes]) -> None:
    proc, _ = _long_fault_run(tmp_path, sleeper.pid)
    proc.kill()
    proc.wait(timeout=30)
    deadline = time.monotonic() + 30
    while psutil.Process(sleeper.pid).status() == psutil.STATUS_STOPPED and time.monotonic() < deadline:
        time.sleep(0.1)
    assert psutil.Process(sleeper.pid).status() != psutil.STATUS_STOPPED


def test_chaostoolkit_toxiproxy_actions_drive_the_assay_proxy(tmp_path: Path, support_path: Path, assay_proxy: Any,
                                                              assay_proxy_server: Any, http_service: str) -> None:
    pytest.importorskip("chaostoxi")
    proxy = assay_proxy(http_service.removeprefix("http://"))
    host, port = assay_proxy_server.url.removeprefix("http://").rsplit(":", 1)
    api = assay_proxy_server.url
    exp = _write(tmp_path / "chaostoxi.json", {
        "title": "chaostoolkit-toxiproxy", "description": "its actions, unchanged, against assay's proxy",
        "configuration": {"toxiproxy_host": host, "toxiproxy_port": int(port)},
        "steady-state-hypothesis": {"title": "proxy exists", "probes": [
            {"type": "probe", "name": "exists", "tolerance": True, "provider": {
                "type": "python", "module": "chaostoxi.proxy.probes", "func": "proxy_exist", "arguments": {"proxy_name": proxy.name}}}]},
        "method": [
            {"type": "action", "name": "latency", "provider": {"type": "python", "module": "chaostoxi.toxic.actions",
             "func": "create_latency_toxic", "arguments": {"for_proxy": proxy.name, "toxic_name": "lat", "latency": 20}}},
            {"type": "probe", "name": "during", "provider": _py("toxic_names", api=api, proxy=proxy.name)},
        ],
        "rollbacks": [
            {"type": "action", "name": "remove", "provider": {"type": "python", "module": "chaostoxi.toxic.actions",
             "func": "delete_toxic", "arguments": {"for_proxy": proxy.name, "toxic_name": "lat"}}}],
    })
    result = cli("chaos", "run", "--journal-path", str(tmp_path / "j.json"), str(exp))
    assert result.exit_code == 0, result.output
    journal = json.loads((tmp_path / "j.json").read_text())
    assert [(e["activity"]["name"], e["status"]) for e in journal["run"]] == [("latency", "succeeded"), ("during", "succeeded")]
    assert journal["run"][1]["output"] == "lat"
    assert journal["rollbacks"][0]["status"] == "succeeded"
    assert proxy.toxics() == []


def test_junit_and_markdown_reports(tmp_path: Path, support_path: Path) -> None:
    import xml.etree.ElementTree as ET

    import xmlschema

    junit, markdown = tmp_path / "chaos.xml", tmp_path / "chaos.md"
    result = cli("chaos", "run", "--journal-path", str(tmp_path / "j.json"), "--junit", str(junit), "--markdown", str(markdown),
                 "--var", f"state_dir={tmp_path}", str(EXPERIMENTS / "deviated.json"))
    assert result.exit_code == 2
    xmlschema.XMLSchema(str(HERE / "junit.xsd")).validate(str(junit))
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    cases = {(c.get("classname"), c.get("name")): c.find("failure") is not None for c in suite.iter("testcase")}
    assert cases == {
        ("chaos.hypothesis.before", "probe state"): False, ("chaos.hypothesis.before", "tolerance state"): False,
        ("chaos.hypothesis.after", "probe state"): False, ("chaos.hypothesis.after", "tolerance state"): True,
        ("chaos.method", "break"): False, ("chaos.rollbacks", "heal"): False,
    }
    text = markdown.read_text()
    assert text.startswith("# deviated after the method\n\n**deviated**")
    assert "| hypothesis.after | tolerance state | FAILED: output 'broken' is not within tolerance 'healthy' |" in text


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["run", "{exp}", "--hypothesis-frequency", "nan"], "--hypothesis-frequency: expected a positive number"),
        (["run", "{exp}", "--hypothesis-frequency", "inf"], "--hypothesis-frequency: expected a positive number"),
        (["run", "{exp}", "--journal-path", "{file}/journal.json"], "--journal-path: no folder"),
        (["run", "{exp}", "--journal-path", "{tmp}/j.json", "--html", "{tmp}"], "--html: "),
        (["run", "{exp}", "--journal-path", "{tmp}/j.json", "--junit", "{tmp}/no/such/x.xml"], "--junit: no folder"),
        (["run", "{exp}", "--journal-path", "{tmp}/j.json", "--result", "{file}/r.json"], "--result: no folder"),
        (["report", "{file}", "--html", "{tmp}/r.html"], "cannot read a chaos journal"),
        (["report", "{exp}", "--html", "{tmp}/r.html"], "not a chaos journal"),
        (["export", "{exp}", "--mapping", "{file}", "-o", "{file}/w.yaml"], "--output: no folder"),
        (["monkey", "-c", "{file}", "--ticks", "0"], "--ticks 0: expected at least 1"),
        (["monkey", "-c", "{file}", "--log", "{tmp}/no/such/m.log"], "--log: no folder"),
        (["schedule", "add", "nightly", "{exp}", "--every", "1h", "--arg=--bogus", "--db", "sqlite:///{tmp}/s.db"],
         "No such option: --bogus"),
        (["schedule", "add", "nightly", "{exp}", "--every", "1h", "--arg=--rollback-strategy", "--db", "sqlite:///{tmp}/s.db"],
         "requires an argument"),
        (["schedule", "run", "--journal-dir", "{file}", "--db", "sqlite:///{tmp}/s.db"], "--journal-dir: "),
    ],
)
def test_bad_flags_and_unwritable_outputs_are_refused_before_anything_runs(tmp_path: Path, args: list[str], said: str) -> None:
    """An output that could not be written after the experiment is refused before it (exit 64, no traceback,
    no journal): a fault injected and then a crash on the report is the worst of both."""
    marker = tmp_path / "probe-ran"
    exp = _write(tmp_path / "exp.json", {
        "title": "t", "description": "d",
        "steady-state-hypothesis": {"title": "ok", "probes": [{"type": "probe", "name": "touch", "tolerance": 0,
                                    "provider": {"type": "process", "path": "touch", "arguments": str(marker)}}]},
        "method": [{"type": "action", "name": "noop", "provider": {"type": "process", "path": "true"}}]})
    a_file = tmp_path / "plain.txt"
    a_file.write_text("not a folder\n")
    fill = {"exp": str(exp), "file": str(a_file), "tmp": str(tmp_path)}
    result = cli("chaos", *(a.format(**fill) for a in args))
    assert result.exit_code == 64, result.output
    assert said in result.output and "Traceback" not in result.output and "internal error" not in result.output
    assert not marker.exists()
    assert not (tmp_path / "j.json").exists()
    if args[:2] == ["schedule", "add"]:
        assert "no schedules" in cli("chaos", "schedule", "list", "--db", f"sqlite:///{tmp_path}/s.db").output


@pytest.mark.parametrize(
    ("assay_ext", "said"),
    [
        ({"saftey": {"max_duration": "10m"}}, "extensions.assay.saftey: unknown section; did you mean 'safety'?"),
        ({"safety": 5}, "extensions.assay.safety: expected a mapping"),
        ({"recovery": "30s"}, "extensions.assay.recovery: expected a mapping"),
        ({"safety": {"min_availability": 2}}, "extensions.assay.safety.min_availability: expected a share"),
        ({"safety": {"min_availability": True}}, "extensions.assay.safety.min_availability: expected a share"),
        ({"safety": {"max_duration": "nan"}}, "extensions.assay.safety.max_duration"),
        ({"safety": {"min_samples": "four"}}, "extensions.assay.safety.min_samples: expected a whole number"),
        ({"safety": {"blast_radius": {"level": "GALAXY"}}}, "extensions.assay.safety.blast_radius.level"),
        ({"recovery": {"hold": -1}}, "extensions.assay.recovery.hold"),
        ({"recovery": {"target": "${target}"}}, "extensions.assay.recovery.target: expected seconds"),  # after ${var}
        ({"load": {"url": "http://127.0.0.1:1/", "rate": -5}}, "extensions.assay.load: --rate"),
        ({"load": {"scenario": "no-such-load.yaml"}}, "extensions.assay.load: scenario file 'no-such-load.yaml' does not exist"),
    ],
)
def test_validate_refuses_what_run_would_refuse_in_the_assay_extension(tmp_path: Path, assay_ext: dict[str, Any],
                                                                        said: str) -> None:
    """Chaos Toolkit ignores extensions; `assay chaos validate` must not pass a file `run` refuses."""
    exp = _write(tmp_path / "exp.json", {
        "title": "t", "description": "d", "configuration": {"target": "soon"},
        "extensions": [{"name": "assay", **assay_ext}],
        "method": [{"type": "action", "name": "noop", "provider": {"type": "process", "path": "true"}}]})
    for command in (["validate"], ["run", "--journal-path", str(tmp_path / "j.json")], ["run", "--dry"]):
        result = cli("chaos", *command, str(exp))
        assert result.exit_code == 64, (command, result.output)
        assert f"{exp}: {said}" in result.output and "Traceback" not in result.output, command
    assert not (tmp_path / "j.json").exists()


@pytest.mark.parametrize(
    ("provider", "said"),
    [
        ({"func": "fault", "arguments": {"fault": "process.pause", "target": "pattern:x", "duration": "banana"}},
         "arguments.duration: expected seconds"),
        ({"func": "http", "arguments": {"url": 5}}, "arguments.url: expected a URL"),
        ({"func": "http", "arguments": {"url": "http://127.0.0.1:1/", "expect_status": "ok"}}, "arguments.expect_status"),
        ({"func": "http", "arguments": {"url": "http://127.0.0.1:1/", "max_latency": "fast"}}, "arguments.max_latency"),
        ({"func": "tcp", "arguments": {"host": "127.0.0.1", "port": "http"}}, "arguments.port: expected a port number"),
    ],
)
def test_assay_provider_arguments_of_the_wrong_kind_are_located(tmp_path: Path, provider: dict[str, Any], said: str) -> None:
    exp = _write(tmp_path / "exp.json", {
        "title": "t", "description": "d",
        "method": [{"type": "action", "name": "a", "provider": {"type": "assay", **provider}}]})
    result = cli("chaos", "validate", str(exp))
    assert result.exit_code == 64, result.output
    assert f"{exp}:" in result.output and f"method[0].provider.{said}" in result.output


def test_a_templated_assay_argument_is_judged_after_substitution(tmp_path: Path) -> None:
    exp = _write(tmp_path / "exp.json", {
        "title": "t", "description": "d", "configuration": {"port": 1},
        "method": [{"type": "probe", "name": "p", "provider": {"type": "assay", "func": "tcp",
                                                                 "arguments": {"host": "127.0.0.1", "port": "${port}"}}}]})
    assert cli("chaos", "validate", str(exp)).exit_code == 0


def test_validate_without_the_runs_environment_still_checks_the_extensions_sections(tmp_path: Path) -> None:
    """An env configuration set only where the experiment runs is no validation error (as in Chaos
    Toolkit); the extension's sections are still checked, their ${var} values are not."""
    data = {"title": "t", "description": "d",
            "configuration": {"target": {"type": "env", "key": "ASSAY_TEST_UNSET_RECOVERY_TARGET"}},
            "extensions": [{"name": "assay", "recovery": {"target": "${target}"}}],
            "method": [{"type": "action", "name": "noop", "provider": {"type": "process", "path": "true"}}]}
    assert cli("chaos", "validate", str(_write(tmp_path / "ok.json", data))).exit_code == 0
    data["extensions"] = [{"name": "assay", "recovery": {"target": "${target}"}, "laod": {}}]
    result = cli("chaos", "validate", str(_write(tmp_path / "bad.json", data)))
    assert result.exit_code == 64 and "extensions.assay.laod: unknown section; did you mean 'load'?" in result.output
    data["extensions"] = []
    data["secrets"] = {"db": {"password": {"type": "vault", "path": "secret/db"}}}  # refused by run: by validate too
    result = cli("chaos", "validate", str(_write(tmp_path / "vault.json", data)))
    assert result.exit_code == 64 and "secrets db.password: vault secrets are not supported" in result.output


@pytest.mark.parametrize(("journal", "said"), [
    ({"steady_states": 1, "experiment": {}, "start": "2026-12-07T10:00:00"}, "steady_states: expected a mapping"),
    ({"steady_states": {}, "experiment": {}, "start": "2026-12-07T10:00:00", "run": "x"}, "run: expected a list"),
    ({"steady_states": {"before": 5}, "experiment": {}, "start": "2026-12-07T10:00:00", "run": [1]},
     "not a journal `assay chaos run` wrote"),
])
def test_report_of_a_malformed_journal_is_exit_64(tmp_path: Path, journal: dict[str, Any], said: str) -> None:
    path = _write(tmp_path / "journal.json", journal)
    result = cli("chaos", "report", str(path), "--html", str(tmp_path / "r.html"))
    assert result.exit_code == 64, result.output
    assert f"{path}: {said}" in result.output and not (tmp_path / "r.html").exists()
