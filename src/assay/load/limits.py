"""The bounds every load option is checked against before any traffic (exit 64 past them).

Why: a number that parses is not a number a run can survive. `--vus 99999999999`
allocates VUs until the machine swaps, `--rate 1e308` makes every instant "due" so the
scheduler never sleeps, and a header with a line break corrupts every request. Each bound
is far above what one machine can drive, so a real test never meets it, and the message
names it.
"""

from __future__ import annotations

import math
import re

MAX_VUS = 100_000  # per scenario; k6 itself starts to struggle at tens of thousands per machine
MAX_RATE_PER_S = 1_000_000.0  # iterations started per second by one arrival-rate scenario
MAX_DURATION_S = 31 * 24 * 3600.0  # a month: longer than any soak
MAX_ITERATIONS = 10**12
MAX_BODY_LIMIT = 1 << 40  # maxResponseBodySize

# RFC 9110 token characters: what a header name or method may contain
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def number_problem(value: float, *, what: str, maximum: float, minimum: float = 0.0, unit: str = "") -> str | None:
    """Why `value` is not a usable number for `what` (None when it is)."""
    if isinstance(value, float) and math.isnan(value):
        return f"{what}: not a number (nan)"
    if isinstance(value, float) and math.isinf(value):
        return f"{what}: must be finite" + (f", at most {maximum:g}{unit}" if math.isfinite(maximum) else "")
    if value < minimum:
        return f"{what}: must be at least {minimum:g}{unit}, got {value:g}"
    if value > maximum:
        return f"{what}: {value:g}{unit} is above the limit of {maximum:g}{unit}"
    return None


def header_problem(name: str, value: str) -> str | None:
    """Why a request header cannot be sent as given (None when it can)."""
    if not _TOKEN.fullmatch(name):
        return f"header name {name!r} is not a valid token (letters, digits and !#$%&'*+-.^_`|~ only)"
    bad = _BAD_VALUE.search(value)
    if bad:
        return f"header {name!r}: value contains the control character {bad.group()!r} (line breaks are not allowed)"
    return None


def method_problem(method: str) -> str | None:
    """Why `method` is not an HTTP method token (None when it is)."""
    if not _TOKEN.fullmatch(method):
        return f"{method!r} is not an HTTP method (one token such as GET, POST, PURGE; no spaces)"
    return None
