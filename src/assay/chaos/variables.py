"""`--var` and `--var-file` as the chaos CLI reads them: configuration and secrets overrides."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from assay.config import load_data
from assay.errors import UsageError

_TYPES: dict[str, Any] = {"str": str, "int": int, "float": float, "bytes": lambda v: v.encode(),
                          "bool": lambda v: v.lower() in ("1", "true", "yes")}


def parse_var(text: str) -> tuple[str, Any]:
    """`name=value` or `name:type=value` (type: str, int, float, bytes, bool)."""
    left, sep, value = text.partition("=")
    if not sep or not left:
        raise UsageError(f"--var {text!r}: expected name=value or name:type=value")
    name, _, kind = left.partition(":")
    if not kind:
        return name, value
    if kind not in _TYPES:
        raise UsageError(f"--var {text!r}: unknown type {kind!r}; expected {', '.join(_TYPES)}")
    try:
        return name, _TYPES[kind](value)
    except ValueError:
        raise UsageError(f"--var {text!r}: {value!r} is not a {kind}") from None


def read_var_file(path: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(configuration, secrets) from a JSON/YAML file with those two keys, or a .env file."""
    p = Path(path)
    if p.suffix in (".json", ".yaml", ".yml"):
        data = load_data(p)
        if not isinstance(data, dict):
            raise UsageError(f"{p}: expected a mapping with 'configuration' and/or 'secrets'")
        return dict(data.get("configuration") or {}), dict(data.get("secrets") or {})
    if not p.exists():
        raise UsageError(f"{p}: no such file")
    config: dict[str, Any] = {}
    for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.removeprefix("export ").partition("=")
        if not sep:
            raise UsageError(f"{p}:{n}: expected NAME=value")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        config[key.strip()] = value
    return config, {}


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, default=str)
