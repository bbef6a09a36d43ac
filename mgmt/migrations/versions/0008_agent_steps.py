"""agent steps: gc jobs that re-run clean-up flows, diag VMs with an agent

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-09 10:00:00.000000

``gc_job.kind`` tells a failed rollback (retried by calling the step's rollback again, all
jobs queued before this revision) from a failed clean-up flow of a cascade delete (retried
by running the flow again). ``diag_resource.agent_url`` lets a diagnostic VM be destroyed
on its host when it is deleted.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("gc_job") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(length=16), nullable=False, server_default="rollback")
        )
    with op.batch_alter_table("diag_resource") as batch:
        batch.add_column(sa.Column("agent_url", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("diag_resource") as batch:
        batch.drop_column("agent_url")
    with op.batch_alter_table("gc_job") as batch:
        batch.drop_column("kind")
