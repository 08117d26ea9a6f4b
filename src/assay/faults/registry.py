"""Fault types by name, as the proxy's toxics are: one module per type under kinds/."""

from __future__ import annotations

import difflib

from assay.faults.model import FaultError, FaultType

_TYPES: dict[str, FaultType] = {}


def register(fault_type: type[FaultType]) -> type[FaultType]:
    """Class decorator: make a fault type available by its `name`."""
    _TYPES[fault_type.name] = fault_type()
    return fault_type


def _load() -> None:
    if not _TYPES:
        import assay.faults.kinds  # noqa: F401 - registers every type


def get(name: str) -> FaultType:
    _load()
    try:
        return _TYPES[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(_TYPES), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise FaultError(f"unknown fault type {name!r}{hint} (see `assay fault types`)") from None


def all_types() -> list[FaultType]:
    _load()
    return [_TYPES[n] for n in sorted(_TYPES)]
