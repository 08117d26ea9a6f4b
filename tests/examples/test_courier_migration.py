"""courier's second migration (messages.edited_at and ix_messages_sender_created): expand-only, safe to run under a live server."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from courier_helpers import Courier
from sqlalchemy import create_engine, inspect

Start = Callable[..., Courier]


def migrate(url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "courier", "migrate", "--db", url, *extra], capture_output=True, text=True, timeout=60
    )


def schema(url: str) -> tuple[set[str], set[str]]:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        found = inspect(engine)
        return {c["name"] for c in found.get_columns("messages")}, {i["name"] for i in found.get_indexes("messages")}
    finally:
        engine.dispose()


def served_through_the_migration(courier: Courier, url: str) -> None:
    alice = courier.session("alice")
    cid = alice.post("/conversations", json={"title": "m"}).json()["id"]
    assert alice.post(f"/conversations/{cid}/messages", json={"body": "before"}).status_code == 201
    columns, indexes = schema(url)
    assert "edited_at" not in columns and "ix_messages_sender_created" not in indexes

    done = migrate(url)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "courier: database migrated to 0002"
    columns, indexes = schema(url)
    assert "edited_at" in columns and "ix_messages_sender_created" in indexes

    # the running server (started at 0001) neither needs nor trips over the new column
    assert alice.post(f"/conversations/{cid}/messages", json={"body": "after"}).status_code == 201
    assert [m["body"] for m in alice.get(f"/conversations/{cid}/messages").json()["items"]] == ["before", "after"]
    assert "edited_at" not in alice.get(f"/conversations/{cid}/messages").json()["items"][0]


def test_migration_0002_on_sqlite_under_a_running_server(start_courier: Start, tmp_path: Path) -> None:
    courier = start_courier(migrate_target="0001")
    served_through_the_migration(courier, f"sqlite:///{tmp_path / 'courier.db'}")


@pytest.mark.slow  # several processes
@pytest.mark.postgres
def test_migration_0002_on_postgres_under_a_running_server(start_courier: Start, pg_url: str) -> None:
    courier = start_courier(migrate_target="0001", database_url=pg_url)
    served_through_the_migration(courier, pg_url)
    again = migrate(pg_url)  # idempotent
    assert again.returncode == 0 and again.stdout.strip() == "courier: database migrated to 0002"
    back = migrate(pg_url, "--revision", "0001")
    assert back.returncode == 0 and back.stdout.strip() == "courier: database migrated to 0002"  # never downgrades


def test_an_unknown_revision_is_a_usage_error(tmp_path: Path) -> None:
    bad = migrate(f"sqlite:///{tmp_path / 'x.db'}", "--revision", "9999")
    assert bad.returncode == 64
    assert "migrate --revision 9999" in bad.stderr
    assert "Traceback" not in bad.stderr
