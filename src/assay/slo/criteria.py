"""Keptn's criteria strings: `<350` (fixed), `<=+10%` / `>-5%` / `<+50` (relative to a baseline).

The grammar is Keptn lighthouse-service's parseCriteriaString: `<op><[+|-]number>[%]` with
op in `< <= = >= >`, spaces ignored. A sign or a `%` makes the criterion relative to the
aggregate of earlier runs (`%` without a sign means an increase, Keptn issue #1498).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from assay.report.units import format_quantity, format_value

OPERATORS = ("<", "<=", "=", ">=", ">")

ACCEPTED_FORMS = (
    "accepted forms: '<350' or '>=0.99' (fixed value), '<=+10%' or '>-5%' (percent of the baseline), "
    "'<+50' or '>=-20' (absolute change from the baseline), with an operator among < <= = >= >"
)

_PATTERN = re.compile(r"(<=|>=|<|>|=)([+-]?)(\d+(?:\.\d*)?|\.\d+)(%?)")


class CriteriaError(ValueError):
    """A criterion string that does not follow Keptn's grammar; the message shows the accepted forms."""


@dataclass(frozen=True)
class Criterion:
    op: str
    value: float
    sign: str = ""  # "", "+" or "-"
    percent: bool = False

    @property
    def relative(self) -> bool:
        """True when the criterion compares with the baseline instead of a fixed number."""
        return bool(self.sign) or self.percent

    def target(self, baseline: float | None = None) -> float:
        """The number the measured value is compared with (Keptn's evaluateComparison)."""
        if not self.relative:
            return self.value
        if baseline is None:
            raise ValueError("a relative criterion needs a baseline")
        if self.percent:
            factor = 100 - self.value if self.sign == "-" else 100 + self.value
            return baseline * factor / 100
        return baseline - self.value if self.sign == "-" else baseline + self.value

    def holds(self, measured: float, baseline: float | None = None) -> bool:
        target = self.target(baseline)
        if self.op == "<":
            return measured < target
        if self.op == "<=":
            return measured <= target
        if self.op == "=":
            return measured == target
        if self.op == ">=":
            return measured >= target
        return measured > target

    def __str__(self) -> str:
        return f"{self.op}{self.sign}{format_number(self.value)}{'%' if self.percent else ''}"


def format_number(value: float) -> str:
    """The shortest positional text that parses back to the same float (no exponent: Keptn has none)."""
    if float(value).is_integer() and abs(value) < 1e16:
        return str(int(value))
    return str(np.format_float_positional(value, trim="-"))


def parse_criterion(text: str) -> Criterion:
    """Parse one criterion string; raise CriteriaError naming the accepted forms."""
    if not isinstance(text, str):
        raise CriteriaError(f"criterion {text!r} must be a string; {ACCEPTED_FORMS}")
    compact = "".join(text.split())
    m = _PATTERN.fullmatch(compact)
    if m is None:
        raise CriteriaError(f"criterion {text!r} is malformed; {ACCEPTED_FORMS}")
    op, sign, number, percent = m.groups()
    value = float(number)
    if not math.isfinite(value):
        raise CriteriaError(f"criterion {text!r} has no usable number; {ACCEPTED_FORMS}")
    return Criterion(op=op, value=value, sign=sign, percent=bool(percent))


def describe(criterion: Criterion, baseline: float | None, percent: bool = False, unit: str | None = None) -> str:
    """`<=+10%` -> `<=+10% (<= 363)` when the baseline is known; `percent` adds a fraction's percent (`<0.001 (0.1%)`),
    a byte or second `unit` its size or time (`<536870912 (512 MiB)`): criteria are written as raw numbers."""
    if not criterion.relative:
        if percent:
            return f"{criterion} ({format_percent(criterion.value)})"
        return f"{criterion} ({format_quantity(criterion.value, unit)})" if unit in _SPELLED_OUT else str(criterion)
    if baseline is None:
        return f"{criterion} (no baseline)"
    target = criterion.target(baseline)
    return f"{criterion} ({criterion.op} {format_percent(target) if percent else format_quantity(target, unit)})"


_SPELLED_OUT = ("B", "s")  # units whose raw numbers people cannot read at a glance (123456789 bytes, 5400 s)


def format_percent(fraction: float | None) -> str:
    """A share for people: 0.1025 -> `10.25%` (4 significant digits, as format_value)."""
    if fraction is None:
        return "n/a"
    return f"{format_value(fraction * 100)}%"
