"""Times on the command line: ISO 8601 instants or dates (UTC when no zone is given)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from assay.errors import UsageError


def parse_when(text: str, option: str, *, end_of_day: bool = False) -> datetime:
    """`end_of_day`: a bare date means the last instant of that day (an inclusive `--until 2026-03-10`)."""
    try:
        stamp = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"{option} {text!r}: expected an ISO 8601 time such as 2026-03-01T02:00:00Z or 2026-03-01") from None
    if end_of_day and len(text.strip()) == 10:  # YYYY-MM-DD
        stamp += timedelta(days=1, microseconds=-1)
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)
