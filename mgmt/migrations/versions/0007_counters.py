"""capacity and counters: counter and counter_reservation

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 10:00:00.000000

New tables only (mgmt/core/counters/models.py); nothing existing changes.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "counter",
        sa.Column("owner_uuid", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("owner_type", sa.String(length=64), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("total", _BIG, nullable=False),
        sa.Column("available", _BIG, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("owner_uuid", "name", name=op.f("pk_counter")),
    )
    with op.batch_alter_table("counter", schema=None) as batch_op:
        batch_op.create_index("ix_counter_partition", ["partition"], unique=False)

    op.create_table(
        "counter_reservation",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("owner_uuid", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("amount", _BIG, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_counter_reservation")),
    )
    with op.batch_alter_table("counter_reservation", schema=None) as batch_op:
        batch_op.create_index(
            "ix_counter_reservation_owner_uuid_name_state",
            ["owner_uuid", "name", "state"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("counter_reservation", schema=None) as batch_op:
        batch_op.drop_index("ix_counter_reservation_owner_uuid_name_state")
    op.drop_table("counter_reservation")
    with op.batch_alter_table("counter", schema=None) as batch_op:
        batch_op.drop_index("ix_counter_partition")
    op.drop_table("counter")
