"""resource uuid registry and api job request digest

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 02:30:00.000000

Every existing resource's UUID is claimed for it (the first claim wins where the create
bug of 0.1 let two resources share one); jobs stored before the digest existed have none
and are compared by API and caller only.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: (table, resource type, owner column) of every resource that existed before 0005
_EXISTING = (
    ("account", "Account", "uuid"),
    ("zone", "Zone", "owner_account_uuid"),
    ("cluster", "Cluster", "owner_account_uuid"),
    ("iam_user", "User", "account_uuid"),
    ("iam_group", "UserGroup", "account_uuid"),
    ("iam_policy", "Policy", "account_uuid"),
    ("iam_access_key", "AccessKey", "account_uuid"),
    ("web_hook", "WebHook", "account_uuid"),
)


def upgrade() -> None:
    op.create_table(
        "resource_uuid",
        sa.Column("uuid", sa.String(length=64), nullable=False),
        sa.Column("resource_type", sa.String(length=64), nullable=False),
        sa.Column("owner_account_uuid", sa.String(length=36), nullable=False),
        sa.Column("job_uuid", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("uuid", name=op.f("pk_resource_uuid")),
    )
    with op.batch_alter_table("resource_uuid", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_resource_uuid_owner_account_uuid"), ["owner_account_uuid"], unique=False
        )
    for table, kind, owner in _EXISTING:
        # constants of this file only: nothing here comes from outside
        op.execute(
            f"INSERT INTO resource_uuid (uuid, resource_type, owner_account_uuid, job_uuid,"
            f" created_at) SELECT uuid, '{kind}', {owner}, 'migrated', created_at FROM {table}"
            " WHERE true"  # SQLite needs a WHERE before ON CONFLICT in INSERT … SELECT
            " ON CONFLICT DO NOTHING"
        )
    with op.batch_alter_table("api_job", schema=None) as batch_op:
        batch_op.add_column(sa.Column("request_digest", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_job", schema=None) as batch_op:
        batch_op.drop_column("request_digest")
    with op.batch_alter_table("resource_uuid", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_resource_uuid_owner_account_uuid"))
    op.drop_table("resource_uuid")
