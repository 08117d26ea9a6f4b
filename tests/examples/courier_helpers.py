"""Helpers for the courier tests: a real uvicorn process, unique databases, a TCP gate."""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading
import uuid
from pathlib import Path

import httpx
import psycopg

from assay.harness.ports import free_port
from assay.harness.process import ServiceProcess

COURIER_SRC = Path(__file__).resolve().parents[2] / "examples" / "courier"
if str(COURIER_SRC) not in sys.path:  # importable even when not pip-installed
    sys.path.append(str(COURIER_SRC))


class Courier:
    """A running courier process and a client bound to it."""

    def __init__(self, proc: ServiceProcess, port: int) -> None:
        self.proc = proc
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.ws_url = f"ws://127.0.0.1:{port}"
        self._sessions: dict[str, httpx.Client] = {}
        self._tokens: dict[str, str] = {}

    def login(self, user: str, password: str = "courier") -> str:
        """A bearer token for `user` from POST /auth/login."""
        resp = httpx.post(f"{self.url}/auth/login", json={"user_id": user, "password": password}, timeout=10.0)
        assert resp.status_code == 201, resp.text
        return str(resp.json()["token"])

    def token(self, user: str) -> str:
        """`user`'s token, logged in once per process object."""
        if user not in self._tokens:
            self._tokens[user] = self.login(user)
        return self._tokens[user]

    def client(self, user: str | None = "alice") -> httpx.Client:
        """An HTTP client logged in as `user` (None: no token at all)."""
        headers = {"Authorization": f"Bearer {self.token(user)}"} if user else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10.0)

    def session(self, user: str = "alice") -> httpx.Client:
        """A client kept for the life of this process object (clients are costly to build)."""
        if user not in self._sessions:
            self._sessions[user] = self.client(user)
        return self._sessions[user]

    def metric(self, name: str, labels: str = "") -> float:
        """One sample from /metrics, e.g. metric('courier_messages_delivered_total')."""
        text = httpx.get(f"{self.url}/metrics", timeout=5.0).text
        wanted = f"{name}{{{labels}}}" if labels else name
        for line in text.splitlines():
            if line.startswith(wanted + " "):
                return float(line.rsplit(" ", 1)[1])
        return 0.0


def launch_courier(log_dir: Path, wait: str = "/health/ready", **settings: object) -> Courier:
    """Start courier as `python -m courier` on a free port, configured through COURIER_* variables."""
    port = int(str(settings.pop("port", 0))) or free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("COURIER_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(COURIER_SRC), env.get("PYTHONPATH")]))
    env["COURIER_DATABASE_URL"] = f"sqlite:///{log_dir / 'courier.db'}"
    env["COURIER_LOG_LEVEL"] = "warning"
    env["COURIER_SHUTDOWN_TIMEOUT_S"] = "5"
    for key, value in settings.items():
        env[f"COURIER_{key.upper()}"] = str(value)
    proc = ServiceProcess(
        [sys.executable, "-m", "courier", "--port", str(port)],
        env=env,
        health_url=f"http://127.0.0.1:{port}{wait}",
        log_path=log_dir / f"courier-{port}-{uuid.uuid4().hex[:6]}.log",
        start_timeout=30.0,
    )
    proc.start()
    return Courier(proc, port)


def create_database(postgres_url: str) -> str:
    name = f"courier_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{postgres_url.rsplit('/', 1)[0]}/{name}"


def drop_database(postgres_url: str, url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class TcpGate:
    """A loopback TCP forwarder that can be shut (refusing and cutting connections) and reopened.

    It stands in for a network partition between courier and one of its dependencies.
    """

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.blackholed = False

    def open(self) -> None:
        self.blackholed = False
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def close(self) -> None:
        """Refuse new connections and reset the open ones."""
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            conns, self._conns = self._conns, set()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def blackhole(self) -> None:
        """Cut the open connections, then accept new ones and never answer: a hung dependency."""
        self.close()
        self.open()
        self.blackholed = True

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            if self.blackholed:
                with self._lock:
                    self._conns.add(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=2.0)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    upstream.close()
                    return
                self._conns.update((client, upstream))
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            with self._lock:
                self._conns.discard(src)
                self._conns.discard(dst)
            src.close()
