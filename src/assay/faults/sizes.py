"""Byte sizes as people write them: 512MB, 1.5GiB, 4096 (bytes), or a percentage where allowed."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator

_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "k": 1024, "m": 1024**2, "g": 1024**3, "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


def parse_size(value: Any) -> int:
    """Bytes from 4096, '512MB' (10^6), '1GiB' (2^30); a clear ValueError otherwise."""
    if isinstance(value, int) and not isinstance(value, bool):
        size = value
    else:
        match = _SIZE.match(str(value))
        unit = match.group(2).lower() if match else None
        if match is None or unit not in _UNITS:
            raise ValueError(f"expected a size like 512MB, 1GiB or 4096, got {value!r}")
        size = int(float(match.group(1)) * _UNITS[unit])
    if size < 0:
        raise ValueError("a size cannot be negative")
    return size


def parse_percent(value: Any) -> float | None:
    """50% -> 50.0; None when the value is not a percentage."""
    text = str(value).strip()
    if not text.endswith("%"):
        return None
    number = float(text[:-1])
    if not 0 < number <= 100:
        raise ValueError(f"a percentage must be in (0, 100], got {value!r}")
    return number


def _size_text(value: str) -> str:
    parse_size(value)
    return value


def _size_or_percent_text(value: str) -> str:
    if parse_percent(value) is None:
        parse_size(value)
    return value


# Parameter types: the text is kept as written (for describe and export), checked on the way in.
Size = Annotated[str, AfterValidator(_size_text)]
SizeOrPercent = Annotated[str, AfterValidator(_size_or_percent_text)]
