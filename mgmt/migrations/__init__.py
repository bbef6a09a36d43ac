"""Alembic migrations of the whole management database (one linear history)."""
