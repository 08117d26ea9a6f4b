"""`--record [--store URL]`: a command that produces a RunResult puts it in the trend store itself.

Shared by `assay load run`, `chaos run`, `contract verify`, `messaging run` and `slo check` so the flags,
their checks and the message read the same everywhere. The store is opened (and migrated)
before any work, so a wrong URL is exit 64 up front instead of a run that cannot be kept.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from assay.results import RunResult
    from assay.trends.store import TrendStore

STORE_HELP = "With --record: sqlite:///path.db or postgresql://... (default $ASSAY_DB_URL, else .assay/trends.db)."


def record_option() -> Any:
    """The `--record` flag (a fresh OptionInfo per command: typer keeps state on it)."""
    return typer.Option(False, "--record", help="Record the run in the trend store (as `assay trend record`).")


def store_option() -> Any:
    """The `--store URL` option that goes with `--record`."""
    return typer.Option(None, "--store", help=STORE_HELP)


def open_for_record(record: bool, store: str | None) -> TrendStore | None:
    """The trend store to record into, opened before any work; None without --record.

    A bad URL or a store of a newer schema is a UsageError (exit 64); `--store` without
    `--record` is one too, since it would silently record nothing.
    """
    from assay.errors import UsageError

    if not record:
        if store is not None:
            raise UsageError("--store is only used with --record")
        return None
    from assay.trends.store import open_store

    return open_store(store)


def record_result(trend_store: TrendStore | None, *results: RunResult) -> None:
    """Record each result (one transaction each), close the store and say where they went on stderr."""
    if trend_store is None:
        return
    with trend_store:
        for result in results:
            stored = trend_store.record(result)
            typer.echo(f"recorded run {stored.short_id} ({stored.scenario}) in {trend_store.url}", err=True)


__all__ = ["STORE_HELP", "open_for_record", "record_option", "record_result", "store_option"]
