"""provider contracts (bi-directional) and the kind of each verification

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "provider_contracts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("provider_version_id", sa.Integer(), nullable=False),
        sa.Column("specification", sa.String(length=32), nullable=False),
        sa.Column("content_type", sa.String(length=255), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("self_verification_success", sa.Boolean(), nullable=True),
        sa.Column("self_verification", sa.Text(), nullable=True),
        sa.Column("build_url", sa.String(length=1024), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["provider_id"], ["pacticipants.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["provider_version_id"], ["versions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("provider_version_id", name="uq_provider_contracts_version"),
    )
    op.create_index("ix_provider_contracts_provider_id", "provider_contracts", ["provider_id"])
    with op.batch_alter_table("verifications") as batch:
        batch.add_column(sa.Column("kind", sa.String(length=32), nullable=False, server_default="pact"))


def downgrade() -> None:
    with op.batch_alter_table("verifications") as batch:
        batch.drop_column("kind")
    op.drop_index("ix_provider_contracts_provider_id", table_name="provider_contracts")
    op.drop_table("provider_contracts")
