"""vm deletion policies

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 01:40:00.000000

``vm_instance.destroyed_at``: when a VM was destroyed under the Delay or Never deletion
policy (it is Destroyed, recoverable, and has given back its host capacity, IPs and
``vm.num``/``vm.cpuNum``/``vm.memorySize``); the expunge tracker expunges it once the
expunge period has passed. None for every other VM.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "vm_instance", sa.Column("destroyed_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_index("ix_vm_instance_destroyed_at", "vm_instance", ["destroyed_at"])


def downgrade() -> None:
    op.drop_index("ix_vm_instance_destroyed_at", table_name="vm_instance")
    op.drop_column("vm_instance", "destroyed_at")
