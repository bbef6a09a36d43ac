"""volumes and snapshots

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 01:45:00.000000

Volumes (root and data, with the state machine's columns) and volume snapshots. What they
hold on primary storage is in the counter tables (0007). VMs placed before this revision
get their root volume's row (the UUID derived from the VM's as ``mgmt.volume`` derives it,
the VM's root reservations recorded on it), so the storage counter's recalculation, which
counts what volume rows record, finds no drift after the upgrade.
"""

from __future__ import annotations

import uuid as uuidlib
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
#: ``mgmt.volume.roots``' namespace (a migration does not import the code it migrates for)
_ROOT_NAMESPACE = uuidlib.UUID("0d6c1f5e-7a43-4e8b-9a61-5b2f8c4d7e90")
_ROOT_COLUMNS = (
    "uuid",
    "name",
    "description",
    "owner_account_uuid",
    "created_at",
    "updated_at",
    "state",
    "type",
    "vm_instance_uuid",
    "primary_storage_uuid",
    "size",
    "actual_size",
    "install_path",
    "device_id",
    "format",
    "enabled_state",
    "host_uuid",
    "reservation",
)


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

    _root_volumes_of_placed_vms()


def _root_volumes_of_placed_vms() -> None:
    bind = op.get_bind()
    vms = bind.execute(
        sa.text(
            "SELECT uuid, name, owner_account_uuid, created_at, root_primary_storage_uuid, "
            "root_size, root_reservation, host_uuid, last_host_uuid FROM vm_instance "
            "WHERE root_primary_storage_uuid IS NOT NULL"
        )
    ).all()
    volume = sa.table("volume", *(sa.column(c) for c in _ROOT_COLUMNS))
    for vm in vms:
        root = uuidlib.uuid5(_ROOT_NAMESPACE, vm.uuid).hex
        op.execute(
            volume.insert().values(
                uuid=root,
                name=f"ROOT-for-{vm.name}"[:255],
                description="",
                owner_account_uuid=vm.owner_account_uuid,
                created_at=vm.created_at,
                updated_at=vm.created_at,
                state="Ready",
                type="Root",
                vm_instance_uuid=vm.uuid,
                primary_storage_uuid=vm.root_primary_storage_uuid,
                size=vm.root_size,
                actual_size=vm.root_size,
                install_path=f"/{vm.root_primary_storage_uuid}/root/{root}.qcow2",
                device_id=0,
                format="qcow2",
                enabled_state="Enabled",
                host_uuid=vm.host_uuid or vm.last_host_uuid,
                reservation=vm.root_reservation,
            )
        )
        op.execute(
            sa.text("UPDATE vm_instance SET root_volume_uuid = :root WHERE uuid = :vm").bindparams(
                root=root, vm=vm.uuid
            )
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
