"""Times on the command line: ISO 8601 instants or dates (UTC when no zone is given)."""

from __future__ import annotations

from datetime import UTC, datetime

from assay.errors import UsageError


def parse_when(text: str, option: str) -> datetime:
    try:
        stamp = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"{option} {text!r}: expected an ISO 8601 time such as 2026-03-01T02:00:00Z or 2026-03-01") from None
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)
