"""storage and images

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 06:30:00.000000

Primary storage (LocalStorage, NFS, SharedMountPoint) with its cluster references and
the hosts that mounted it, backup storage (ImageStore) with its zone references, images
with their backup storage references. Capacity is in the counter tables (0007), not here.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "backup_storage",
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("hostname", sa.String(length=255), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("uuid", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("owner_account_uuid", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("uuid", name=op.f("pk_backup_storage")),
    )
    with op.batch_alter_table("backup_storage", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_backup_storage_name"), ["name"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_backup_storage_owner_account_uuid"), ["owner_account_uuid"], unique=False
        )

    op.create_table(
        "image",
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("media_type", sa.String(length=32), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("architecture", sa.String(length=32), nullable=False),
        sa.Column("guest_os_type", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("actual_size", sa.BigInteger(), nullable=False),
        sa.Column("md5_sum", sa.String(length=64), nullable=True),
        sa.Column("download_percent", sa.Integer(), nullable=False),
        sa.Column("downloaded_bytes", sa.BigInteger(), nullable=False),
        sa.Column("uuid", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("owner_account_uuid", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("uuid", name=op.f("pk_image")),
    )
    with op.batch_alter_table("image", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_image_name"), ["name"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_image_owner_account_uuid"), ["owner_account_uuid"], unique=False
        )

    op.create_table(
        "backup_storage_zone_ref",
        sa.Column("backup_storage_uuid", sa.String(length=64), nullable=False),
        sa.Column("zone_uuid", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["backup_storage_uuid"],
            ["backup_storage.uuid"],
            name=op.f("fk_backup_storage_zone_ref_backup_storage_uuid_backup_storage"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["zone_uuid"],
            ["zone.uuid"],
            name=op.f("fk_backup_storage_zone_ref_zone_uuid_zone"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "backup_storage_uuid", "zone_uuid", name=op.f("pk_backup_storage_zone_ref")
        ),
    )
    with op.batch_alter_table("backup_storage_zone_ref", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_backup_storage_zone_ref_zone_uuid"), ["zone_uuid"], unique=False
        )

    op.create_table(
        "image_backup_storage_ref",
        sa.Column("image_uuid", sa.String(length=64), nullable=False),
        sa.Column("backup_storage_uuid", sa.String(length=64), nullable=False),
        sa.Column("install_path", sa.String(length=2048), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("agent_url", sa.String(length=2048), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["backup_storage_uuid"],
            ["backup_storage.uuid"],
            name=op.f("fk_image_backup_storage_ref_backup_storage_uuid_backup_storage"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["image_uuid"],
            ["image.uuid"],
            name=op.f("fk_image_backup_storage_ref_image_uuid_image"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "image_uuid", "backup_storage_uuid", name=op.f("pk_image_backup_storage_ref")
        ),
    )
    with op.batch_alter_table("image_backup_storage_ref", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_image_backup_storage_ref_backup_storage_uuid"),
            ["backup_storage_uuid"],
            unique=False,
        )

    op.create_table(
        "primary_storage",
        sa.Column("zone_uuid", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("total_physical_capacity", sa.BigInteger(), nullable=False),
        sa.Column("available_physical_capacity", sa.BigInteger(), nullable=False),
        sa.Column("uuid", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("owner_account_uuid", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["zone_uuid"],
            ["zone.uuid"],
            name=op.f("fk_primary_storage_zone_uuid_zone"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("uuid", name=op.f("pk_primary_storage")),
    )
    with op.batch_alter_table("primary_storage", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_primary_storage_name"), ["name"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_primary_storage_owner_account_uuid"),
            ["owner_account_uuid"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_primary_storage_zone_uuid"), ["zone_uuid"], unique=False
        )

    op.create_table(
        "primary_storage_cluster_ref",
        sa.Column("primary_storage_uuid", sa.String(length=64), nullable=False),
        sa.Column("cluster_uuid", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cluster_uuid"],
            ["cluster.uuid"],
            name=op.f("fk_primary_storage_cluster_ref_cluster_uuid_cluster"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["primary_storage_uuid"],
            ["primary_storage.uuid"],
            name=op.f("fk_primary_storage_cluster_ref_primary_storage_uuid_primary_storage"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "primary_storage_uuid", "cluster_uuid", name=op.f("pk_primary_storage_cluster_ref")
        ),
    )
    with op.batch_alter_table("primary_storage_cluster_ref", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_primary_storage_cluster_ref_cluster_uuid"),
            ["cluster_uuid"],
            unique=False,
        )

    op.create_table(
        "primary_storage_host_ref",
        sa.Column("primary_storage_uuid", sa.String(length=64), nullable=False),
        sa.Column("host_uuid", sa.String(length=64), nullable=False),
        sa.Column("agent_url", sa.String(length=2048), nullable=False),
        sa.Column("mount_path", sa.String(length=1024), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["host_uuid"],
            ["host.uuid"],
            name=op.f("fk_primary_storage_host_ref_host_uuid_host"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["primary_storage_uuid"],
            ["primary_storage.uuid"],
            name=op.f("fk_primary_storage_host_ref_primary_storage_uuid_primary_storage"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "primary_storage_uuid", "host_uuid", name=op.f("pk_primary_storage_host_ref")
        ),
    )
    with op.batch_alter_table("primary_storage_host_ref", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_primary_storage_host_ref_host_uuid"), ["host_uuid"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("primary_storage_host_ref", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_primary_storage_host_ref_host_uuid"))

    op.drop_table("primary_storage_host_ref")
    with op.batch_alter_table("primary_storage_cluster_ref", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_primary_storage_cluster_ref_cluster_uuid"))

    op.drop_table("primary_storage_cluster_ref")
    with op.batch_alter_table("primary_storage", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_primary_storage_zone_uuid"))
        batch_op.drop_index(batch_op.f("ix_primary_storage_owner_account_uuid"))
        batch_op.drop_index(batch_op.f("ix_primary_storage_name"))

    op.drop_table("primary_storage")
    with op.batch_alter_table("image_backup_storage_ref", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_image_backup_storage_ref_backup_storage_uuid"))

    op.drop_table("image_backup_storage_ref")
    with op.batch_alter_table("backup_storage_zone_ref", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_backup_storage_zone_ref_zone_uuid"))

    op.drop_table("backup_storage_zone_ref")
    with op.batch_alter_table("image", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_image_owner_account_uuid"))
        batch_op.drop_index(batch_op.f("ix_image_name"))

    op.drop_table("image")
    with op.batch_alter_table("backup_storage", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_backup_storage_owner_account_uuid"))
        batch_op.drop_index(batch_op.f("ix_backup_storage_name"))

    op.drop_table("backup_storage")
