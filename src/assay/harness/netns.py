"""Hosts with their own addresses on one machine: Linux network namespaces joined by a bridge.

    with NetLab() as lab:
        a, b = lab.add_host("a"), lab.add_host("b")        # 10.x.y.2, 10.x.y.3
        ServiceProcess(cmd, netns=b.netns, host=b.ip, port=8080).start()
        in_netns(a.netns, lambda: socket.create_connection((b.ip, 8080)))

Each host is a namespace with one interface, eth0, cabled to a bridge that lives in a
namespace of its own, so no traffic touches the machine's own interfaces. Names are
unique per lab (assay-<id>-<host>); close() deletes everything, also after a failure.
Needs root (CAP_NET_ADMIN) and iproute2.
"""

from __future__ import annotations

import ctypes
import os
import random
import shutil
import subprocess
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import TypeVar

T = TypeVar("T")
CLONE_NEWNET = 0x40000000
NETNS_DIR = "/var/run/netns"


class NetnsUnavailable(RuntimeError):
    """No root, no iproute2 or no namespace support: one line saying which."""


def check_capability() -> None:
    if os.geteuid() != 0:
        raise NetnsUnavailable("network namespaces need root (CAP_NET_ADMIN); run as root")
    for tool in ("ip", "tc"):
        if shutil.which(tool) is None:
            raise NetnsUnavailable(f"{tool} is not installed (apt-get install iproute2)")
    if not os.path.exists("/proc/self/ns/net"):
        raise NetnsUnavailable("this kernel has no network namespaces (CONFIG_NET_NS)")


def run(*args: str, netns: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run an iproute2 command (inside `netns` when given); raise with its stderr when it fails."""
    cmd = ["ip", "netns", "exec", netns, *args] if netns else list(args)
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    if check and done.returncode != 0:
        raise subprocess.CalledProcessError(done.returncode, cmd, done.stdout, done.stderr)
    return done


def in_netns(netns: str, fn: Callable[[], T]) -> T:
    """Call fn in a thread switched into `netns`: sockets it creates live there."""
    libc = ctypes.CDLL(None, use_errno=True)
    box: dict[str, object] = {}

    def target() -> None:
        try:
            fd = os.open(os.path.join(NETNS_DIR, netns), os.O_RDONLY)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), f"setns into {netns} failed")
            finally:
                os.close(fd)
            box["value"] = fn()
        except BaseException as exc:  # handed to the caller
            box["error"] = exc

    thread = threading.Thread(target=target, name=f"netns-{netns}")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]


@dataclass(frozen=True)
class Host:
    name: str
    netns: str
    ip: str
    device: str = "eth0"


class NetLab:
    """A switch namespace with a bridge and host namespaces cabled to it."""

    def __init__(self, prefix: str = "assay") -> None:
        check_capability()
        self.id = uuid.uuid4().hex[:6]
        self.prefix = f"{prefix}-{self.id}"
        self.switch = f"{self.prefix}-sw"
        self.subnet = f"10.{random.randint(100, 250)}.{random.randint(0, 255)}"
        self.hosts: dict[str, Host] = {}
        self._created: list[str] = []
        self._up = False

    def start(self) -> NetLab:
        try:
            self._add_netns(self.switch)
            run("ip", "link", "add", "br0", "type", "bridge", netns=self.switch)
            run("ip", "link", "set", "br0", "up", netns=self.switch)
        except BaseException:
            self.close()
            raise
        self._up = True
        return self

    def _add_netns(self, name: str) -> None:
        run("ip", "netns", "add", name)
        self._created.append(name)
        run("ip", "link", "set", "lo", "up", netns=name)

    def add_host(self, name: str) -> Host:
        if not self._up:
            self.start()
        index = len(self.hosts) + 2
        netns = f"{self.prefix}-{name}"
        host_end, switch_end = f"as{self.id}{index}h", f"as{self.id}{index}s"
        try:
            self._add_netns(netns)
            run("ip", "link", "add", host_end, "type", "veth", "peer", "name", switch_end)
            run("ip", "link", "set", host_end, "netns", netns)
            run("ip", "link", "set", switch_end, "netns", self.switch)
            run("ip", "link", "set", host_end, "name", "eth0", netns=netns)
            run("ip", "addr", "add", f"{self.subnet}.{index}/24", "dev", "eth0", netns=netns)
            run("ip", "link", "set", "eth0", "up", netns=netns)
            run("ip", "link", "set", switch_end, "master", "br0", netns=self.switch)
            run("ip", "link", "set", switch_end, "up", netns=self.switch)
        except BaseException:
            self.close()
            raise
        host = Host(name, netns, f"{self.subnet}.{index}")
        self.hosts[name] = host
        return host

    def close(self) -> None:
        """Delete every namespace this lab made (their veths and the bridge go with them)."""
        for name in reversed(self._created):
            run("ip", "netns", "del", name, check=False)
        self._created.clear()
        self.hosts.clear()
        self._up = False

    def __enter__(self) -> NetLab:
        return self.start()

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def netns_exists(name: str) -> bool:
    return os.path.exists(os.path.join(NETNS_DIR, name))
