"""k6 duration strings ("1m30s", "500ms", "2h") to seconds."""

from __future__ import annotations

import math
import re

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)")
_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


def parse_duration(value: object, *, what: str = "duration") -> float:
    """Seconds from "30s", "1m30s", "250ms", "1.5h", or a number of seconds; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"{what}: expected a duration like '30s' or '1m30s', got {value!r}")
    if isinstance(value, int | float):
        if value != value or value in (math.inf, -math.inf):
            raise ValueError(f"{what}: {value!r} is not a duration; expected a finite number of seconds or e.g. '30s'")
        if value < 0:
            raise ValueError(f"{what}: a duration cannot be negative ({value!r})")
        return _bounded(float(value), what)
    if not isinstance(value, str):
        raise ValueError(f"{what}: expected a duration like '30s' or '1m30s', got {value!r}")
    text = value.strip()
    if not text:
        raise ValueError(f"{what}: empty duration; expected e.g. '30s'")
    if text.replace(".", "", 1).isdigit():
        return _bounded(float(text), what)
    pos = 0
    total = 0.0
    for m in _PART.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(text):
        raise ValueError(f"{what}: {value!r} is not a duration; expected e.g. '30s', '1m30s', '500ms', '2h'")
    return _bounded(total, what)


def config_duration_problem(value: object) -> str | None:
    """Why `value` is not a duration a config file may give (None when it is one): the one wording
    YAML scenarios and k6 options share."""
    try:
        parse_duration(value)
    except ValueError:
        if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
            return f"a duration cannot be negative, got {value!r}"
        return f"expected a duration such as '500ms', '2s' or '1m30s', got {value!r}"
    return None


def _bounded(seconds: float, what: str) -> float:
    from assay.load.limits import MAX_DURATION_S

    if not seconds <= MAX_DURATION_S:
        raise ValueError(f"{what}: {seconds:g}s is above the limit of {MAX_DURATION_S:g}s ({MAX_DURATION_S / 86400:g} days)")
    return seconds


def format_duration(seconds: float) -> str:
    """k6-style short form: 1m30s, 2.5s, 250ms."""
    if seconds < 1 and seconds > 0:
        return f"{seconds * 1000:g}ms"
    whole = int(seconds)
    frac = seconds - whole
    h, rest = divmod(whole, 3600)
    m, s = divmod(rest, 60)
    out = ""
    if h:
        out += f"{h}h"
    if m:
        out += f"{m}m"
    if s or frac or not out:
        out += f"{s + frac:g}s"
    return out
