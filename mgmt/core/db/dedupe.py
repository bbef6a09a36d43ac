"""Exactly-once effects over at-least-once delivery: record a message id with the effect.

A handler whose effect is not naturally idempotent calls ``first_time(session, message_id)``
inside the same transaction as its effect; a redelivered message finds its id and skips.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from mgmt.core.db.base import Base, utcnow
from mgmt.core.db.types import UtcDateTime


class ProcessedMessage(Base):
    __tablename__ = "processed_message"

    message_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    handled_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)


async def first_time(session: AsyncSession, message_id: str) -> bool:
    """True the first time ``message_id`` is seen in a committed transaction."""
    dialect = session.bind.dialect.name if session.bind is not None else "postgresql"
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(ProcessedMessage)
        .values(message_id=message_id, handled_at=utcnow())
        .on_conflict_do_nothing(index_elements=["message_id"])
    )
    result = await session.execute(stmt)
    return bool(getattr(result, "rowcount", 0))
