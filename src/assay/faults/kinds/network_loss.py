"""network.loss: drop a share of a host's outgoing packets with nftables (numgen random), in its namespace.

The same effect as netem's loss without the netem qdisc, which some kernels lack. The
rule sits on the device's egress hook (netdev family), after the stack has sent the
packet, so the sender sees no error: the packet is lost on the wire. Each fault is its
own nftables table, so revert deletes exactly what it added.
"""

from __future__ import annotations

import ipaddress
import shutil
import subprocess
import uuid
from typing import Any

from pydantic import Field, field_validator

from assay.faults.kinds.network import need_netns
from assay.faults.model import FaultError, FaultParams, FaultType
from assay.faults.registry import register
from assay.harness.netns import netns_exists, run


class LossParams(FaultParams):
    loss: float = Field(..., gt=0, le=100, description="percent of packets dropped")
    to: str | None = Field(None, description="only packets to this IPv4 address")
    device: str = "eth0"

    @field_validator("to")
    @classmethod
    def _ip(cls, value: str | None) -> str | None:
        if value is not None:
            ipaddress.IPv4Address(value)
        return value


@register
class NetworkLoss(FaultType):
    name = "network.loss"
    summary = "drop a percentage of a host's outgoing packets (nftables numgen), optionally to one address"
    Params = LossParams
    target_help = "netns:NAME"

    def check(self, params: Any, target: Any) -> None:
        need_netns(self.name, target)
        if shutil.which("nft") is None:
            raise FaultError("network.loss: nft is not installed (apt-get install nftables)")

    def inject(self, params: Any, target: Any, ttl: float | None = None) -> dict[str, Any]:
        netns = need_netns(self.name, target)
        table = f"assay_loss_{uuid.uuid4().hex[:8]}"
        match = ["ip", "daddr", params.to] if params.to else []
        threshold = str(round(params.loss * 100))
        try:
            run("nft", "add", "table", "netdev", table, netns=netns)
            run("nft", "add", "chain", "netdev", table, "out",
                f"{{ type filter hook egress device {params.device} priority 0 ; }}", netns=netns)
            run("nft", "add", "rule", "netdev", table, "out", *match, "numgen", "random", "mod", "10000", "<", threshold,
                "drop", netns=netns)
        except subprocess.CalledProcessError as exc:
            run("nft", "delete", "table", "netdev", table, netns=netns, check=False)
            raise FaultError(f"network.loss: nft: {(exc.stderr or '').strip()}") from None
        return {"netns": netns, "table": table}

    def revert(self, record: dict[str, Any]) -> None:
        if netns_exists(record["netns"]):
            run("nft", "delete", "table", "netdev", record["table"], netns=record["netns"], check=False)

    def manual_revert(self, record: dict[str, Any]) -> str:
        return f"ip netns exec {record['netns']} nft delete table netdev {record['table']}"
