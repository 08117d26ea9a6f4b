"""Values in their units, for people: sizes in KiB/MiB/GiB, percent, seconds, 4 significant digits.

A resource gauge says its unit in its name, by the Prometheus naming convention assay's sampler
follows (`proc_rss_bytes`, `proc_cpu_percent`, `*_seconds`), so every report prints `117.7 MiB`
where the result holds 123456789.0; JSON keeps the raw number.
"""

from __future__ import annotations

import math

from assay.results import parse_metric_name

NAMED_UNITS = (("_bytes", "B"), ("_percent", "%"), ("_seconds", "s"))
_IEC = (("GiB", 1024.0**3), ("MiB", 1024.0**2), ("KiB", 1024.0))


def named_unit(name: str) -> str | None:
    """The unit a gauge's name carries (`proc_rss_bytes{proc:api}` -> `B`), or None."""
    base = parse_metric_name(name)[0]
    return next((unit for suffix, unit in NAMED_UNITS if base.endswith(suffix)), None)


def format_value(value: float | None) -> str:
    """A value for people: 4 significant digits, no exponent for everyday magnitudes."""
    if value is None:
        return "n/a"
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 1e6 or magnitude < 1e-4:
        return f"{value:.4g}"
    digits = max(0, 3 - int(math.floor(math.log10(magnitude))))
    text = f"{value:.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_quantity(value: float | None, unit: str | None) -> str:
    """A value in its unit: bytes in KiB/MiB/GiB (`117.7 MiB`), seconds as ms/s/min/h, `27.2%`,
    `381 ms`, `12.5/s`; a value with no unit as format_value."""
    if value is None:
        return "n/a"
    magnitude = abs(value)
    if unit == "B":
        scaled = next(((value / scale, suffix) for suffix, scale in _IEC if magnitude >= scale), (value, "B"))
        return f"{format_value(scaled[0])} {scaled[1]}"
    if unit == "s":
        if 0 < magnitude < 1:
            return f"{format_value(value * 1000)} ms"
        if magnitude < 120:
            return f"{format_value(value)} s"
        return f"{format_value(value / 60)} min" if magnitude < 7200 else f"{format_value(value / 3600)} h"
    if unit in ("%", "/s"):
        return f"{format_value(value)}{unit}"
    return f"{format_value(value)} {unit}" if unit else format_value(value)


def gauge_text(name: str, aggregation: str, value: float) -> str | None:
    """A gauge's aggregate in the unit its name carries (`117.7 MiB`, `27.2%`), its growth in
    percent (`+26.24%`) and its slope per hour (`12 MiB/h`); None where the name carries no unit."""
    unit = named_unit(name)
    if aggregation == "growth":
        return f"{'+' if value >= 0 else ''}{format_value(value)}%"
    if aggregation == "slope":
        return f"{format_quantity(value, unit if unit in ('B', 's') else None)}/h"
    return None if unit is None else format_quantity(value, unit)


__all__ = ["NAMED_UNITS", "format_quantity", "format_value", "gauge_text", "named_unit"]
