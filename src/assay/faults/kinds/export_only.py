"""io.fault and clock.offset: Chaos Mesh kinds (IOChaos, TimeChaos) with no safe local version.

A local clock change or a filesystem-call hook would touch the whole machine (or need a
FUSE mount), so these refuse to inject here and say so; `assay fault export` turns them
into manifests.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from assay.faults.model import FaultError, FaultParams, FaultType, Seconds, parse_duration
from assay.faults.registry import register


class _ExportOnly(FaultType):
    target_help = "a mapping-file target (export only)"

    def check(self, params: Any, target: Any) -> None:
        raise FaultError(f"{self.name} cannot be injected on this machine; export it: assay fault export {self.name} ...")

    def inject(self, params: Any, target: Any, ttl: float | None = None) -> dict[str, Any]:
        raise FaultError(f"{self.name} is export-only")

    def revert(self, record: dict[str, Any]) -> None:
        return None


class IoFaultParams(FaultParams):
    action: Literal["latency", "fault"] = "latency"
    volume_path: str = Field("/data", description="the mounted volume in the pod")
    path: str = Field("/data/**/*", description="glob of files affected")
    methods: list[str] = Field(default_factory=list, description="file calls (default all): read, write, open, ...")
    percent: int = Field(100, ge=0, le=100)
    delay: Seconds = Field(0.1, description="latency: added to each call")
    errno: int = Field(5, ge=1, description="fault: errno returned (5 = EIO)")


@register
class IoFault(_ExportOnly):
    name = "io.fault"
    summary = "file-call latency or errors on a volume (Chaos Mesh IOChaos; export only)"
    Params = IoFaultParams


class ClockParams(FaultParams):
    offset: str = Field(..., description="signed duration, e.g. -10m or 2h")

    @field_validator("offset")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value.lstrip("-"))
        return value


@register
class ClockOffset(_ExportOnly):
    name = "clock.offset"
    summary = "shift the target's clock (Chaos Mesh TimeChaos; export only)"
    Params = ClockParams
