"""hosts

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-12 10:00:00.000000

The host table: the resource columns, the state machine's (``state`` holds the status
machine's state: Connecting/Connected/Disconnected; ``host_state`` the operator's
Enabled/Disabled/…), the facts the connect handshake reports and the hashes of SSH
secrets. (Revises 0008 on its branch; re-chained after 0009 when merged.)
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "host",
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
        sa.Column("zone_uuid", sa.String(length=64), nullable=False),
        sa.Column("cluster_uuid", sa.String(length=64), nullable=False),
        sa.Column("management_ip", sa.String(length=255), nullable=False),
        sa.Column("hypervisor_type", sa.String(length=32), nullable=False),
        sa.Column("host_state", sa.String(length=32), nullable=False),
        sa.Column("cpu_num", sa.Integer(), nullable=False),
        sa.Column("cpu_speed_mhz", sa.Integer(), nullable=False),
        sa.Column("architecture", sa.String(length=32), nullable=False),
        sa.Column("total_cpu_capacity", sa.Integer(), nullable=False),
        sa.Column("total_memory_capacity", sa.BigInteger(), nullable=False),
        sa.Column("local_storage_bytes", sa.BigInteger(), nullable=False),
        sa.Column("vm_count", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("ssh_port", sa.Integer(), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("ssh_private_key_hash", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(
            ["cluster_uuid"],
            ["cluster.uuid"],
            name=op.f("fk_host_cluster_uuid_cluster"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["zone_uuid"], ["zone.uuid"], name=op.f("fk_host_zone_uuid_zone"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("uuid", name=op.f("pk_host")),
        sa.UniqueConstraint("management_ip", name=op.f("uq_host_management_ip")),
    )
    with op.batch_alter_table("host", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_host_cluster_uuid"), ["cluster_uuid"], unique=False)
        batch_op.create_index(batch_op.f("ix_host_name"), ["name"], unique=False)
        batch_op.create_index(batch_op.f("ix_host_op_holder"), ["op_holder"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_host_owner_account_uuid"), ["owner_account_uuid"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_host_state"), ["state"], unique=False)
        batch_op.create_index(batch_op.f("ix_host_zone_uuid"), ["zone_uuid"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("host", schema=None) as batch_op:
        for ix in ("zone_uuid", "state", "owner_account_uuid", "op_holder", "name", "cluster_uuid"):
            batch_op.drop_index(batch_op.f(f"ix_host_{ix}"))
    op.drop_table("host")
