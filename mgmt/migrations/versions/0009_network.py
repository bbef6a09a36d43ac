"""network: L2 and L3 networks, IP ranges, used IPs, VIPs, VNIs; instance and disk offerings

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 03:01:52.381083

``used_ip``'s primary key ``(l3_network_uuid, ip)`` is what keeps one address one
holder's; ``(l3_network_uuid, holder_uuid)`` makes allocation idempotent by holder.
``l2_vni``'s primary key ``(pool_uuid, vni)`` does the same for a pool's VNIs.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "disk_offering",
        sa.Column("disk_size", _BIG, nullable=False),
        sa.Column("allocator_strategy", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("uuid", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("owner_account_uuid", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("uuid", name=op.f("pk_disk_offering")),
    )
    with op.batch_alter_table("disk_offering", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_disk_offering_name"), ["name"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_disk_offering_owner_account_uuid"), ["owner_account_uuid"], unique=False
        )

    op.create_table(
        "instance_offering",
        sa.Column("cpu_num", sa.Integer(), nullable=False),
        sa.Column("memory_size", _BIG, nullable=False),
        sa.Column("allocator_strategy", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("uuid", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("owner_account_uuid", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("uuid", name=op.f("pk_instance_offering")),
    )
    with op.batch_alter_table("instance_offering", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_instance_offering_name"), ["name"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_instance_offering_owner_account_uuid"),
            ["owner_account_uuid"],
            unique=False,
        )

    op.create_table(
        "l2_vni",
        sa.Column("pool_uuid", sa.String(length=64), nullable=False),
        sa.Column("vni", sa.Integer(), nullable=False),
        sa.Column("l2_network_uuid", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("pool_uuid", "vni", name=op.f("pk_l2_vni")),
        sa.UniqueConstraint("l2_network_uuid", name=op.f("uq_l2_vni_l2_network_uuid")),
    )
    op.create_table(
        "l2_network",
        sa.Column("zone_uuid", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("physical_interface", sa.String(length=255), nullable=False),
        sa.Column("vlan", sa.Integer(), nullable=True),
        sa.Column("vni", sa.Integer(), nullable=True),
        sa.Column("pool_uuid", sa.String(length=64), nullable=True),
        sa.Column("vni_ranges", sa.Text(), nullable=False),
        sa.Column("uuid", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("owner_account_uuid", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["zone_uuid"],
            ["zone.uuid"],
            name=op.f("fk_l2_network_zone_uuid_zone"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("uuid", name=op.f("pk_l2_network")),
    )
    with op.batch_alter_table("l2_network", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_l2_network_name"), ["name"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_l2_network_owner_account_uuid"), ["owner_account_uuid"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_l2_network_pool_uuid"), ["pool_uuid"], unique=False)
        batch_op.create_index(batch_op.f("ix_l2_network_zone_uuid"), ["zone_uuid"], unique=False)

    op.create_table(
        "l2_cluster_ref",
        sa.Column("l2_network_uuid", sa.String(length=64), nullable=False),
        sa.Column("cluster_uuid", sa.String(length=64), nullable=False),
        sa.Column("vtep_cidr", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cluster_uuid"],
            ["cluster.uuid"],
            name=op.f("fk_l2_cluster_ref_cluster_uuid_cluster"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["l2_network_uuid"],
            ["l2_network.uuid"],
            name=op.f("fk_l2_cluster_ref_l2_network_uuid_l2_network"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("l2_network_uuid", "cluster_uuid", name=op.f("pk_l2_cluster_ref")),
    )
    with op.batch_alter_table("l2_cluster_ref", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_l2_cluster_ref_cluster_uuid"), ["cluster_uuid"], unique=False
        )

    op.create_table(
        "l3_network",
        sa.Column("l2_network_uuid", sa.String(length=64), nullable=False),
        sa.Column("zone_uuid", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("system", sa.Boolean(), nullable=False),
        sa.Column("dns_domain", sa.String(length=255), nullable=False),
        sa.Column("ip_version", sa.Integer(), nullable=False),
        sa.Column("dns", sa.Text(), nullable=False),
        sa.Column("uuid", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("owner_account_uuid", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["l2_network_uuid"],
            ["l2_network.uuid"],
            name=op.f("fk_l3_network_l2_network_uuid_l2_network"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("uuid", name=op.f("pk_l3_network")),
    )
    with op.batch_alter_table("l3_network", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_l3_network_l2_network_uuid"), ["l2_network_uuid"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_l3_network_name"), ["name"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_l3_network_owner_account_uuid"), ["owner_account_uuid"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_l3_network_zone_uuid"), ["zone_uuid"], unique=False)

    op.create_table(
        "ip_range",
        sa.Column("l3_network_uuid", sa.String(length=64), nullable=False),
        sa.Column("start_ip", sa.String(length=64), nullable=False),
        sa.Column("end_ip", sa.String(length=64), nullable=False),
        sa.Column("netmask", sa.String(length=64), nullable=False),
        sa.Column("gateway", sa.String(length=64), nullable=False),
        sa.Column("network_cidr", sa.String(length=64), nullable=False),
        sa.Column("prefix_len", sa.Integer(), nullable=False),
        sa.Column("ip_version", sa.Integer(), nullable=False),
        sa.Column("first_int", _BIG, nullable=False),
        sa.Column("last_int", _BIG, nullable=False),
        sa.Column("uuid", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("owner_account_uuid", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["l3_network_uuid"],
            ["l3_network.uuid"],
            name=op.f("fk_ip_range_l3_network_uuid_l3_network"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("uuid", name=op.f("pk_ip_range")),
    )
    with op.batch_alter_table("ip_range", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ip_range_l3_network_uuid"), ["l3_network_uuid"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_ip_range_name"), ["name"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_ip_range_owner_account_uuid"), ["owner_account_uuid"], unique=False
        )

    op.create_table(
        "vip",
        sa.Column("l3_network_uuid", sa.String(length=64), nullable=False),
        sa.Column("ip_range_uuid", sa.String(length=64), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("gateway", sa.String(length=64), nullable=False),
        sa.Column("netmask", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("uuid", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("owner_account_uuid", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["l3_network_uuid"],
            ["l3_network.uuid"],
            name=op.f("fk_vip_l3_network_uuid_l3_network"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("uuid", name=op.f("pk_vip")),
    )
    with op.batch_alter_table("vip", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_vip_ip"), ["ip"], unique=False)
        batch_op.create_index(batch_op.f("ix_vip_ip_range_uuid"), ["ip_range_uuid"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_vip_l3_network_uuid"), ["l3_network_uuid"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_vip_name"), ["name"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_vip_owner_account_uuid"), ["owner_account_uuid"], unique=False
        )

    op.create_table(
        "used_ip",
        sa.Column("l3_network_uuid", sa.String(length=64), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("ip_int", _BIG, nullable=False),
        sa.Column("ip_range_uuid", sa.String(length=64), nullable=False),
        sa.Column("holder_uuid", sa.String(length=64), nullable=False),
        sa.Column("holder_type", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ip_range_uuid"],
            ["ip_range.uuid"],
            name=op.f("fk_used_ip_ip_range_uuid_ip_range"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["l3_network_uuid"],
            ["l3_network.uuid"],
            name=op.f("fk_used_ip_l3_network_uuid_l3_network"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("l3_network_uuid", "ip", name=op.f("pk_used_ip")),
        sa.UniqueConstraint(
            "l3_network_uuid", "holder_uuid", name=op.f("uq_used_ip_l3_network_uuid_holder_uuid")
        ),
    )
    with op.batch_alter_table("used_ip", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_used_ip_holder_uuid"), ["holder_uuid"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_used_ip_ip_range_uuid"), ["ip_range_uuid"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("used_ip", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_used_ip_ip_range_uuid"))
        batch_op.drop_index(batch_op.f("ix_used_ip_holder_uuid"))

    op.drop_table("used_ip")
    with op.batch_alter_table("vip", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_vip_owner_account_uuid"))
        batch_op.drop_index(batch_op.f("ix_vip_name"))
        batch_op.drop_index(batch_op.f("ix_vip_l3_network_uuid"))
        batch_op.drop_index(batch_op.f("ix_vip_ip_range_uuid"))
        batch_op.drop_index(batch_op.f("ix_vip_ip"))

    op.drop_table("vip")
    with op.batch_alter_table("ip_range", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ip_range_owner_account_uuid"))
        batch_op.drop_index(batch_op.f("ix_ip_range_name"))
        batch_op.drop_index(batch_op.f("ix_ip_range_l3_network_uuid"))

    op.drop_table("ip_range")
    with op.batch_alter_table("l3_network", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_l3_network_zone_uuid"))
        batch_op.drop_index(batch_op.f("ix_l3_network_owner_account_uuid"))
        batch_op.drop_index(batch_op.f("ix_l3_network_name"))
        batch_op.drop_index(batch_op.f("ix_l3_network_l2_network_uuid"))

    op.drop_table("l3_network")
    with op.batch_alter_table("l2_cluster_ref", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_l2_cluster_ref_cluster_uuid"))

    op.drop_table("l2_cluster_ref")
    with op.batch_alter_table("l2_network", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_l2_network_zone_uuid"))
        batch_op.drop_index(batch_op.f("ix_l2_network_pool_uuid"))
        batch_op.drop_index(batch_op.f("ix_l2_network_owner_account_uuid"))
        batch_op.drop_index(batch_op.f("ix_l2_network_name"))

    op.drop_table("l2_network")
    op.drop_table("l2_vni")
    with op.batch_alter_table("instance_offering", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_instance_offering_owner_account_uuid"))
        batch_op.drop_index(batch_op.f("ix_instance_offering_name"))

    op.drop_table("instance_offering")
    with op.batch_alter_table("disk_offering", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_disk_offering_owner_account_uuid"))
        batch_op.drop_index(batch_op.f("ix_disk_offering_name"))

    op.drop_table("disk_offering")
