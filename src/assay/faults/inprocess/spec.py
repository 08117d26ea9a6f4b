"""What an in-process fault is: kind, selector, probability, blast radius, TTL.

The same model is posted to a service's control endpoint, validated there, and held in
the service's board; `assay fault inject inprocess` and the chaos runner build it.
"""

from __future__ import annotations

import fnmatch
import time
import uuid
from enum import StrEnum
from typing import Any

from pydantic import Field, model_validator

from assay.config import StrictModel
from assay.faults.model import Seconds


class Kind(StrEnum):
    LATENCY = "LATENCY"
    EXCEPTION = "EXCEPTION"
    TIMEOUT = "TIMEOUT"
    CIRCUIT_BREAK = "CIRCUIT_BREAK"
    RATE_LIMIT = "RATE_LIMIT"
    RESOURCE_EXHAUSTION = "RESOURCE_EXHAUSTION"


class BlastRadius(StrEnum):
    SINGLE_REQUEST = "SINGLE_REQUEST"  # fires on one matching call, then is spent
    SINGLE_SERVICE = "SINGLE_SERVICE"  # every matching call of one named service
    SERVICE_CLUSTER = "SERVICE_CLUSTER"  # services that share the named cluster
    ENTIRE_SYSTEM = "ENTIRE_SYSTEM"  # every service that receives it


class FaultSpec(StrictModel):
    """One in-process fault. `point` is a glob over fault-point names, or "http" for routes."""

    kind: Kind
    point: str = Field("*", description="fault point glob (db*, redis.*) or 'http' for ASGI routes")
    method: str | None = Field(None, description="HTTP method to match (point 'http')")
    path: str | None = Field(None, description="HTTP path prefix to match (point 'http')")
    probability: float = Field(1.0, ge=0.0, le=1.0)
    blast_radius: BlastRadius = BlastRadius.SINGLE_SERVICE
    service: str | None = Field(None, description="SINGLE_SERVICE: the service's name (default: whoever receives it)")
    cluster: str | None = Field(None, description="SERVICE_CLUSTER: the cluster's name")
    delay: Seconds = Field(0.0, description="LATENCY: added delay")
    jitter: Seconds = Field(0.0, description="LATENCY: +/- uniform jitter")
    timeout: Seconds = Field(1.0, description="TIMEOUT: how long the call hangs before it fails")
    exception: str | None = Field(None, description="EXCEPTION: builtin name or dotted path of the exception class")
    message: str = "injected fault"
    limit: int = Field(10, ge=0, description="RATE_LIMIT: calls allowed per window")
    window: Seconds = Field(60.0, gt=0, description="RATE_LIMIT: the window")
    status: int | None = Field(None, ge=100, le=599, description="HTTP status to answer (default by kind)")
    resource: str = Field("pool", pattern="^(pool|memory)$", description="RESOURCE_EXHAUSTION: pool or memory")
    ttl: Seconds | None = Field(None, description="removed by the service itself after this long")
    id: str = Field(default_factory=lambda: uuid.uuid4().hex[:12])

    @model_validator(mode="after")
    def _http_only_with_http(self) -> FaultSpec:
        if (self.method or self.path) and self.point != "http":
            raise ValueError("method and path select HTTP routes: set point to 'http'")
        if self.blast_radius is BlastRadius.SERVICE_CLUSTER and not self.cluster:
            raise ValueError("blast_radius SERVICE_CLUSTER needs a cluster")
        return self

    def applies_to(self, service: str, cluster: str | None) -> bool:
        if self.blast_radius is BlastRadius.SERVICE_CLUSTER:
            return self.cluster == cluster
        if self.blast_radius is BlastRadius.ENTIRE_SYSTEM:
            return True
        return self.service in (None, service)

    def matches_point(self, name: str) -> bool:
        return self.point != "http" and fnmatch.fnmatchcase(name, self.point)

    def matches_route(self, method: str, path: str) -> bool:
        return (
            self.point == "http"
            and (self.method is None or self.method.upper() == method)
            and (self.path is None or path.startswith(self.path))
        )

    def public(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class ActiveSpec:
    """A spec in a board: its deadline and per-fault state (rate window, spent flag)."""

    __slots__ = ("spec", "expires_at", "window_start", "window_count", "spent", "fired", "hits", "draw_all")

    def __init__(self, spec: FaultSpec) -> None:
        self.spec = spec
        self.expires_at = None if spec.ttl is None else time.monotonic() + spec.ttl
        self.window_start = 0.0
        self.window_count = 0
        self.spent = False
        self.fired = 0
        # point name -> matches (and applies to this service); the hot path is a dict lookup
        self.hits: dict[str, bool] = {}
        self.draw_all = spec.probability >= 1.0
