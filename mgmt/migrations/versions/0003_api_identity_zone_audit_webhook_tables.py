"""api identity zone audit webhook tables

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 15:44:05.245020
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "account",
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("uuid", name=op.f("pk_account")),
        sa.UniqueConstraint("name", name=op.f("uq_account_name")),
    )
    op.create_table(
        "api_job",
        sa.Column("uuid", sa.String(length=64), nullable=False),
        sa.Column("api", sa.String(length=128), nullable=False),
        sa.Column("resource_uuid", sa.String(length=64), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("account_uuid", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("webhook", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("uuid", name=op.f("pk_api_job")),
    )
    with op.batch_alter_table("api_job", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_job_account_uuid"), ["account_uuid"], unique=False)
        batch_op.create_index(batch_op.f("ix_api_job_expires_at"), ["expires_at"], unique=False)
        batch_op.create_index("ix_api_job_partition_state", ["partition", "state"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_api_job_resource_uuid"), ["resource_uuid"], unique=False
        )

    op.create_table(
        "audit_log",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("account_uuid", sa.String(length=36), nullable=True),
        sa.Column("user_uuid", sa.String(length=36), nullable=True),
        sa.Column("action", sa.String(length=128), nullable=False),
        sa.Column("resource_uuid", sa.String(length=64), nullable=True),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("path", sa.String(length=512), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("source_ip", sa.String(length=64), nullable=False),
        sa.Column("job_uuid", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index("ix_audit_log_account_at", ["account_uuid", "at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_action"), ["action"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_at"), ["at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_audit_log_resource_uuid"), ["resource_uuid"], unique=False
        )

    op.create_table(
        "deployment_secret",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_deployment_secret")),
    )
    op.create_table(
        "iam_access_key",
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("account_uuid", sa.String(length=36), nullable=False),
        sa.Column("user_uuid", sa.String(length=36), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("uuid", name=op.f("pk_iam_access_key")),
        sa.UniqueConstraint("key_id", name=op.f("uq_iam_access_key_key_id")),
    )
    with op.batch_alter_table("iam_access_key", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_iam_access_key_account_uuid"), ["account_uuid"], unique=False
        )

    op.create_table(
        "iam_group",
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("account_uuid", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("uuid", name=op.f("pk_iam_group")),
        sa.UniqueConstraint("account_uuid", "name", name=op.f("uq_iam_group_account_uuid_name")),
    )
    with op.batch_alter_table("iam_group", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_iam_group_account_uuid"), ["account_uuid"], unique=False
        )

    op.create_table(
        "iam_group_member",
        sa.Column("group_uuid", sa.String(length=36), nullable=False),
        sa.Column("user_uuid", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("group_uuid", "user_uuid", name=op.f("pk_iam_group_member")),
    )
    with op.batch_alter_table("iam_group_member", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_iam_group_member_user_uuid"), ["user_uuid"], unique=False
        )

    op.create_table(
        "iam_policy",
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("account_uuid", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("statements", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("uuid", name=op.f("pk_iam_policy")),
    )
    with op.batch_alter_table("iam_policy", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_iam_policy_account_uuid"), ["account_uuid"], unique=False
        )

    op.create_table(
        "iam_policy_attachment",
        sa.Column("policy_uuid", sa.String(length=36), nullable=False),
        sa.Column("principal_uuid", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint(
            "policy_uuid", "principal_uuid", name=op.f("pk_iam_policy_attachment")
        ),
    )
    with op.batch_alter_table("iam_policy_attachment", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_iam_policy_attachment_principal_uuid"), ["principal_uuid"], unique=False
        )

    op.create_table(
        "iam_user",
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("account_uuid", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("uuid", name=op.f("pk_iam_user")),
        sa.UniqueConstraint("account_uuid", "name", name=op.f("uq_iam_user_account_uuid_name")),
    )
    with op.batch_alter_table("iam_user", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_iam_user_account_uuid"), ["account_uuid"], unique=False
        )

    op.create_table(
        "quota",
        sa.Column("account_uuid", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("limit", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("used", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.PrimaryKeyConstraint("account_uuid", "name", name=op.f("pk_quota")),
    )
    op.create_table(
        "session",
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("account_uuid", sa.String(length=36), nullable=False),
        sa.Column("user_uuid", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("uuid", name=op.f("pk_session")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_session_token_hash")),
    )
    with op.batch_alter_table("session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_session_account_uuid"), ["account_uuid"], unique=False)
        batch_op.create_index(batch_op.f("ix_session_expires_at"), ["expires_at"], unique=False)

    op.create_table(
        "web_hook",
        sa.Column("uuid", sa.String(length=64), nullable=False),
        sa.Column("account_uuid", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("events", sa.String(length=255), nullable=False),
        sa.Column("all_accounts", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("uuid", name=op.f("pk_web_hook")),
    )
    with op.batch_alter_table("web_hook", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_web_hook_account_uuid"), ["account_uuid"], unique=False
        )

    op.create_table(
        "zone",
        sa.Column("uuid", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("owner_account_uuid", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("uuid", name=op.f("pk_zone")),
    )
    with op.batch_alter_table("zone", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_zone_name"), ["name"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_zone_owner_account_uuid"), ["owner_account_uuid"], unique=False
        )

    op.create_table(
        "cluster",
        sa.Column("uuid", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("hypervisor_type", sa.String(length=32), nullable=False),
        sa.Column("zone_uuid", sa.String(length=64), nullable=False),
        sa.Column("owner_account_uuid", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["zone_uuid"],
            ["zone.uuid"],
            name=op.f("fk_cluster_zone_uuid_zone"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("uuid", name=op.f("pk_cluster")),
    )
    with op.batch_alter_table("cluster", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cluster_name"), ["name"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_cluster_owner_account_uuid"), ["owner_account_uuid"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_cluster_zone_uuid"), ["zone_uuid"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("cluster", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cluster_zone_uuid"))
        batch_op.drop_index(batch_op.f("ix_cluster_owner_account_uuid"))
        batch_op.drop_index(batch_op.f("ix_cluster_name"))

    op.drop_table("cluster")
    with op.batch_alter_table("zone", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_zone_owner_account_uuid"))
        batch_op.drop_index(batch_op.f("ix_zone_name"))

    op.drop_table("zone")
    with op.batch_alter_table("web_hook", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_hook_account_uuid"))

    op.drop_table("web_hook")
    with op.batch_alter_table("session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_session_expires_at"))
        batch_op.drop_index(batch_op.f("ix_session_account_uuid"))

    op.drop_table("session")
    op.drop_table("quota")
    with op.batch_alter_table("iam_user", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_iam_user_account_uuid"))

    op.drop_table("iam_user")
    with op.batch_alter_table("iam_policy_attachment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_iam_policy_attachment_principal_uuid"))

    op.drop_table("iam_policy_attachment")
    with op.batch_alter_table("iam_policy", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_iam_policy_account_uuid"))

    op.drop_table("iam_policy")
    with op.batch_alter_table("iam_group_member", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_iam_group_member_user_uuid"))

    op.drop_table("iam_group_member")
    with op.batch_alter_table("iam_group", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_iam_group_account_uuid"))

    op.drop_table("iam_group")
    with op.batch_alter_table("iam_access_key", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_iam_access_key_account_uuid"))

    op.drop_table("iam_access_key")
    op.drop_table("deployment_secret")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_resource_uuid"))
        batch_op.drop_index(batch_op.f("ix_audit_log_at"))
        batch_op.drop_index(batch_op.f("ix_audit_log_action"))
        batch_op.drop_index("ix_audit_log_account_at")

    op.drop_table("audit_log")
    with op.batch_alter_table("api_job", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_job_resource_uuid"))
        batch_op.drop_index("ix_api_job_partition_state")
        batch_op.drop_index(batch_op.f("ix_api_job_expires_at"))
        batch_op.drop_index(batch_op.f("ix_api_job_account_uuid"))

    op.drop_table("api_job")
    op.drop_table("account")
