"""network.netem, network.bandwidth, network.partition: the kernel's own tools in namespaces assay made.

Target a host namespace (`netns:NAME`, its eth0 egress; see harness/netns.py). On plain
loopback with no namespace, `proxy:NAME` falls back to the fault proxy (a latency toxic
for delay, the proxy turned off for a partition) and the fault's record says so.
"""

from __future__ import annotations

import ipaddress
import subprocess
from typing import Any, Literal

from pydantic import Field, model_validator

from assay.faults.model import FaultError, FaultParams, FaultType, Seconds
from assay.faults.registry import register
from assay.harness.netns import NetnsUnavailable, check_capability, netns_exists, run

Percent = float
PROXY_API = "http://127.0.0.1:8474"
FALLBACK_NOTE = "no network namespace: fell back to the fault proxy"


def _netns(target: Any) -> str | None:
    if isinstance(target, str) and target.startswith("netns:"):
        return target.split(":", 1)[1]
    return getattr(target, "netns", None) if target is not None and not isinstance(target, str) else None


def _proxy(target: Any) -> str | None:
    if isinstance(target, str) and target.startswith("proxy:"):
        return target.split(":", 1)[1]
    return None


def need_netns(kind: str, target: Any) -> str:
    """The target's network namespace, ready for `tc`, or a FaultError saying what is missing.
    Shared with network_loss (network.loss/blackhole) so every network fault checks its target
    and the capability the same way, with the same messages."""
    netns = _netns(target)
    if netns is None:
        raise FaultError(f"{kind}: the target is netns:NAME (a host namespace) or proxy:NAME (loopback fallback), got {target!r}")
    try:
        check_capability()
    except NetnsUnavailable as exc:
        raise FaultError(f"{kind}: {exc}") from None
    if not netns_exists(netns):
        raise FaultError(f"{kind}: no network namespace {netns!r}")
    return netns


def _tc(netns: str, *args: str) -> None:
    try:
        run("tc", *args, netns=netns)
    except subprocess.CalledProcessError as exc:
        message = (exc.stderr or "").strip()
        if "qdisc kind is unknown" in message:
            kind = next((a for a in args if a in ("netem", "tbf")), "such")
            raise FaultError(f"this kernel has no {kind} qdisc: the kernel module sch_{kind} is missing "
                             f"(`modprobe sch_{kind}`, or a kernel built with CONFIG_NET_SCH_{kind.upper()}); "
                             f"tc said: {message}") from None
        raise FaultError(f"tc {' '.join(args)} in {netns}: {message}") from None


def _root_qdisc_free(netns: str, device: str) -> None:
    shown = run("tc", "qdisc", "show", "dev", device, "root", netns=netns, check=False).stdout
    if any(kind in shown for kind in ("netem", "tbf", "htb")):
        raise FaultError(f"{device} in {netns} already has a fault's qdisc ({shown.split()[1]}); revert it first")


def _del_root(netns: str, device: str) -> None:
    if netns_exists(netns):
        run("tc", "qdisc", "del", "dev", device, "root", netns=netns, check=False)


class NetemParams(FaultParams):
    delay: Seconds = Field(0.0, description="added one-way delay (Chaos Mesh delay.latency)")
    jitter: Seconds = 0.0
    correlation: Percent = Field(0.0, ge=0, le=100)
    loss: Percent = Field(0.0, ge=0, le=100)
    duplicate: Percent = Field(0.0, ge=0, le=100)
    corrupt: Percent = Field(0.0, ge=0, le=100)
    reorder: Percent = Field(0.0, ge=0, le=100, description="needs a delay")
    reorder_gap: int = Field(0, ge=0)
    rate: str | None = Field(None, description="netem rate, e.g. 1mbit")
    device: str = "eth0"
    api: str = Field(PROXY_API, description="the fault proxy's API (proxy:NAME targets)")

    @model_validator(mode="after")
    def _something(self) -> NetemParams:
        if not any((self.delay, self.loss, self.duplicate, self.corrupt, self.rate)):
            raise ValueError("give at least one of delay, loss, duplicate, corrupt, rate")
        if self.reorder and not self.delay:
            raise ValueError("reorder needs a delay (netem reorders by sending some packets at once)")
        if self.jitter > self.delay and self.delay:
            raise ValueError("jitter larger than delay")
        return self


def netem_args(p: NetemParams) -> list[str]:
    args: list[str] = []
    if p.delay:
        args += ["delay", f"{p.delay * 1000:g}ms"]
        if p.jitter:
            args += [f"{p.jitter * 1000:g}ms"]
            if p.correlation:
                args += [f"{p.correlation:g}%"]
        if p.reorder:
            args += ["reorder", f"{p.reorder:g}%"] + (["gap", str(p.reorder_gap)] if p.reorder_gap else [])
    for name in ("loss", "duplicate", "corrupt"):
        value = getattr(p, name)
        if value:
            args += [name, f"{value:g}%"]
    if p.rate:
        args += ["rate", p.rate]
    return args


@register
class Netem(FaultType):
    name = "network.netem"
    summary = "delay (jitter, correlation), loss, duplicate, corrupt, reorder, rate on a host's egress (tc netem)"
    Params = NetemParams
    target_help = "netem: netns:NAME | proxy:NAME (loopback: delay only, via the fault proxy)"

    def check(self, params: Any, target: Any) -> None:
        if _proxy(target) is not None:
            if any((params.loss, params.duplicate, params.corrupt, params.reorder, params.rate)):
                raise FaultError("network.netem on proxy:NAME: the fault proxy can only add delay; use a namespace for the rest")
            return
        netns = need_netns(self.name, target)
        _root_qdisc_free(netns, params.device)

    def inject(self, params: Any, target: Any, ttl: float | None = None) -> dict[str, Any]:
        proxy = _proxy(target)
        if proxy is not None:
            from assay.faults.client import Toxiproxy

            toxic = Toxiproxy(params.api).get(proxy).add_toxic(
                "latency", name=f"assay-netem-{proxy}", attributes={"latency": int(params.delay * 1000), "jitter": int(params.jitter * 1000)}
            )
            return {"proxy": proxy, "api": params.api, "toxic": toxic["name"], "note": FALLBACK_NOTE}
        netns = need_netns(self.name, target)
        _tc(netns, "qdisc", "add", "dev", params.device, "root", "netem", *netem_args(params))
        return {"netns": netns, "device": params.device, "qdisc": "netem " + " ".join(netem_args(params))}

    def revert(self, record: dict[str, Any]) -> None:
        if "proxy" in record:
            from assay.faults.client import Toxiproxy, ToxiproxyError

            try:
                Toxiproxy(record["api"]).get(record["proxy"]).remove_toxic(record["toxic"])
            except ToxiproxyError as exc:
                if exc.status != 404:
                    raise
            return
        _del_root(record["netns"], record["device"])

    def manual_revert(self, record: dict[str, Any]) -> str:
        if "proxy" in record:
            return f"assay proxy remove-toxic {record['proxy']} {record['toxic']}"
        return f"ip netns exec {record['netns']} tc qdisc del dev {record['device']} root"


class BandwidthParams(FaultParams):
    rate: str = Field(..., pattern=r"^\d+(\.\d+)?(bit|kbit|mbit|gbit|bps|kbps|mbps|gbps)$", description="e.g. 1mbit (tc units; bps = bytes/s)")
    burst: int = Field(32 * 1024, ge=1, description="bytes (Chaos Mesh buffer)")
    limit: int = Field(64 * 1024, ge=1, description="bytes queued before drops (Chaos Mesh limit)")
    device: str = "eth0"


@register
class Bandwidth(FaultType):
    name = "network.bandwidth"
    summary = "limit a host's egress rate with a token bucket (tc tbf, as Chaos Mesh's bandwidth action)"
    Params = BandwidthParams
    target_help = "netns:NAME"

    def check(self, params: Any, target: Any) -> None:
        _root_qdisc_free(need_netns(self.name, target), params.device)

    def inject(self, params: Any, target: Any, ttl: float | None = None) -> dict[str, Any]:
        netns = need_netns(self.name, target)
        _tc(netns, "qdisc", "add", "dev", params.device, "root", "tbf", "rate", params.rate,
            "burst", str(params.burst), "limit", str(params.limit))
        return {"netns": netns, "device": params.device, "qdisc": f"tbf rate {params.rate}"}

    def revert(self, record: dict[str, Any]) -> None:
        _del_root(record["netns"], record["device"])

    def manual_revert(self, record: dict[str, Any]) -> str:
        return f"ip netns exec {record['netns']} tc qdisc del dev {record['device']} root"


class PartitionParams(FaultParams):
    peer: str | None = Field(None, description="the other host: its namespace name and address, NETNS@IP")
    direction: Literal["to", "from", "both"] = "both"
    api: str = Field(PROXY_API, description="the fault proxy's API (proxy:NAME targets)")

    @model_validator(mode="after")
    def _peer(self) -> PartitionParams:
        if self.peer is not None:
            netns, sep, ip = self.peer.partition("@")
            if not sep or not netns:
                raise ValueError("peer is NETNS@IP (e.g. assay-1a2b3c-db@10.200.7.3)")
            ipaddress.ip_address(ip)
        return self


def _own_ip(netns: str) -> str:
    out = run("ip", "-4", "-o", "addr", "show", "dev", "eth0", netns=netns).stdout.split()
    return out[out.index("inet") + 1].split("/")[0]


@register
class Partition(FaultType):
    name = "network.partition"
    summary = "drop traffic between two hosts in one or both directions (blackhole routes); heal on revert"
    Params = PartitionParams
    target_help = "netns:NAME with -a peer=NETNS@IP | proxy:NAME (loopback: the proxy goes down)"

    def check(self, params: Any, target: Any) -> None:
        if _proxy(target) is not None:
            if params.direction != "both":
                raise FaultError("network.partition on proxy:NAME: the fault proxy can only cut both directions")
            return
        need_netns(self.name, target)
        if params.peer is None:
            raise FaultError("network.partition: -a peer=NETNS@IP names the other side")

    def inject(self, params: Any, target: Any, ttl: float | None = None) -> dict[str, Any]:
        proxy = _proxy(target)
        if proxy is not None:
            from assay.faults.client import Toxiproxy

            Toxiproxy(params.api).get(proxy).update(enabled=False)
            return {"proxy": proxy, "api": params.api, "note": FALLBACK_NOTE}
        netns = need_netns(self.name, target)
        peer_ns, _, peer_ip = str(params.peer).partition("@")
        routes = []
        if params.direction in ("to", "both"):
            routes.append((netns, peer_ip))
        if params.direction in ("from", "both"):
            routes.append((peer_ns, _own_ip(netns)))
        done: list[tuple[str, str]] = []
        try:
            for where, dest in routes:
                run("ip", "route", "add", "blackhole", f"{dest}/32", netns=where)
                done.append((where, dest))
        except subprocess.CalledProcessError as exc:
            self.revert({"routes": done})
            raise FaultError(f"network.partition: {exc.stderr.strip()}") from None
        return {"routes": done}

    def revert(self, record: dict[str, Any]) -> None:
        if "proxy" in record:
            from assay.faults.client import Toxiproxy

            Toxiproxy(record["api"]).get(record["proxy"]).update(enabled=True)
            return
        for where, dest in record["routes"]:
            if netns_exists(where):
                run("ip", "route", "del", "blackhole", f"{dest}/32", netns=where, check=False)

    def manual_revert(self, record: dict[str, Any]) -> str:
        if "proxy" in record:
            return f"assay proxy toggle {record['proxy']}"
        return "; ".join(f"ip netns exec {w} ip route del blackhole {d}/32" for w, d in record["routes"])
