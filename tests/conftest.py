"""Fixtures shared by every test folder."""

from __future__ import annotations

import atexit
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import settings

K6_SAMPLES = Path(__file__).resolve().parent / "data" / "k6"

os.environ.setdefault("PACT_DO_NOT_TRACK", "true")

# Property tests: no per-example deadline (a loaded box or a busy xdist neighbour would fail a correct
# example for being slow), no example database, and Hypothesis's caches in a temporary directory:
# a test run never writes into the working tree (.hypothesis/ in the current directory otherwise).
if "HYPOTHESIS_STORAGE_DIRECTORY" not in os.environ:  # xdist workers inherit the controller's
    os.environ["HYPOTHESIS_STORAGE_DIRECTORY"] = tempfile.mkdtemp(prefix="assay-hypothesis-")
    atexit.register(shutil.rmtree, os.environ["HYPOTHESIS_STORAGE_DIRECTORY"], ignore_errors=True)
settings.register_profile("assay", deadline=None, database=None)
settings.load_profile("assay")


@pytest.fixture
def reference_dir() -> Path:
    """tests/data/k6: k6 summary files (summary-export and handleSummary) of one run, see its README."""
    return K6_SAMPLES


def unavailable(why: str) -> None:
    """Skip a test whose tool or service is missing here; in CI (`CI` set) fail it instead.

    .ci/run installs every tool and starts every service the tests use, so a skip in CI
    would hide a test that never ran.
    """
    if os.environ.get("CI"):
        pytest.fail(f"{why}, but CI is set: .ci/run must provide it")
    pytest.skip(why)


def find_tool(name: str, package: str | None = None) -> str:
    """The path of a Debian tool a test runs (chromium, prometheus-pushgateway, node, ...), or skip."""
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")
    if not path:
        unavailable(f"{name} is not installed (apt-get install {package or name}; .ci/run installs it)")
    assert path is not None
    return path


@pytest.fixture
def system_tool() -> Callable[..., str]:
    """`system_tool("chromium")`: the tool's path; without it the test skips (fails in CI)."""
    return find_tool


_SERVICES = {
    "postgres": ("PostgreSQL", 5432),
    "redis": ("Redis", 6379),
    "rabbitmq": ("RabbitMQ", 5672),
    "nats": ("NATS", 4222),
    "mqtt": ("Mosquitto", 1883),
}
_reachable: dict[int, bool] = {}


def _listening(port: int) -> bool:
    if port not in _reachable:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            _reachable[port] = True
        except OSError:
            _reachable[port] = False
    return _reachable[port]


def _restore_stop_signals() -> None:
    """SIGINT and SIGTERM as a fresh process has them, before each test.

    An earlier test in the same (xdist worker) process can leave SIGINT ignored or blocked here
    (a library's event loop, a handler not put back); the commands the next test starts inherit an
    ignored or blocked signal across exec and then never see the Ctrl-C that test sends them.
    """
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """The markers `node`, `postgres`, `redis`, `rabbitmq`, `nats` and `mqtt` say what a test needs; without it, skip with the reason."""
    _restore_stop_signals()
    if item.get_closest_marker("node") is not None:
        find_tool("node", "nodejs")
        find_tool("npm")
    for marker, (service, port) in _SERVICES.items():
        if item.get_closest_marker(marker) is not None and not _listening(port):
            unavailable(f"{service} is not running on 127.0.0.1:{port} (.ci/run starts it)")


@pytest.fixture
def postgres_url() -> str:
    """The machine's PostgreSQL (trust auth, database `test`)."""
    return os.environ.get("ASSAY_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
def redis_url() -> str:
    """The machine's Redis."""
    return os.environ.get("ASSAY_TEST_REDIS", "redis://127.0.0.1:6379/0")


REPO = Path(__file__).resolve().parent.parent
CTK_VENV = Path(os.environ.get("ASSAY_CTK_VENV") or REPO / ".venv-ctk")
CTK_REQUIREMENTS = REPO / "tests" / "chaostoolkit-requirements.txt"


def chaostoolkit_venv() -> Path:
    """The real Chaos Toolkit in its own venv (.venv-ctk), built from tests/chaostoolkit-requirements.txt
    when missing or stale (`make install` builds it too); returns the venv's bin directory."""
    wanted = CTK_REQUIREMENTS.read_text()
    stamp = CTK_VENV / ".installed"
    if stamp.exists() and stamp.read_text() == wanted:
        return CTK_VENV / "bin"
    CTK_VENV.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{CTK_VENV}.lock", "a") as lock:  # pytest workers and make may build it at once
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (stamp.exists() and stamp.read_text() == wanted):
            base = getattr(sys, "_base_executable", None) or shutil.which("python3") or sys.executable
            steps = [[base, "-m", "venv", "--clear", str(CTK_VENV)],
                     [str(CTK_VENV / "bin" / "python"), "-m", "pip", "install", "-q", "-r", str(CTK_REQUIREMENTS)]]
            for step in steps:
                done = subprocess.run(step, capture_output=True, text=True, timeout=900)
                if done.returncode != 0:
                    unavailable(f"cannot build the Chaos Toolkit venv {CTK_VENV}: {' '.join(step[:4])}: "
                                f"{(done.stderr or done.stdout).strip()[-400:]}")
            stamp.write_text(wanted)
    return CTK_VENV / "bin"


@pytest.fixture(scope="session")
def chaostoolkit() -> Path:
    """The `chaos` command of the real Chaos Toolkit (its own venv, not assay's)."""
    return chaostoolkit_venv() / "chaos"
