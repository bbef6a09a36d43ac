"""volumes and snapshots

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 01:45:00.000000

Volumes (root and data, with the state machine's columns) and volume snapshots. What they
hold on primary storage is in the counter tables (0007).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_VOLUME_INDEXES = (
    "name",
    "op_holder",
    "owner_account_uuid",
    "primary_storage_uuid",
    "state",
    "type",
    "vm_instance_uuid",
)
_SNAPSHOT_INDEXES = ("name", "op_holder", "owner_account_uuid", "state", "volume_uuid")


def _common() -> list[sa.Column[object]]:
    return [
        sa.Column("uuid", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("owner_account_uuid", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("op_holder", sa.String(length=64), nullable=True),
        sa.Column("op_name", sa.String(length=64), nullable=True),
        sa.Column("op_from", sa.String(length=32), nullable=True),
        sa.Column("op_since", sa.DateTime(timezone=True), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "volume",
        *_common(),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("vm_instance_uuid", sa.String(length=64), nullable=True),
        sa.Column("primary_storage_uuid", sa.String(length=64), nullable=True),
        sa.Column("disk_offering_uuid", sa.String(length=64), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("actual_size", sa.BigInteger(), nullable=False),
        sa.Column("install_path", sa.String(length=2048), nullable=True),
        sa.Column("device_id", sa.Integer(), nullable=True),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("enabled_state", sa.String(length=16), nullable=False),
        sa.Column("host_uuid", sa.String(length=64), nullable=True),
        sa.Column("reservation", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("uuid", name=op.f("pk_volume")),
    )
    with op.batch_alter_table("volume", schema=None) as batch_op:
        for column in _VOLUME_INDEXES:
            batch_op.create_index(batch_op.f(f"ix_volume_{column}"), [column], unique=False)
    op.create_table(
        "volume_snapshot",
        *_common(),
        sa.Column("volume_uuid", sa.String(length=64), nullable=False),
        sa.Column("volume_type", sa.String(length=16), nullable=False),
        sa.Column("primary_storage_uuid", sa.String(length=64), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("install_path", sa.String(length=2048), nullable=True),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("reservation", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("uuid", name=op.f("pk_volume_snapshot")),
    )
    with op.batch_alter_table("volume_snapshot", schema=None) as batch_op:
        for column in _SNAPSHOT_INDEXES:
            batch_op.create_index(
                batch_op.f(f"ix_volume_snapshot_{column}"), [column], unique=False
            )


def downgrade() -> None:
    with op.batch_alter_table("volume_snapshot", schema=None) as batch_op:
        for column in _SNAPSHOT_INDEXES:
            batch_op.drop_index(batch_op.f(f"ix_volume_snapshot_{column}"))
    op.drop_table("volume_snapshot")
    with op.batch_alter_table("volume", schema=None) as batch_op:
        for column in _VOLUME_INDEXES:
            batch_op.drop_index(batch_op.f(f"ix_volume_{column}"))
    op.drop_table("volume")
