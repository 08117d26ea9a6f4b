"""Python provider functions the compatibility experiments call (under chaostoolkit and assay alike)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any


def returns_true() -> bool:
    return True


def returns_value(value: Any) -> Any:
    return value


def returns_dict(**fields: Any) -> dict[str, Any]:
    return dict(fields)


def raise_error(message: str = "boom") -> None:
    raise RuntimeError(message)


def write_state(path: str, value: str) -> str:
    Path(path).write_text(value)
    return value


def read_state(path: str, default: str = "healthy") -> str:
    p = Path(path)
    return p.read_text() if p.exists() else default


def append_line(path: str, line: str) -> int:
    with open(path, "a") as fh:
        fh.write(line + "\n")
    return len(Path(path).read_text().splitlines())


def is_positive(value: Any) -> bool:
    return isinstance(value, (int, float)) and value > 0


def greet(name: str, configuration: dict[str, Any] | None = None, secrets: dict[str, Any] | None = None) -> str:
    token = (secrets or {}).get("token", "none")
    return f"{name}:{(configuration or {}).get('who')}:{token}"


def slow_value(value: Any, seconds: float) -> Any:
    time.sleep(seconds)
    return value


def as_json_text(**fields: Any) -> str:
    return json.dumps(fields)


def process_status(pid: int) -> str:
    """'stopped' while a process.pause fault holds it, else 'running' (psutil's sleeping counts as running)."""
    import psutil

    status = psutil.Process(int(pid)).status()
    return "stopped" if status == psutil.STATUS_STOPPED else "running"


def toxic_names(api: str, proxy: str) -> str:
    import httpx

    return ",".join(sorted(t["name"] for t in httpx.get(f"{api}/proxies/{proxy}/toxics", timeout=10).json()))
