"""The bundled courier catalogue (examples/courier/chaos/) against a real courier: PostgreSQL and
Redis behind `assay proxy serve`, two consumers on one stream. Every experiment passes; a
deliberately broken courier setting (a database timeout longer than the SLO) makes the
slow-database experiment fail: its SLO guard aborts the run and reverts the fault (exit 2)."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest
import redis

from assay.faults import injector
from assay.faults.client import Toxiproxy
from assay.faults.server import subprocess_server
from assay.harness.ports import free_port
from assay.harness.process import ServiceProcess

CATALOGUE = Path(__file__).resolve().parents[2] / "examples" / "courier" / "chaos"
COURIER_SRC = CATALOGUE.parent
TOKEN = "chaos-alice"  # the experiments' `token`: a courier service token for alice
pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]


@dataclass
class Stack:
    proxy_api: str
    db_url: str
    redis_url: str
    stream: str
    tmp: Path
    started: list[ServiceProcess]
    pidfiles: list[Path] = field(default_factory=list)

    def courier(self, consumer: str, **settings: object) -> tuple[str, ServiceProcess]:
        port, env = self.courier_env(consumer, **settings)
        proc = ServiceProcess([sys.executable, "-m", "courier", "--port", str(port)], env=env,
                              health_url=f"http://127.0.0.1:{port}/health/ready",
                              log_path=self.tmp / f"courier-{consumer}.log", start_timeout=60.0)
        proc.start()
        self.started.append(proc)
        return f"http://127.0.0.1:{port}", proc

    def restart_script(self, consumer: str, port: int) -> Path:
        """A command that starts this consumer again, detached, and returns once it is ready."""
        _, env = self.courier_env(consumer, port=port)
        pidfile = self.tmp / f"restarted-{consumer}.pid"
        self.pidfiles.append(pidfile)
        script = self.tmp / f"restart-{consumer}.sh"
        exports = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items() if k.startswith("COURIER_") or k == "PYTHONPATH")
        script.write_text(
            "#!/bin/sh\n" + exports
            + f"setsid {shlex.quote(sys.executable)} -m courier --port {port} >> {self.tmp}/courier-{consumer}-restarted.log 2>&1 "
            f"< /dev/null &\necho $! > {pidfile}\n"
            f"for i in $(seq 1 120); do {shlex.quote(sys.executable)} -c \"import urllib.request as u; "
            f"u.urlopen('http://127.0.0.1:{port}/health/ready', timeout=1)\" 2>/dev/null && exit 0; sleep 0.5; done\nexit 1\n")
        script.chmod(0o755)
        return script

    def courier_env(self, consumer: str, port: int | None = None, **settings: object) -> tuple[int, dict[str, str]]:
        port = port or free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("COURIER_")}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(COURIER_SRC), env.get("PYTHONPATH")]))
        values = {"database_url": self.db_url, "redis_url": self.redis_url, "stream": self.stream,
                  "consumer_name": consumer, "claim_idle_ms": 1000, "log_level": "warning", "shutdown_timeout_s": 3,
                  "db_timeout_s": 1, "db_connect_timeout_s": 1, "db_pool_timeout_s": 1, "breaker_failure_threshold": 2,
                  "breaker_reset_s": 1, "redis_timeout_s": 0.5, "relay_interval_s": 0.2,
                  "service_tokens": json.dumps({TOKEN: "alice"}), **settings}
        env.update({f"COURIER_{k.upper()}": str(v) for k, v in values.items()})
        return port, env


@pytest.fixture
def stack(tmp_path: Path, postgres_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    monkeypatch.setenv("ASSAY_CHAOS_LOCK_DIR", str(tmp_path / "locks"))
    name = f"courier_chaos_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    stream = f"courier-chaos:{uuid.uuid4().hex[:10]}"
    server = subprocess_server()
    server.start()
    started: list[ServiceProcess] = []
    stack_pidfiles: list[Path] = []
    try:
        api = server.url
        db_port, redis_port = free_port(), free_port()
        proxies = Toxiproxy(api)
        proxies.create("db", "127.0.0.1:5432", listen=f"127.0.0.1:{db_port}")
        proxies.create("redis", "127.0.0.1:6379", listen=f"127.0.0.1:{redis_port}")
        proxies.close()
        pg = postgres_url.rsplit("@", 1)[0].split("//", 1)[1]
        yield Stack(api, f"postgresql://{pg}@127.0.0.1:{db_port}/{name}", f"redis://127.0.0.1:{redis_port}/0", stream,
                    tmp_path, started, stack_pidfiles)
    finally:
        for proc in started:
            proc.stop()
        for pidfile in stack_pidfiles:
            if pidfile.exists():
                try:
                    os.kill(int(pidfile.read_text()), signal.SIGTERM)
                except (ProcessLookupError, ValueError):
                    pass
        server.stop()
        client = redis.Redis.from_url(redis_url)
        client.delete(stream, f"{stream}:dead")
        client.close()
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _conversation(url: str) -> str:
    done = httpx.post(f"{url}/conversations", json={"title": "chaos", "participants": ["alice"]},
                      headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert done.status_code == 201, done.text
    return str(done.json()["id"])


def _run(stack: Stack, name: str, url: str, conversation: str, **extra: str) -> tuple[int, dict[str, object], str]:
    journal = stack.tmp / f"{name}.journal.json"
    variables = {"courier_url": url, "proxy_api": stack.proxy_api, "conversation": conversation, **extra}
    args = [a for k, v in variables.items() for a in ("--var", f"{k}={v}")]
    done = subprocess.run([sys.executable, "-m", "assay", "chaos", "run", str(CATALOGUE / f"{name}.yaml"), *args,
                           "--journal-path", str(journal), "--strict"], capture_output=True, text=True, timeout=240, env=os.environ.copy())
    assert journal.exists(), done.stderr
    return done.returncode, json.loads(journal.read_text()), done.stdout + done.stderr


def test_every_catalogue_experiment_validates() -> None:
    files = sorted(CATALOGUE.glob("*.yaml"))
    assert len(files) >= 8
    for path in files:
        done = subprocess.run([sys.executable, "-m", "assay", "chaos", "validate", str(path)], capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr


def _passes(stack: Stack, names: tuple[str, ...], url: str, conversation: str) -> None:
    for name in names:
        code, journal, out = _run(stack, name, url, conversation)
        assert code == 0, f"{name}:\n{out}"
        assert journal["status"] == "completed" and journal["deviated"] is False
        assert all(e["status"] == "succeeded" for e in journal["run"]), name  # --strict: an action that failed fails
        recovery = journal["x-assay"].get("recovery")
        assert recovery is None or recovery["within_target"], name
        assert injector.active() == []


def test_the_catalogue_passes_against_courier(stack: Stack) -> None:
    url, _ = stack.courier("main")
    worker_url, worker = stack.courier("worker")
    conversation = _conversation(url)
    _passes(stack, ("db-unavailable", "redis-partition", "cascade", "slow-db", "redis-latency"), url, conversation)
    # the consumer: killed mid-burst, started again; what it held is reclaimed, nothing is lost
    port = int(worker_url.rsplit(":", 1)[1])
    restart = stack.restart_script("worker", port)
    code, journal, out = _run(stack, "consumer-killed", url, conversation, worker=f"pattern:-m courier --port {port}$",
                              worker_url=worker_url, restart_command=str(restart))
    assert code == 0, out
    assert worker.proc is not None and worker.proc.poll() is not None  # really killed
    restarted = int((stack.tmp / "restarted-worker.pid").read_text())
    assert restarted != worker.proc.pid and httpx.get(f"{worker_url}/health/ready", timeout=5).status_code == 200
    assert journal["x-assay"]["recovery"]["recovered"]
    assert [p["output"] for p in journal["steady_states"]["after"]["probes"]] == [0.0, 0.0]  # drained, none dead


def test_the_host_pressure_experiments_pass_against_courier(stack: Stack, system_tool: Callable[[str], str]) -> None:
    """Apart from the rest so that a machine without stress-ng still runs the other experiments."""
    system_tool("stress-ng")  # .ci/run installs it
    url, _ = stack.courier("main")
    _passes(stack, ("cpu-pressure", "memory-pressure"), url, _conversation(url))


def test_a_broken_courier_setting_makes_the_matching_experiment_deviate(stack: Stack) -> None:
    # a database timeout longer than the SLO's 2.5 s, and a breaker that never opens
    url, _ = stack.courier("broken", db_timeout_s=30, breaker_failure_threshold=1000)
    conversation = _conversation(url)
    code, journal, out = _run(stack, "slow-db", url, conversation)
    assert code == 2, out
    assert journal["status"] == "aborted"
    assert journal["x-assay"]["guard"].startswith("guard probe availability"), journal["x-assay"]["guard"]
    assert journal["x-assay"]["faults"][0]["reverted_at"] is not None
    assert journal["x-assay"]["detection"]["detected_by"] == "guard probe"
