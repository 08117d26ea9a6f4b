"""Network faults between real namespaces (created and deleted by each test), measured on the wire."""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from fault_helpers import sigkill, start_owner, wait_until

from assay.faults import injector
from assay.faults.model import FaultError
from assay.harness.netns import Host, NetLab, in_netns, run
from assay.harness.process import ServiceProcess

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("ip") is None or shutil.which("tc") is None,
    reason="network faults need root and iproute2 (ip, tc)",
)


def _netem_supported() -> bool:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        return False
    with NetLab(prefix="assay-probe") as lab:
        host = lab.add_host("p")
        return run("tc", "qdisc", "add", "dev", "eth0", "root", "netem", "delay", "1ms", netns=host.netns, check=False).returncode == 0


NETEM = _netem_supported() if os.geteuid() == 0 else False
needs_netem = pytest.mark.skipif(not NETEM, reason="this kernel lacks the sch_netem module (CONFIG_NET_SCH_NETEM is not set): netem delay/loss/duplicate/corrupt/reorder cannot be measured here")


@pytest.fixture
def hosts() -> Iterator[tuple[Host, Host]]:
    with NetLab() as lab:
        yield lab.add_host("a"), lab.add_host("b")
    assert not any(n.startswith(lab.prefix) for n in os.listdir("/var/run/netns"))


def _udp(host: Host, port: int = 0) -> socket.socket:
    def make() -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((host.ip, port))
        sock.settimeout(0.5)
        return sock

    return in_netns(host.netns, make)


def _delivered(src: socket.socket, dst: socket.socket, n: int = 1) -> int:
    for i in range(n):
        src.sendto(b"x%d" % i, dst.getsockname())
    got = 0
    try:
        while got < n:
            dst.recvfrom(64)
            got += 1
    except TimeoutError:
        pass
    return got


def _qdisc(host: Host) -> str:
    return run("tc", "qdisc", "show", "dev", "eth0", "root", netns=host.netns).stdout


def test_service_runs_as_a_host_in_its_namespace(hosts: tuple[Host, Host], tmp_path: object) -> None:
    a, b = hosts
    cmd = [sys.executable, "-m", "http.server", "--bind", b.ip, "8080"]
    with ServiceProcess(cmd, netns=b.netns, host=b.ip, port=8080, name=f"web-{b.netns}"):
        status = in_netns(a.netns, lambda: httpx.get(f"http://{b.ip}:8080/", timeout=5).status_code)
        assert status == 200


def test_partition_one_direction_then_both_then_heal(hosts: tuple[Host, Host]) -> None:
    a, b = hosts
    sa, sb = _udp(a), _udp(b)
    assert _delivered(sa, sb) == 1 and _delivered(sb, sa) == 1
    with injector.inject("network.partition", f"netns:{a.netns}", duration=30, peer=f"{b.netns}@{b.ip}", direction="to"):
        with pytest.raises(OSError):  # a has no route to b at all
            _delivered(sa, sb)
        assert _delivered(sb, sa) == 1
    assert _delivered(sa, sb) == 1
    with injector.inject("network.partition", f"netns:{a.netns}", duration=30, peer=f"{b.netns}@{b.ip}") as fault:
        assert len(fault.record["routes"]) == 2
        with pytest.raises(OSError):
            _delivered(sb, sa)
    assert _delivered(sa, sb) == 1 and _delivered(sb, sa) == 1


def _throughput(a: Host, b: Host, nbytes: int) -> float:
    """Bytes per second of one TCP transfer a -> b."""
    listener = in_netns(b.netns, lambda: socket.create_server((b.ip, 0)))
    port = listener.getsockname()[1]
    received = []

    def sink() -> None:
        conn, _ = listener.accept()
        total = 0
        while chunk := conn.recv(65536):
            total += len(chunk)
        received.append((total, time.monotonic()))
        conn.close()

    thread = threading.Thread(target=sink)
    thread.start()
    client = in_netns(a.netns, lambda: socket.create_connection((b.ip, port), timeout=30))
    t0 = time.monotonic()
    client.sendall(b"\0" * nbytes)
    client.close()
    thread.join(60)
    listener.close()
    total, done = received[0]
    assert total == nbytes
    return nbytes / (done - t0)


def test_bandwidth_limit_measured_on_the_wire(hosts: tuple[Host, Host]) -> None:
    a, b = hosts
    rate = 2_000_000 / 8  # 2mbit = 250 kB/s
    with injector.inject("network.bandwidth", f"netns:{a.netns}", duration=60, rate="2mbit"):
        assert "tbf" in _qdisc(a)
        measured = _throughput(a, b, 500_000)
    assert 0.7 * rate < measured < 1.3 * rate, measured
    assert "tbf" not in _qdisc(a)


def test_sigkill_owner_mid_bandwidth_fault_removes_the_qdisc(hosts: tuple[Host, Host]) -> None:
    a, _ = hosts
    owner, _ = start_owner("network.bandwidth", f"netns:{a.netns}", "30s", {"rate": "1mbit"})
    assert "tbf" in _qdisc(a)
    sigkill(owner)
    assert wait_until(lambda: "tbf" not in _qdisc(a), 30)


def test_bad_targets_and_missing_capabilities_are_one_line(hosts: tuple[Host, Host]) -> None:
    a, _ = hosts
    with pytest.raises(FaultError, match="no network namespace"):
        injector.inject("network.bandwidth", "netns:assay-no-such-ns", duration=1, rate="1mbit")
    with pytest.raises(FaultError, match="peer"):
        injector.inject("network.partition", f"netns:{a.netns}", duration=1)
    with pytest.raises(FaultError, match="only add delay"):
        injector.inject("network.netem", "proxy:db", duration=1, loss=10)
    if not NETEM:
        with pytest.raises(FaultError, match="kernel module sch_netem is missing"):
            injector.inject("network.netem", f"netns:{a.netns}", duration=5, delay="100ms")
        assert "netem" not in _qdisc(a)  # nothing half-applied
        assert injector.active() == []
        cli = subprocess.run([sys.executable, "-m", "assay", "fault", "inject", "network.netem", "-t", f"netns:{a.netns}",
                              "-d", "5s", "-a", "delay=100ms"], capture_output=True, text=True, timeout=60)
        assert cli.returncode == 64, cli.stderr
        assert "sch_netem" in cli.stderr and "Traceback" not in cli.stderr
        assert len(cli.stderr.strip().splitlines()) == 1


@pytest.mark.skipif(shutil.which("nft") is None, reason="nftables (nft) is not installed")
def test_loss_measured_over_thousands_of_packets(hosts: tuple[Host, Host]) -> None:
    a, b = hosts
    src, dst = _udp(a), _udp(b)
    dst.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    n, p = 4000, 0.20
    with injector.inject("network.loss", f"netns:{a.netns}", duration=60, loss=p * 100, to=b.ip) as fault:
        got = sum(_delivered(src, dst, 200) for _ in range(n // 200))
        assert _delivered(dst, src, 50) == 50  # the other direction is untouched
    lost = 1 - got / n
    assert abs(lost - p) < 4 * (p * (1 - p) / n) ** 0.5, lost
    assert _delivered(src, dst, 100) == 100
    assert "assay_loss" not in run("nft", "list", "tables", netns=a.netns).stdout
    assert fault.status == "reverted"


def _rtts(a: Host, b: Host, n: int) -> list[float]:
    echo, client = _udp(b), _udp(a)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = echo.recvfrom(64)
                echo.sendto(data, peer)
            except TimeoutError:
                pass

    thread = threading.Thread(target=serve)
    thread.start()
    out = []
    try:
        for i in range(n):
            t0 = time.perf_counter()
            client.sendto(b"%d" % i, echo.getsockname())
            client.recvfrom(64)
            out.append(time.perf_counter() - t0)
    finally:
        stop.set()
        thread.join()
    return out


@needs_netem
def test_netem_delay_measured_within_ten_percent(hosts: tuple[Host, Host]) -> None:
    a, b = hosts
    base = statistics.median(_rtts(a, b, 20))
    with injector.inject("network.netem", f"netns:{a.netns}", duration=60, delay="100ms"):
        added = statistics.median(_rtts(a, b, 20)) - base
    assert abs(added - 0.100) < 0.010, added


@pytest.mark.slow
@needs_netem
def test_netem_loss_over_thousands_of_packets(hosts: tuple[Host, Host]) -> None:
    a, b = hosts
    src, dst = _udp(a), _udp(b)
    dst.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    n = 3000
    with injector.inject("network.netem", f"netns:{a.netns}", duration=60, loss=20):
        got = 0
        for start in range(0, n, 100):
            got += _delivered(src, dst, 100) if start < n else 0
    lost = 1 - got / n
    assert abs(lost - 0.20) < 4 * (0.2 * 0.8 / n) ** 0.5, lost


def _arrivals(src: socket.socket, dst: socket.socket, n: int) -> list[int]:
    """Send n numbered datagrams; the numbers as they arrive (duplicates and order kept)."""
    for i in range(n):
        src.sendto(b"%d" % i, dst.getsockname())
    got: list[int] = []
    try:
        while True:
            data, _ = dst.recvfrom(64)
            try:
                got.append(int(data))
            except ValueError:
                got.append(-1)  # a corrupted payload that still passed the checksum
    except TimeoutError:
        pass
    return got


@pytest.mark.slow
@needs_netem
def test_netem_duplicate_corrupt_and_reorder_on_the_wire(hosts: tuple[Host, Host]) -> None:
    a, b = hosts
    src, dst = _udp(a), _udp(b)
    dst.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    n = 2000
    with injector.inject("network.netem", f"netns:{a.netns}", duration=60, duplicate=30):
        got = _arrivals(src, dst, n)
    assert abs((len(got) - n) / n - 0.30) < 0.06, len(got)  # ~30% arrive twice
    with injector.inject("network.netem", f"netns:{a.netns}", duration=60, corrupt=30):
        got = _arrivals(src, dst, n)
    intact = len(set(got) & set(range(n)))  # a flipped bit drops the datagram (checksum) or mangles it
    assert intact < 0.9 * n, intact
    with injector.inject("network.netem", f"netns:{a.netns}", duration=60, delay="20ms", reorder=50):
        got = _arrivals(src, dst, 200)
    assert sorted(got) == list(range(200)) and got != sorted(got)  # all there, some out of order
    assert "netem" not in _qdisc(a)


@needs_netem
def test_sigkill_owner_mid_netem_removes_the_qdisc(hosts: tuple[Host, Host]) -> None:
    a, _ = hosts
    owner, _ = start_owner("network.netem", f"netns:{a.netns}", "30s", {"delay": "50ms"})
    assert "netem" in _qdisc(a)
    sigkill(owner)
    assert wait_until(lambda: "netem" not in _qdisc(a), 30)


def test_loopback_falls_back_to_the_fault_proxy() -> None:
    from assay.faults.client import Toxiproxy
    from assay.faults.server import ProxyServer
    from assay.harness.ports import free_port

    listener = socket.create_server(("127.0.0.1", 0))
    upstream = f"127.0.0.1:{listener.getsockname()[1]}"
    server = ProxyServer(port=0).start()
    try:
        api = server.url
        proxy = Toxiproxy(api).create("db", upstream=upstream, listen=f"127.0.0.1:{free_port()}")
        with injector.inject("network.netem", "proxy:db", duration=30, delay="200ms", api=api) as fault:
            assert "fault proxy" in fault.record["note"]
            assert [t["attributes"]["latency"] for t in proxy.toxics()] == [200]
        assert proxy.toxics() == []
        with injector.inject("network.partition", "proxy:db", duration=30, api=api):
            with pytest.raises(OSError):
                socket.create_connection((proxy.host, proxy.port), timeout=2)
        socket.create_connection((proxy.host, proxy.port), timeout=2).close()
    finally:
        server.stop()
        listener.close()
