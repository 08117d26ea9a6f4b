"""stress.cpu, stress.memory, stress.io: stress-ng workers (what Chaos Mesh's StressChaos runs), and memory.leak."""

from __future__ import annotations

import sys
from typing import Any

from pydantic import Field

from assay.faults import detached
from assay.faults.model import FaultParams, FaultType
from assay.faults.registry import register
from assay.faults.sizes import Size, SizeOrPercent, parse_percent, parse_size

# stress-ng ends by itself a little after the TTL: a second net under the watchdog.
MARGIN_S = 2.0


def _timeout(ttl: float | None) -> list[str]:
    return ["--timeout", f"{int(ttl + MARGIN_S)}s"] if ttl else []


class _StressFault(FaultType):
    target_help = "none (this host)"

    def check(self, params: Any, target: Any) -> None:
        detached.require("stress-ng", "stress-ng")

    def revert(self, record: dict[str, Any]) -> None:
        detached.stop(record)

    def manual_revert(self, record: dict[str, Any]) -> str:
        return f"kill -KILL -- -{record['pgid']}"


class CpuParams(FaultParams):
    workers: int = Field(1, ge=1, le=8192)
    load: int = Field(100, ge=0, le=100, description="percent busy per worker")


@register
class StressCpu(_StressFault):
    name = "stress.cpu"
    summary = "CPU workers at a load percentage (stress-ng --cpu --cpu-load)"
    Params = CpuParams

    def inject(self, params: Any, target: Any, ttl: float | None = None) -> dict[str, Any]:
        cmd = [detached.require("stress-ng", "stress-ng"), "--cpu", str(params.workers),
               "--cpu-load", str(params.load), "--quiet", *_timeout(ttl)]
        return detached.start(cmd)


class MemoryParams(FaultParams):
    size: SizeOrPercent = Field("256MB", description="per worker: 512MB, 1GiB or a percentage of memory, 10%")
    workers: int = Field(1, ge=1, le=8192)


@register
class StressMemory(_StressFault):
    name = "stress.memory"
    summary = "hold a fixed amount of memory (stress-ng --vm, pages kept resident)"
    Params = MemoryParams

    def inject(self, params: Any, target: Any, ttl: float | None = None) -> dict[str, Any]:
        size = params.size if parse_percent(params.size) is not None else f"{parse_size(params.size)}"
        cmd = [detached.require("stress-ng", "stress-ng"), "--vm", str(params.workers), "--vm-bytes", size,
               "--vm-keep", "--vm-hang", "0", "--quiet", *_timeout(ttl)]
        return detached.start(cmd)


class IoParams(FaultParams):
    path: str = Field("/tmp", description="directory the workers write in")
    workers: int = Field(1, ge=1, le=64)
    size: Size = Field("64MB", description="bytes each worker writes per pass")


@register
class StressIo(_StressFault):
    name = "stress.io"
    summary = "I/O pressure on a path: workers writing, syncing and reading files (stress-ng --hdd)"
    Params = IoParams
    target_help = "none; -a path=DIR"

    def check(self, params: Any, target: Any) -> None:
        import os

        super().check(params, target)
        if not os.path.isdir(params.path):
            from assay.faults.model import FaultError

            raise FaultError(f"stress.io: path {params.path!r} is not a directory")

    def inject(self, params: Any, target: Any, ttl: float | None = None) -> dict[str, Any]:
        cmd = [detached.require("stress-ng", "stress-ng"), "--hdd", str(params.workers),
               "--hdd-bytes", str(parse_size(params.size)), "--temp-path", params.path, "--quiet", *_timeout(ttl)]
        return detached.start(cmd)


class LeakParams(FaultParams):
    rate: Size = Field("10MB", description="growth per minute")
    limit: Size = Field("1GB", description="stop growing here")


@register
class MemoryLeak(_StressFault):
    name = "memory.leak"
    summary = "a process whose memory grows by `rate` per minute (for leak detectors)"
    Params = LeakParams

    def check(self, params: Any, target: Any) -> None:
        return None

    def inject(self, params: Any, target: Any, ttl: float | None = None) -> dict[str, Any]:
        cmd = [sys.executable, "-m", "assay.faults.leaker", str(parse_size(params.rate)), str(parse_size(params.limit))]
        if ttl:
            cmd.append(str(ttl + MARGIN_S))
        return detached.start(cmd)
