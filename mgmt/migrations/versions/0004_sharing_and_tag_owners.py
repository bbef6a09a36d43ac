"""sharing and tag owners

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 16:09:04.952140
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "resource_share",
        sa.Column("uuid", sa.String(length=64), nullable=False),
        sa.Column("resource_uuid", sa.String(length=64), nullable=False),
        sa.Column("resource_type", sa.String(length=64), nullable=False),
        sa.Column("owner_account_uuid", sa.String(length=36), nullable=False),
        sa.Column("to_account_uuid", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("uuid", name=op.f("pk_resource_share")),
    )
    with op.batch_alter_table("resource_share", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_resource_share_owner_account_uuid"), ["owner_account_uuid"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_resource_share_resource_uuid"), ["resource_uuid"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_resource_share_to_account_uuid"), ["to_account_uuid"], unique=False
        )

    with op.batch_alter_table("tag", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner_account_uuid", sa.String(length=36), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_tag_owner_account_uuid"), ["owner_account_uuid"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("tag", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tag_owner_account_uuid"))
        batch_op.drop_column("owner_account_uuid")

    with op.batch_alter_table("resource_share", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_resource_share_to_account_uuid"))
        batch_op.drop_index(batch_op.f("ix_resource_share_resource_uuid"))
        batch_op.drop_index(batch_op.f("ix_resource_share_owner_account_uuid"))

    op.drop_table("resource_share")
