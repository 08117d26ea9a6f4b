"""`${name}` substitution, configuration and secrets, as Chaos Toolkit resolves them.

A string that is exactly `${name}` takes the value's own type (so pauses stay numbers);
inside a longer string the value is formatted in. Unknown names are left alone.
"""

from __future__ import annotations

import os
import re
from collections import ChainMap
from collections.abc import Mapping
from typing import Any

from assay.errors import UsageError

_WHOLE = re.compile(r"^\$\{([_a-zA-Z][_a-zA-Z0-9.\-]*)\}$")
_PART = re.compile(r"\$(?:\{([_a-zA-Z][_a-zA-Z0-9.\-]*)\}|([_a-zA-Z][_a-zA-Z0-9]*)|(\$))")


def mapping_of(configuration: Mapping[str, Any] | None, secrets: Mapping[str, Any] | None) -> Mapping[str, Any]:
    scopes: list[dict[str, Any]] = [dict(s) for s in (secrets or {}).values() if isinstance(s, Mapping)]
    return ChainMap(dict(configuration or {}), *scopes)


def substitute(data: Any, configuration: Mapping[str, Any] | None, secrets: Mapping[str, Any] | None) -> Any:
    """A copy of `data` with every `${name}` replaced from configuration, then secrets."""
    return _walk(data, mapping_of(configuration, secrets))


def _walk(data: Any, mapping: Mapping[str, Any]) -> Any:
    if isinstance(data, str):
        return _string(data, mapping)
    if isinstance(data, dict):
        return {k: _walk(v, mapping) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_walk(v, mapping) for v in data]
    return data


def _string(text: str, mapping: Mapping[str, Any]) -> Any:
    whole = _WHOLE.match(text)
    if whole and whole.group(1) in mapping:
        return mapping[whole.group(1)]

    def repl(m: re.Match[str]) -> str:
        if m.group(3):
            return "$"
        name = m.group(1) or m.group(2)
        return str(mapping[name]) if name in mapping else m.group(0)

    return _PART.sub(repl, text)


_CASTS: dict[str, Any] = {"int": int, "float": float, "str": str, "bytes": lambda v: str(v).encode(), "bool": lambda v: str(v).lower() in ("1", "true", "yes")}


class UnsetEnvironment(UsageError):
    """An `env` configuration or secret whose variable is not set here (it may be where the run is)."""


def _from_env(entry: Mapping[str, Any], where: str) -> Any:
    """An `{"type": "env", "key", "default"?, "env_var_type"?}` entry's value."""
    env_key = str(entry.get("key"))
    if env_key in os.environ:
        got: Any = os.environ[env_key]
        cast = entry.get("env_var_type")
        return _CASTS[cast](got) if cast in _CASTS else got
    if "default" in entry:
        return entry["default"]
    raise UnsetEnvironment(f"{where}: environment variable {env_key!r} is not set and has no default")


def load_configuration(raw: Mapping[str, Any] | None, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Resolve literal and `env` entries; `extra` (from --var/--var-file) wins over both."""
    extra = dict(extra or {})
    out: dict[str, Any] = {}
    for key, value in (raw or {}).items():
        if key in extra:
            out[key] = extra[key]
        elif isinstance(value, dict) and value.get("type") == "env":
            out[key] = _from_env(value, f"configuration {key!r}")
        else:
            out[key] = value
    for key, value in extra.items():
        out.setdefault(key, value)
    return out


def load_secrets(raw: Mapping[str, Any] | None, extra: Mapping[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """Scope -> name -> value, resolving literal and `env` entries (vault needs a server: refused)."""
    out: dict[str, dict[str, Any]] = {}
    extra = dict(extra or {})
    for scope, entries in (raw or {}).items():
        resolved: dict[str, Any] = {}
        for name, value in (entries or {}).items():
            if name in extra:
                resolved[name] = extra[name]
            elif isinstance(value, dict) and value.get("type") == "env":
                resolved[name] = _from_env(value, f"secrets {scope}.{name}")
            elif isinstance(value, dict) and value.get("type") == "vault":
                raise UsageError(f"secrets {scope}.{name}: vault secrets are not supported by assay")
            else:
                resolved[name] = value
        out[scope] = resolved
    return out
