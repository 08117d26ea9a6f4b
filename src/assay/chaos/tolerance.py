"""Whether a probe's output is within its tolerance, with Chaos Toolkit's rules (faults.md §3).

Dispatch is on the tolerance's type: bool/str equality, int compared with an http or
process output's `status`, a list as membership (or an inclusive [lo, hi] range), and the
dict forms range, regex, jsonpath and probe.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from assay.chaos.jsonpath import find


def within(tolerance: Any, value: Any, run_probe: Callable[[dict[str, Any], Any], Any]) -> bool:
    """`run_probe(tolerance, value)` runs a probe tolerance and raises on failure."""
    if isinstance(tolerance, bool):
        if isinstance(value, dict) and value.get("assay_probe") and isinstance(value.get("ok"), bool):
            return value["ok"] == tolerance  # assay's checking probes answer {"ok": verdict, ...}
        return bool(value == tolerance)
    if isinstance(tolerance, str):
        return bool(value == tolerance)
    if isinstance(tolerance, int):
        if isinstance(value, dict) and "status" in value:
            return bool(value["status"] == tolerance)
        return bool(value == tolerance)
    if isinstance(tolerance, list):
        if isinstance(value, dict) and "status" in value:
            return value["status"] in tolerance
        if len(tolerance) == 2:
            try:
                return bool(tolerance[0] <= value <= tolerance[1])
            except TypeError:
                return False
        return value in tolerance
    if isinstance(tolerance, dict):
        return _typed(tolerance, value, run_probe)
    return False


def _target(tolerance: dict[str, Any], value: Any) -> Any:
    target = tolerance.get("target")
    if target and isinstance(value, dict):
        return value.get(target, value)
    return value


def _typed(tolerance: dict[str, Any], value: Any, run_probe: Callable[[dict[str, Any], Any], Any]) -> bool:
    kind = tolerance.get("type")
    if kind == "probe":
        try:
            return bool(run_probe(tolerance, value))
        except Exception:
            return False
    if kind == "regex":
        value = _target(tolerance, value)
        return isinstance(value, str) and re.search(str(tolerance.get("pattern")), value) is not None
    if kind == "range":
        value = _target(tolerance, value)
        try:
            lo, hi = tolerance["range"]
            return Decimal(str(lo)) <= Decimal(str(value)) <= Decimal(str(hi))
        except (InvalidOperation, TypeError, ValueError):
            return False
    if kind == "jsonpath":
        value = _target(tolerance, value)
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                pass
        values = find(str(tolerance.get("path")), value)
        ok = len(values) > 0
        if tolerance.get("count") is not None:
            ok = len(values) == tolerance["count"]
        if "expect" in tolerance:
            expect = tolerance["expect"]
            ok = values == (expect if isinstance(expect, list) else [expect])
        return ok
    return False
