"""The broker's small value rules: timestamps in UTC, pacticipant and version names, content hashes."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from assay.contracts.broker.services.errors import invalid


def now() -> datetime:
    return datetime.now(UTC)


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite hands back naive datetimes; they were stored as UTC
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def as_utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


MAX_NAME = 255


NAME_RULE = (
    "must be 1-255 characters, without control characters (such as NUL), "
    "and not '.' or '..' (they cannot appear in a URL path)"
)


def name_problem(value: Any) -> str | None:
    """Why `value` cannot be a pacticipant name, version number, branch or tag (each one is a URL segment)."""
    if not isinstance(value, str) or not value.strip():
        return "is missing"
    if len(value) > MAX_NAME:
        return f"is {len(value)} characters long; it {NAME_RULE}"
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        return f"contains a control character; it {NAME_RULE}"
    if value in (".", ".."):
        return f"is {value!r}; it {NAME_RULE}"
    return None


def check_name(field_name: str, value: Any) -> str:
    problem = name_problem(value)
    if problem is not None:
        raise invalid(field_name, f"{field_name} {problem}")
    assert isinstance(value, str)
    return value


def check_columns(session: Session, _context: Any = None, _instances: Any = None) -> None:
    """before_flush guard: the same 400 on SQLite (which would store anything) and PostgreSQL (which 500s).

    Every string column is checked for its declared length and for NUL, which PostgreSQL text refuses.
    """
    for obj in list(session.new) + list(session.dirty):
        table = getattr(obj, "__table__", None)
        if table is None:
            continue
        for column in table.columns:
            value = getattr(obj, column.key, None)
            if not isinstance(value, str):
                continue
            length = getattr(column.type, "length", None)
            where = f"{table.name}.{column.key}"
            if length is not None and len(value) > length:
                raise invalid(column.key, f"{where} must be at most {length} characters (got {len(value)})")
            if "\x00" in value:
                raise invalid(column.key, f"{where} must not contain NUL characters")


def content_sha(doc: Any) -> str:
    """The pact version id: SHA-1 of the canonical JSON, so formatting alone is not a new version."""
    canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha1(canonical.encode("utf-8")).hexdigest()
