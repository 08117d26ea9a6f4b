"""disk.fill: allocate a file of a size (or a share of the free space) on a path; revert removes it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from pydantic import Field

from assay.faults.model import FaultError, FaultParams, FaultType
from assay.faults.registry import register
from assay.faults.sizes import SizeOrPercent, parse_percent, parse_size

FILL_PREFIX = ".assay-fill-"


class FillParams(FaultParams):
    path: str = Field(..., description="directory on the file system to fill")
    size: SizeOrPercent = Field("50%", description="bytes (1GB, 512MiB) or a percentage of the free space (90%)")


def fill_bytes(params: Any) -> int:
    percent = parse_percent(params.size)
    if percent is None:
        return parse_size(params.size)
    return int(shutil.disk_usage(params.path).free * percent / 100)


@register
class DiskFill(FaultType):
    name = "disk.fill"
    summary = "fill a file system with one preallocated file; revert deletes it"
    Params = FillParams
    target_help = "none; -a path=DIR"

    def check(self, params: Any, target: Any) -> None:
        if not os.path.isdir(params.path):
            raise FaultError(f"disk.fill: path {params.path!r} is not a directory")
        free = shutil.disk_usage(params.path).free
        if fill_bytes(params) > free:
            raise FaultError(f"disk.fill: {params.size} is more than the {free} bytes free on {params.path}")

    def inject(self, params: Any, target: Any, ttl: float | None = None) -> dict[str, Any]:
        size = fill_bytes(params)
        path = Path(params.path) / f"{FILL_PREFIX}{os.getpid()}-{os.urandom(4).hex()}"
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        try:
            if size:
                os.posix_fallocate(fd, 0, size)
        except OSError as exc:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise FaultError(f"disk.fill: could not allocate {size} bytes on {params.path}: {exc}") from None
        os.close(fd)
        return {"file": str(path), "bytes": size}

    def revert(self, record: dict[str, Any]) -> None:
        Path(record["file"]).unlink(missing_ok=True)

    def manual_revert(self, record: dict[str, Any]) -> str:
        return f"rm -f {record['file']}"
