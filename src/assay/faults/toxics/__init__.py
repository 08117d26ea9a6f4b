"""The toxic registry: type name -> toxic class, and building one from JSON attributes.

A new toxic is one file with one frozen dataclass decorated with `@register` (toxics.base).
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import math
import pkgutil
from typing import Any

from assay.faults.errors import INVALID_TOXIC_TYPE
from assay.faults.toxics.base import REGISTRY, AttributeError_, Toxic, register

# Every module of this package is a toxic file that registers itself (`@register`), as each
# Toxiproxy toxic does in its init(): adding a toxic is adding its file, nothing else.
for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")


class BadAttributes(ValueError):
    """Attributes of the wrong JSON type (Toxiproxy answers `bad request body`)."""


INT64 = 2**63


def _coerce(cls_name: str, field: dataclasses.Field[Any], value: Any) -> Any:
    kind = field.type if isinstance(field.type, str) else getattr(field.type, "__name__", "")
    if kind == "int":
        if (
            isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value)
            or int(value) != value or not -INT64 <= int(value) < INT64
        ):
            raise BadAttributes(
                f"json: cannot unmarshal {_json_kind(value)} into Go struct field {cls_name}.{field.name} of type int64"
            )
        return int(value)
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise BadAttributes(
                f"json: cannot unmarshal {_json_kind(value)} into Go struct field {cls_name}.{field.name} of type float64"
            )
        return float(value)
    if kind == "str":
        if not isinstance(value, str):
            raise BadAttributes(
                f"json: cannot unmarshal {_json_kind(value)} into Go struct field {cls_name}.{field.name} of type string"
            )
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise BadAttributes(
                f"json: cannot unmarshal {_json_kind(value)} into Go struct field {cls_name}.{field.name} of type bool"
            )
        return value
    if kind.startswith("dict"):
        if not isinstance(value, dict):
            raise BadAttributes(f"json: cannot unmarshal {_json_kind(value)} into field {field.name} of type object")
        return value
    if kind.startswith("list"):
        if not isinstance(value, list):
            raise BadAttributes(f"json: cannot unmarshal {_json_kind(value)} into field {field.name} of type array")
        return value
    return value  # structured attributes (dicts/lists) are checked by the toxic's validate()


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return f"number {value}"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def unknown_type(type_name: str) -> str:
    """The message for a type that is not registered, listing those that are."""
    return f"{INVALID_TOXIC_TYPE} {type_name[:100]!r}: known types are {', '.join(sorted(REGISTRY))}"


def build_toxic(type_name: str, attributes: dict[str, Any] | None, base: Toxic | None = None) -> Toxic:
    """Merge JSON attributes over `base` (or zero values).

    Raises KeyError for an unknown type, BadAttributes for wrong JSON types and
    AttributeError_ for an unknown attribute (Toxiproxy ignores it, so a typo silently
    leaves the default in force) or a value the toxic can't run with.
    """
    cls = REGISTRY[type_name]
    fields = [f.name for f in dataclasses.fields(cls)]
    for key in attributes or ():
        if key not in fields:
            close = difflib.get_close_matches(str(key), fields, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            valid = ", ".join(fields) or "none"
            raise AttributeError_(f"unknown attribute {str(key)[:100]!r} for toxic type {type_name}{hint}; valid attributes: {valid}")
    values = base.attributes() if base is not None else {}
    for field in dataclasses.fields(cls):
        if attributes and field.name in attributes and attributes[field.name] is not None:
            values[field.name] = _coerce(cls.__name__, field, attributes[field.name])
    toxic = cls(**values)
    toxic.validate()
    return toxic


__all__ = ["REGISTRY", "register", "build_toxic", "unknown_type", "BadAttributes", "AttributeError_", "Toxic"]
