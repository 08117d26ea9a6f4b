"""Schedules (cron and intervals in a store on SQLite or PostgreSQL, what is due by a fake clock,
the CLI) and the monkey (seeded choices, business hours, blast radius, guard, a clean stop)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psutil
import pytest
import yaml

from assay.chaos.monkey import Catalogue, Monkey, load_catalogue
from assay.chaos.schedules.store import open_store, run_due, run_forever
from assay.config import ConfigError
from assay.errors import UsageError
from assay.faults import injector

T0 = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)  # a Monday


class FakeClock:
    def __init__(self, start: datetime = T0) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> bool:
        self.slept.append(seconds)
        self.now += timedelta(seconds=seconds)
        return False


@pytest.fixture(autouse=True)
def _lock_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSAY_CHAOS_LOCK_DIR", str(tmp_path / "locks"))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, postgres_url: str) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'chaos.db'}"
        return
    import psycopg

    name = f"assay_chaos_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield postgres_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_schedules_are_due_by_cron_and_interval_on_a_fake_clock(db_url: str) -> None:
    clock = FakeClock()
    runs: list[str] = []
    with open_store(db_url) as store:
        store.add("hourly", "/x/hourly.json", every_s=3600, now=clock())
        store.add("weekday-10", "/x/weekday.json", cron="0 10 * * 1-5", timezone="Europe/Paris", now=clock())
        with pytest.raises(UsageError, match="exists already"):
            store.add("hourly", "/x/other.json", every_s=60, now=clock())
        with pytest.raises(UsageError, match="not a cron expression"):
            store.add("bad", "/x.json", cron="every day", now=clock())
        with pytest.raises(UsageError, match="exactly one of"):
            store.add("bad", "/x.json", cron="0 * * * *", every_s=5, now=clock())

        def runner(s: Any) -> tuple[int, str | None]:
            runs.append(f"{clock().strftime('%a %H:%M')} {s.name}")
            return (2 if s.name == "hourly" else 0), None

        # run_forever, stopped after 30 simulated hours: no real waiting
        deadline = clock() + timedelta(hours=30)

        def sleep(seconds: float) -> bool:
            clock.sleep(seconds)
            return clock() >= deadline

        run_forever(store, runner, clock, sleep, max_wait_s=3600)
        assert [r for r in runs if "weekday" in r] == ["Mon 09:00 weekday-10", "Tue 09:00 weekday-10"]  # 10:00 Paris = 09:00 UTC
        assert sum(1 for r in runs if "hourly" in r) == 29  # 09:00 Monday to 13:00 Tuesday
        assert runs[0] == "Mon 09:00 hourly"
        history = store.runs("hourly")
        assert len(history) == 29 and {h["exit_code"] for h in history} == {2}
        assert {s.name: s.last_exit for s in store.all()} == {"hourly": 2, "weekday-10": 0}
        # a missed stretch runs once, not once per missed occurrence
        clock.now += timedelta(hours=10)
        assert [s.name for s, _ in run_due(store, runner, clock)] == ["hourly"]
        store.remove("hourly")
        with pytest.raises(UsageError, match="no schedule named 'hourly'"):
            store.remove("hourly")


def _cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "assay", "chaos", *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


@pytest.mark.slow
def test_schedule_cli_add_list_run_remove_with_the_db_url(tmp_path: Path, http_service: str) -> None:
    exp = tmp_path / "exp.json"
    exp.write_text(json.dumps({"title": "scheduled", "description": "a probe", "steady-state-hypothesis": {
        "title": "up", "probes": [{"type": "probe", "name": "ok", "tolerance": 200, "provider": {"type": "http", "url": f"{http_service}/ok"}}]},
        "method": []}))
    url = f"sqlite:///{tmp_path / 'store.db'}"
    done = _cli("schedule", "add", "nightly", str(exp), "--every", "1ms", "--db", url)
    assert done.returncode == 0 and "added nightly" in done.stdout, done.stderr
    time.sleep(0.01)
    done = _cli("schedule", "add", "later", str(exp), "--cron", "0 3 * * *", env={"ASSAY_DB_URL": url})
    assert done.returncode == 0, done.stderr
    listed = json.loads(_cli("schedule", "list", "--json", "--db", url).stdout)
    assert listed["schema"] == "assay.chaos.schedules/1" and [s["name"] for s in listed["schedules"]] == ["nightly", "later"]
    journals = tmp_path / "journals"
    done = _cli("schedule", "run", "--db", url, "--journal-dir", str(journals))
    assert done.returncode == 0 and "ran 1 due schedule(s)" in done.stdout and "nightly: exit 0" in done.stdout, done.stderr
    [journal] = journals.glob("nightly-*.json")
    assert json.loads(journal.read_text())["status"] == "completed"
    table = _cli("schedule", "list", "--db", url).stdout
    assert "last" in table and "exit 0" in table
    assert _cli("schedule", "remove", "later", "--db", url).returncode == 0
    done = _cli("schedule", "remove", "later", "--db", url)
    assert done.returncode == 64 and "no schedule named 'later'" in done.stderr
    done = _cli("schedule", "add", "x", str(exp), "--cron", "nope", "--db", url)
    assert done.returncode == 64 and "not a cron expression" in done.stderr
    done = _cli("schedule", "list", "--db", "mysql://nowhere/x")
    assert done.returncode == 64 and "unsupported database" in done.stderr


def _catalogue(sleeper_pid: int, **over: Any) -> Catalogue:
    data: dict[str, Any] = {
        "interval": "5m", "probability": 0.5,
        "targets": {"worker": f"pid:{sleeper_pid}", "host": "this host", "db": "proxy:db"},
        "faults": [{"name": "pause worker", "fault": "process.pause", "targets": ["worker"], "duration": "2s"},
                   {"name": "burn cpu", "fault": "stress.cpu", "targets": ["host"], "duration": "2s", "params": {"workers": 1}},
                   {"name": "slow db", "toxic": "latency", "targets": ["db"], "attributes": {"latency": 1000}}],
        **over}
    return Catalogue.model_validate(data)


def test_monkey_choices_are_reproducible_by_seed(sleeper: subprocess.Popen[bytes]) -> None:
    def decisions(seed: int) -> list[tuple[str, str | None, str | None]]:
        clock = FakeClock()
        mk = Monkey(_catalogue(sleeper.pid), seed=seed, clock=clock, sleep=clock.sleep, dry=True)
        assert mk.run(ticks=40) == 0
        assert clock.now == T0 + timedelta(minutes=5 * 39)  # one decision per interval, no real waiting
        return [(d.outcome, d.fault, d.target) for d in mk.decisions]

    first = decisions(7)
    assert first == decisions(7)
    assert first != decisions(8)
    outcomes = [o for o, _f, _t in first]
    assert 8 < outcomes.count("planned") < 32 and outcomes.count("skipped") == 40 - outcomes.count("planned")
    assert {f for o, f, _t in first if o == "planned"} == {"process.pause", "stress.cpu", "toxic latency"}


def test_monkey_keeps_business_hours_and_the_blast_radius(sleeper: subprocess.Popen[bytes]) -> None:
    clock = FakeClock(datetime(2026, 12, 5, 6, 0, tzinfo=UTC))  # Saturday 07:00 in Paris
    cat = _catalogue(sleeper.pid, probability=1.0, interval="1h", blast_radius={"level": "SINGLE_SERVICE"},
                     business_hours={"timezone": "Europe/Paris"})
    mk = Monkey(cat, seed=1, clock=clock, sleep=clock.sleep, dry=True)
    mk.run(until=datetime(2026, 12, 8, 0, 0, tzinfo=UTC))
    open_hours = [d.at.astimezone(ZoneInfo("Europe/Paris")) for d in mk.decisions if d.outcome != "closed"]
    assert open_hours and all(h.weekday() == 0 and 9 <= h.hour < 17 for h in open_hours)  # Monday 9-17 Paris only
    assert len(open_hours) == 8
    assert {d.fault for d in mk.decisions if d.outcome == "planned"} == {"process.pause", "toxic latency"}  # never host-wide
    nothing = _catalogue(sleeper.pid, probability=1.0, blast_radius="SINGLE_REQUEST")
    assert Monkey(nothing, seed=1, clock=FakeClock(), sleep=FakeClock().sleep).tick().outcome == "refused"


def test_monkey_injects_holds_and_reverts_a_real_fault(sleeper: subprocess.Popen[bytes], http_service: str) -> None:
    clock = FakeClock()
    states: list[str] = []

    def sleep(seconds: float) -> bool:  # the fault is held while the monkey waits
        states.append(psutil.Process(sleeper.pid).status())
        return clock.sleep(seconds)

    cat = _catalogue(sleeper.pid, probability=1.0, faults=[
        {"name": "pause worker", "fault": "process.pause", "targets": ["worker"], "duration": "30s"}],
        guard={"type": "probe", "name": "up", "tolerance": 200, "provider": {"type": "http", "url": f"{http_service}/ok"}},
        guard_frequency="10s")
    mk = Monkey(cat, seed=3, clock=clock, sleep=sleep)
    assert mk.run(ticks=2) == 0
    assert [d.outcome for d in mk.decisions] == ["injected", "injected"]
    assert states.count(psutil.STATUS_STOPPED) == 6  # three 10 s guard waits per fault
    assert psutil.Process(sleeper.pid).status() != psutil.STATUS_STOPPED
    assert injector.active() == []


def test_monkey_guard_trips_reverts_and_stops(sleeper: subprocess.Popen[bytes], recovering_service: str) -> None:
    import httpx

    clock = FakeClock()
    calls = [0]

    def sleep(seconds: float) -> bool:
        calls[0] += 1
        if calls[0] == 2:
            httpx.post(f"{recovering_service}/break")
        return clock.sleep(seconds)

    cat = _catalogue(sleeper.pid, probability=1.0, faults=[
        {"name": "pause worker", "fault": "process.pause", "targets": ["worker"], "duration": "60s"}],
        guard={"type": "probe", "name": "up", "tolerance": 200, "provider": {"type": "http", "url": f"{recovering_service}/health"}},
        guard_frequency="5s")
    mk = Monkey(cat, seed=3, clock=clock, sleep=sleep)
    assert mk.run(ticks=5) == 2
    assert [d.outcome for d in mk.decisions] == ["guard-tripped"]
    assert psutil.Process(sleeper.pid).status() != psutil.STATUS_STOPPED
    # the steady state is checked before any fault goes in
    mk2 = Monkey(cat, seed=3, clock=clock, sleep=clock.sleep)
    assert mk2.tick().outcome == "unsteady"
    assert psutil.Process(sleeper.pid).status() != psutil.STATUS_STOPPED


def test_monkey_that_injects_nothing_exits_2_and_says_so(tmp_path: Path) -> None:
    """Every injection refused (the proxy API is down): the run tested nothing, so exit 2, not 0."""
    from assay.harness.ports import free_port

    cat = tmp_path / "cat.yaml"
    cat.write_text(yaml.safe_dump({"interval": "10ms", "probability": 1.0, "targets": {"db": "proxy:db"},
                                   "faults": [{"name": "slow db", "toxic": "latency", "targets": ["db"], "duration": "1s",
                                               "attributes": {"latency": 100}, "api": f"http://127.0.0.1:{free_port()}"}]}))
    proc = subprocess.run([sys.executable, "-m", "assay", "chaos", "monkey", "-c", str(cat), "--seed", "1", "--ticks", "3"],
                          capture_output=True, text=True, timeout=60, env=os.environ.copy())
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.count(" failed ") == 3
    assert ("monkey: 3 decisions, 0 fault(s) injected and reverted, 3 injection(s) failed; "
            "no fault could be injected: nothing was tested") in proc.stdout


def test_monkey_with_some_injections_failed_exits_1_with_the_count(sleeper: subprocess.Popen[bytes]) -> None:
    """One fault goes in, the other cannot: the run tested something, less than asked (exit 1, both counts)."""
    from assay.harness.ports import free_port

    clock = FakeClock()
    cat = _catalogue(sleeper.pid, probability=1.0, faults=[
        {"name": "pause worker", "fault": "process.pause", "targets": ["worker"], "duration": "1s"},
        {"name": "slow db", "toxic": "latency", "targets": ["db"], "attributes": {"latency": 100}, "duration": "1s",
         "api": f"http://127.0.0.1:{free_port()}"}])
    mk = Monkey(cat, seed=3, clock=clock, sleep=clock.sleep)
    code = mk.run(ticks=8)
    injected, failed = mk.count("injected"), mk.count("failed")
    assert injected and failed and injected + failed == 8, [d.outcome for d in mk.decisions]
    assert code == 1
    assert mk.summary().endswith(f", {failed} injection(s) failed; {failed} of 8 due fault(s) not injected")
    assert psutil.Process(sleeper.pid).status() != psutil.STATUS_STOPPED
    assert injector.active() == []


def test_monkey_held_back_by_an_unsteady_system_every_time_exits_2_and_says_so(tmp_path: Path, sleeper: subprocess.Popen[bytes]) -> None:
    """The steady-state probe fails at every decision: nothing went in, nothing was tested (exit 2, not 0)."""
    from assay.harness.ports import free_port

    cat = tmp_path / "cat.yaml"
    cat.write_text(yaml.safe_dump({
        "interval": "10ms", "probability": 1.0, "targets": {"worker": f"pid:{sleeper.pid}"},
        "guard": {"type": "probe", "name": "up", "tolerance": 200,
                  "provider": {"type": "http", "url": f"http://127.0.0.1:{free_port()}/health", "timeout": 2}},
        "faults": [{"name": "pause worker", "fault": "process.pause", "targets": ["worker"], "duration": "1s"}]}))
    proc = subprocess.run([sys.executable, "-m", "assay", "chaos", "monkey", "-c", str(cat), "--seed", "1", "--ticks", "3"],
                          capture_output=True, text=True, timeout=60, env=os.environ.copy())
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.count(" unsteady ") == 3
    assert ("monkey: 3 decisions, 0 fault(s) injected and reverted, 3 held back: steady state not met; "
            "no fault could be injected: nothing was tested") in proc.stdout
    assert psutil.Process(sleeper.pid).status() != psutil.STATUS_STOPPED


def test_monkey_held_back_by_a_locked_target_exits_1_when_some_went_in_2_when_none(sleeper: subprocess.Popen[bytes]) -> None:
    """Another experiment takes the target's lock after the first fault: 1 of 3 went in (exit 1);
    while it still holds it, a run where every due fault is locked out tested nothing (exit 2)."""
    from contextlib import ExitStack

    from assay.chaos.guards import target_lock

    clock = FakeClock()
    cat = _catalogue(sleeper.pid, probability=1.0, faults=[
        {"name": "pause worker", "fault": "process.pause", "targets": ["worker"], "duration": "1s"}])
    with ExitStack() as other_experiment:
        def sleep(seconds: float) -> bool:
            if len(clock.slept) == 1:  # the first fault was held and reverted; the interval begins
                other_experiment.enter_context(target_lock("worker"))
            return clock.sleep(seconds)

        mk = Monkey(cat, seed=3, clock=clock, sleep=sleep)
        assert mk.run(ticks=3) == 1
        assert [d.outcome for d in mk.decisions] == ["injected", "locked", "locked"]
        assert mk.summary() == ("monkey: 3 decisions, 1 fault(s) injected and reverted, 2 held back: target locked; "
                                "2 of 3 due fault(s) not injected")
        locked_out = Monkey(cat, seed=3, clock=clock, sleep=clock.sleep)
        assert locked_out.run(ticks=2) == 2
        assert locked_out.summary().endswith(", 2 held back: target locked; no fault could be injected: nothing was tested")
    # no fault due (every roll missed) is not a failure: nothing was asked
    idle = Monkey(_catalogue(sleeper.pid, probability=0.0), seed=3, clock=clock, sleep=clock.sleep)
    assert idle.run(ticks=3) == 0 and {d.outcome for d in idle.decisions} == {"skipped"}
    assert psutil.Process(sleeper.pid).status() != psutil.STATUS_STOPPED
    assert injector.active() == []


def test_monkey_catalogue_errors_are_located(tmp_path: Path) -> None:
    bad = tmp_path / "cat.yaml"
    bad.write_text(yaml.safe_dump({"targets": {"w": "pid:1"}, "faults": [
        {"name": "x", "fault": "process.pasue", "targets": ["w"]}]}))
    with pytest.raises(ConfigError, match="did you mean 'process.pause'"):
        load_catalogue(bad)
    bad.write_text(yaml.safe_dump({"targets": {"w": "pid:1"}, "probability": 2,
                                   "faults": [{"name": "x", "fault": "process.pause", "targets": ["w"]}]}))
    with pytest.raises(ConfigError, match=r"cat.yaml:\d+:\d+: probability: input should be less than or equal to 1"):
        load_catalogue(bad)
    bad.write_text(yaml.safe_dump({"targets": {"w": "pid:1"},
                                   "faults": [{"name": "x", "fault": "process.pause", "targets": ["nope"]}]}))
    with pytest.raises(ConfigError, match=r"unknown target\(s\) \['nope'\]"):
        load_catalogue(bad)


@pytest.mark.slow
def test_monkey_cli_stops_cleanly_on_sigterm_and_leaves_no_fault(tmp_path: Path, sleeper: subprocess.Popen[bytes]) -> None:
    cat = tmp_path / "cat.yaml"
    cat.write_text(yaml.safe_dump({"interval": "100ms", "probability": 1.0, "targets": {"worker": f"pid:{sleeper.pid}"},
                                   "faults": [{"name": "pause worker", "fault": "process.pause", "targets": ["worker"],
                                               "duration": "60s"}]}))
    log = tmp_path / "monkey.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "assay", "chaos", "monkey", "-c", str(cat), "--seed", "1", "--log", str(log)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    deadline = time.monotonic() + 60
    while psutil.Process(sleeper.pid).status() != psutil.STATUS_STOPPED and time.monotonic() < deadline:
        time.sleep(0.05)
    assert psutil.Process(sleeper.pid).status() == psutil.STATUS_STOPPED
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert psutil.Process(sleeper.pid).status() != psutil.STATUS_STOPPED
    assert "stopped early, reverted" in err and "monkey: 1 decisions, 1 fault(s) injected and reverted" in out
    assert json.loads(log.read_text().splitlines()[0])["outcome"] == "injected"
    assert injector.active() == []
