"""Database layer: one async engine per process, declarative base, database time, migrations."""

from mgmt.core.db.base import Base, utcnow
from mgmt.core.db.database import Database
from mgmt.core.db.dedupe import ProcessedMessage, first_time

__all__ = ["Base", "Database", "ProcessedMessage", "first_time", "utcnow"]
