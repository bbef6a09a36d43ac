"""vm instances

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 07:30:00.000000

VM instances (with the state machine's columns) and their NICs. What a VM holds elsewhere
is in the counter tables (0007) and IPAM's used_ip (0009).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_VM_INDEXES = (
    "cluster_uuid",
    "host_uuid",
    "image_uuid",
    "name",
    "op_holder",
    "owner_account_uuid",
    "state",
    "zone_uuid",
)


def upgrade() -> None:
    op.create_table(
        "vm_instance",
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
        sa.Column("zone_uuid", sa.String(length=64), nullable=True),
        sa.Column("cluster_uuid", sa.String(length=64), nullable=True),
        sa.Column("host_uuid", sa.String(length=64), nullable=True),
        sa.Column("last_host_uuid", sa.String(length=64), nullable=True),
        sa.Column("image_uuid", sa.String(length=64), nullable=False),
        sa.Column("instance_offering_uuid", sa.String(length=64), nullable=True),
        sa.Column("cpu_num", sa.Integer(), nullable=False),
        sa.Column("memory_size", sa.BigInteger(), nullable=False),
        sa.Column("root_volume_uuid", sa.String(length=64), nullable=True),
        sa.Column("default_l3_network_uuid", sa.String(length=64), nullable=True),
        sa.Column("hypervisor_type", sa.String(length=32), nullable=True),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("host_allocation", sa.String(length=160), nullable=True),
        sa.Column("root_primary_storage_uuid", sa.String(length=64), nullable=True),
        sa.Column("root_reservation", sa.String(length=400), nullable=True),
        sa.Column("root_size", sa.BigInteger(), nullable=False),
        sa.Column("l3_network_uuids", sa.Text(), nullable=False),
        sa.Column("static_ips", sa.Text(), nullable=False),
        sa.Column("placement", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("uuid", name=op.f("pk_vm_instance")),
    )
    with op.batch_alter_table("vm_instance", schema=None) as batch_op:
        for column in _VM_INDEXES:
            batch_op.create_index(batch_op.f(f"ix_vm_instance_{column}"), [column], unique=False)
    op.create_table(
        "vm_nic",
        sa.Column("uuid", sa.String(length=64), nullable=False),
        sa.Column("vm_instance_uuid", sa.String(length=64), nullable=False),
        sa.Column("l3_network_uuid", sa.String(length=64), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("mac", sa.String(length=17), nullable=False),
        sa.Column("netmask", sa.String(length=64), nullable=False),
        sa.Column("gateway", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("uuid", name=op.f("pk_vm_nic")),
        sa.UniqueConstraint("mac", name=op.f("uq_vm_nic_mac")),
    )
    with op.batch_alter_table("vm_nic", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_vm_nic_l3_network_uuid"), ["l3_network_uuid"])
        batch_op.create_index(batch_op.f("ix_vm_nic_vm_instance_uuid"), ["vm_instance_uuid"])


def downgrade() -> None:
    with op.batch_alter_table("vm_nic", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_vm_nic_vm_instance_uuid"))
        batch_op.drop_index(batch_op.f("ix_vm_nic_l3_network_uuid"))
    op.drop_table("vm_nic")
    with op.batch_alter_table("vm_instance", schema=None) as batch_op:
        for column in _VM_INDEXES:
            batch_op.drop_index(batch_op.f(f"ix_vm_instance_{column}"))
    op.drop_table("vm_instance")
