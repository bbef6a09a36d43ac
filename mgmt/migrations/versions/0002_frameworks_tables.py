"""frameworks tables

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 15:06:57.163061
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "diag_counter",
        sa.Column("resource_uuid", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("value", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.PrimaryKeyConstraint("resource_uuid", "name", name=op.f("pk_diag_counter")),
    )
    op.create_table(
        "diag_deleted",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("uuid", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("cleaned", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_diag_deleted")),
    )
    with op.batch_alter_table("diag_deleted", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_diag_deleted_uuid"), ["uuid"], unique=False)

    op.create_table(
        "diag_effect",
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("step", sa.String(length=64), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "step", name=op.f("pk_diag_effect")),
    )
    op.create_table(
        "diag_resource",
        sa.Column("uuid", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("parent_uuid", sa.String(length=64), nullable=True),
        sa.Column("other_parent_uuid", sa.String(length=64), nullable=True),
        sa.Column("veto_reason", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("uuid", name=op.f("pk_diag_resource")),
    )
    with op.batch_alter_table("diag_resource", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_diag_resource_other_parent_uuid"), ["other_parent_uuid"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_diag_resource_parent_uuid"), ["parent_uuid"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_diag_resource_type"), ["type"], unique=False)

    op.create_table(
        "flow_run",
        sa.Column("uuid", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("resource_uuid", sa.String(length=64), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("parent_uuid", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("ctx", sa.Text(), nullable=False),
        sa.Column("results", sa.Text(), nullable=False),
        sa.Column("history", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("owner", sa.String(length=200), nullable=True),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("uuid", name=op.f("pk_flow_run")),
    )
    with op.batch_alter_table("flow_run", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_flow_run_parent_uuid"), ["parent_uuid"], unique=False)
        batch_op.create_index("ix_flow_run_partition_state", ["partition", "state"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_flow_run_resource_uuid"), ["resource_uuid"], unique=False
        )

    op.create_table(
        "gc_job",
        sa.Column("uuid", sa.String(length=64), nullable=False),
        sa.Column("flow_uuid", sa.String(length=64), nullable=False),
        sa.Column("flow_name", sa.String(length=128), nullable=False),
        sa.Column("step", sa.String(length=128), nullable=False),
        sa.Column("resource_uuid", sa.String(length=64), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("ctx", sa.Text(), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("uuid", name=op.f("pk_gc_job")),
    )
    with op.batch_alter_table("gc_job", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_gc_job_flow_uuid"), ["flow_uuid"], unique=False)
        batch_op.create_index(
            "ix_gc_job_partition_state", ["partition", "state", "next_at"], unique=False
        )

    op.create_table(
        "global_config",
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("default_value", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("category", "name", name=op.f("pk_global_config")),
    )
    op.create_table(
        "tag",
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("resource_uuid", sa.String(length=64), nullable=False),
        sa.Column("resource_type", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("tag", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("uuid", name=op.f("pk_tag")),
        sa.UniqueConstraint(
            "resource_uuid", "kind", "tag", name=op.f("uq_tag_resource_uuid_kind_tag")
        ),
    )
    with op.batch_alter_table("tag", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tag_kind_tag"), ["kind", "tag"], unique=False)
        batch_op.create_index(batch_op.f("ix_tag_resource_uuid"), ["resource_uuid"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tag", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tag_resource_uuid"))
        batch_op.drop_index(batch_op.f("ix_tag_kind_tag"))

    op.drop_table("tag")
    op.drop_table("global_config")
    with op.batch_alter_table("gc_job", schema=None) as batch_op:
        batch_op.drop_index("ix_gc_job_partition_state")
        batch_op.drop_index(batch_op.f("ix_gc_job_flow_uuid"))

    op.drop_table("gc_job")
    with op.batch_alter_table("flow_run", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_flow_run_resource_uuid"))
        batch_op.drop_index("ix_flow_run_partition_state")
        batch_op.drop_index(batch_op.f("ix_flow_run_parent_uuid"))

    op.drop_table("flow_run")
    with op.batch_alter_table("diag_resource", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_diag_resource_type"))
        batch_op.drop_index(batch_op.f("ix_diag_resource_parent_uuid"))
        batch_op.drop_index(batch_op.f("ix_diag_resource_other_parent_uuid"))

    op.drop_table("diag_resource")
    op.drop_table("diag_effect")
    with op.batch_alter_table("diag_deleted", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_diag_deleted_uuid"))

    op.drop_table("diag_deleted")
    op.drop_table("diag_counter")
