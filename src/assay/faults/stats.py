"""Counters per proxy and per toxic, served in /metrics and GET /proxies/{p}."""

from __future__ import annotations

from typing import Any


class ProxyStats:
    __slots__ = ("connections_total", "connections_active", "bytes_closed", "activations", "requests_faulted")

    def __init__(self) -> None:
        self.connections_total = 0
        self.connections_active = 0
        # bytes of closed connections: [upstream received, upstream sent, downstream received, downstream sent]
        self.bytes_closed = [0, 0, 0, 0]
        self.activations: dict[str, int] = {}  # toxic name -> links (or requests) it fired on

    def activated(self, toxic: str, n: int = 1) -> None:
        self.activations[toxic] = self.activations.get(toxic, 0) + n

    def as_json(self, live: list[int], toxic_names: list[str]) -> dict[str, Any]:
        b = [self.bytes_closed[i] + live[i] for i in range(4)]
        return {
            "connections_total": self.connections_total,
            "connections_active": self.connections_active,
            "bytes_upstream_received": b[0],
            "bytes_upstream_sent": b[1],
            "bytes_downstream_received": b[2],
            "bytes_downstream_sent": b[3],
            "toxics": {name: {"activations": self.activations.get(name, 0)} for name in toxic_names},
        }
