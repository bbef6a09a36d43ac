"""The flow engine's store tests of tests/unit/core/test_flow.py, on PostgreSQL.

The same test functions, collected here with a ``store`` fixture of this module's that is a
``DbFlowStore`` on a fresh PostgreSQL database: the unit suite stays free of servers, and
the production store still runs every rule.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from mgmt.core.db import Database
from mgmt.core.db.migrate import upgrade
from mgmt.core.flow import DbFlowStore, FlowStore
from tests.unit.core import test_flow as on_every_store


@pytest.fixture
async def store(pg_url: str) -> AsyncIterator[FlowStore]:
    db = Database(pg_url)
    await upgrade(db)
    db_store = DbFlowStore(db)
    yield db_store
    await db_store.close()
    await db.close()


test_steps_run_in_order_and_progress_is_persisted = (
    on_every_store.test_steps_run_in_order_and_progress_is_persisted
)
test_a_failure_rolls_completed_steps_back_in_reverse = (
    on_every_store.test_a_failure_rolls_completed_steps_back_in_reverse
)
test_steps_past_the_point_of_no_return_are_not_undone = (
    on_every_store.test_steps_past_the_point_of_no_return_are_not_undone
)
test_a_sub_flow_runs_merges_and_is_rolled_back_with_its_parent = (
    on_every_store.test_a_sub_flow_runs_merges_and_is_rolled_back_with_its_parent
)
test_an_orphaned_run_is_resumed = on_every_store.test_an_orphaned_run_is_resumed
test_an_orphaned_run_declared_rollback_is_undone = (
    on_every_store.test_an_orphaned_run_declared_rollback_is_undone
)
test_recovery_takes_over_orphans_on_owned_partitions_only = (
    on_every_store.test_recovery_takes_over_orphans_on_owned_partitions_only
)
test_running_a_finished_run_again_returns_its_outcome = (
    on_every_store.test_running_a_finished_run_again_returns_its_outcome
)
test_a_superseded_owner_is_fenced_and_adopts_the_new_outcome = (
    on_every_store.test_a_superseded_owner_is_fenced_and_adopts_the_new_outcome
)
