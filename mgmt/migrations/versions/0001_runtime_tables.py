"""runtime tables

Revision ID: 0001
Revises:
Create Date: 2026-11-24 13:46:17.288172
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "agent_task",
        sa.Column("task_uuid", sa.String(length=36), nullable=False),
        sa.Column("resource_uuid", sa.String(length=64), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("host_uuid", sa.String(length=64), nullable=False),
        sa.Column("agent_url", sa.Text(), nullable=False),
        sa.Column("command", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("context", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("sender_node", sa.String(length=128), nullable=False),
        sa.Column("completed_by", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reply", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("task_uuid", name=op.f("pk_agent_task")),
    )
    op.create_index(
        "ix_agent_task_partition_status", "agent_task", ["partition", "status"], unique=False
    )
    op.create_index(
        op.f("ix_agent_task_resource_uuid"), "agent_task", ["resource_uuid"], unique=False
    )
    op.create_table(
        "diag_agent_result",
        sa.Column("task_uuid", sa.String(length=36), nullable=False),
        sa.Column("resource_uuid", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("completed_by", sa.String(length=128), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("task_uuid", name=op.f("pk_diag_agent_result")),
    )
    op.create_index(
        op.f("ix_diag_agent_result_resource_uuid"),
        "diag_agent_result",
        ["resource_uuid"],
        unique=False,
    )
    op.create_table(
        "diag_record",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("resource_uuid", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("node", sa.String(length=128), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_diag_record")),
        sa.UniqueConstraint("message_id", name=op.f("uq_diag_record_message_id")),
    )
    op.create_index(
        op.f("ix_diag_record_resource_uuid"), "diag_record", ["resource_uuid"], unique=False
    )
    op.create_table(
        "management_node",
        sa.Column("uuid", sa.String(length=128), nullable=False),
        sa.Column("hostname", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("uuid", name=op.f("pk_management_node")),
    )
    op.create_index(
        op.f("ix_management_node_heartbeat_at"), "management_node", ["heartbeat_at"], unique=False
    )
    op.create_table(
        "processed_message",
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_processed_message")),
    )
    op.create_index(
        op.f("ix_processed_message_handled_at"), "processed_message", ["handled_at"], unique=False
    )


def downgrade() -> None:

    op.drop_index(op.f("ix_processed_message_handled_at"), table_name="processed_message")
    op.drop_table("processed_message")
    op.drop_index(op.f("ix_management_node_heartbeat_at"), table_name="management_node")
    op.drop_table("management_node")
    op.drop_index(op.f("ix_diag_record_resource_uuid"), table_name="diag_record")
    op.drop_table("diag_record")
    op.drop_index(op.f("ix_diag_agent_result_resource_uuid"), table_name="diag_agent_result")
    op.drop_table("diag_agent_result")
    op.drop_index(op.f("ix_agent_task_resource_uuid"), table_name="agent_task")
    op.drop_index("ix_agent_task_partition_status", table_name="agent_task")
    op.drop_table("agent_task")
