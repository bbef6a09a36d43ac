"""diag resource under a state machine

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 10:00:00.000000

The diagnostics service's stateful toy resource: the state machine framework's columns
(state, and who holds it while an operation runs) on a table of its own.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "diag_stateful",
        sa.Column("uuid", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("op_holder", sa.String(length=64), nullable=True),
        sa.Column("op_name", sa.String(length=64), nullable=True),
        sa.Column("op_from", sa.String(length=32), nullable=True),
        sa.Column("op_since", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("uuid", name=op.f("pk_diag_stateful")),
    )
    with op.batch_alter_table("diag_stateful", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_diag_stateful_op_holder"), ["op_holder"], unique=False)
        batch_op.create_index(batch_op.f("ix_diag_stateful_state"), ["state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("diag_stateful", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_diag_stateful_state"))
        batch_op.drop_index(batch_op.f("ix_diag_stateful_op_holder"))
    op.drop_table("diag_stateful")
