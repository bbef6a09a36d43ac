"""The database tests of tests/unit/core/test_db_and_membership.py and test_retention.py, on
PostgreSQL.

The same test functions, collected here with an ``any_db`` fixture of this module's on a
fresh PostgreSQL database (the unit suite runs them on SQLite only).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from mgmt.core.db import Database
from mgmt.core.db.migrate import upgrade
from tests.unit.core import test_db_and_membership as on_sqlite
from tests.unit.core import test_retention


@pytest.fixture
async def any_db(pg_url: str) -> AsyncIterator[Database]:
    db = Database(pg_url)
    await upgrade(db)
    yield db
    await db.close()


test_migrations_match_the_models = on_sqlite.test_migrations_match_the_models
test_database_time_and_dedupe = on_sqlite.test_database_time_and_dedupe
test_old_finished_rows_go_and_everything_else_stays = (
    test_retention.test_old_finished_rows_go_and_everything_else_stays
)
