"""messages.edited_at and an index of messages by sender: an expand-only step, safe under load

Revision ID: 0002
Revises: 0001

Written to run while courier serves traffic (the migration-under-load test does exactly
that): the new column is nullable with no default, so adding it rewrites nothing and the
running code, which names its columns, neither reads nor needs it; on PostgreSQL the index
is built CONCURRENTLY (outside the transaction) so writers are never blocked, and a short
lock_timeout makes the ALTER give up rather than queue every request behind it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

INDEX = "ix_messages_sender_created"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("SET LOCAL lock_timeout = '5s'")
        op.add_column("messages", sa.Column("edited_at", sa.DateTime(timezone=True), nullable=True))
        with op.get_context().autocommit_block():
            op.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} ON messages (sender_id, created_at)")
        return
    op.add_column("messages", sa.Column("edited_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(INDEX, "messages", ["sender_id", "created_at"])


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")
    else:
        op.drop_index(INDEX, "messages")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("edited_at")
