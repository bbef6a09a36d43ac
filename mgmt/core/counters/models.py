"""Counter tables: one row per (owner, counter name) and one per reservation.

Private to ``mgmt.core.counters``; services move counters only through ``ledger``.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from mgmt.core.db import Base, utcnow
from mgmt.core.db.types import UtcDateTime

_BIG = BigInteger().with_variant(Integer, "sqlite")


class CounterRow(Base):
    """``total`` capacity of an owner (host, storage, IP pool …) and what is ``available``.

    ``available`` is stored (not ``used``) so a reservation is the single conditional
    ``available >= n`` update; it may go negative when ``total`` shrinks below what is
    held (reservations then fail until enough is released). ``partition`` is the owner's
    partition: the checker scans only the partitions its node owns.
    """

    __tablename__ = "counter"
    __table_args__ = (Index("ix_counter_partition", "partition"),)

    owner_uuid: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner_type: Mapped[str] = mapped_column(String(64), default="")
    partition: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(_BIG)
    available: Mapped[int] = mapped_column(_BIG)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ReservationState(StrEnum):
    RESERVED = "Reserved"
    RELEASED = "Released"


class ReservationRow(Base):
    """One reservation, keyed by the caller's id: what makes reserve and release
    idempotent. A released row is kept (state ``Released``) so a late redelivered reserve
    with the same id does not reserve again; ``purge_released`` deletes old ones."""

    __tablename__ = "counter_reservation"
    __table_args__ = (
        Index("ix_counter_reservation_owner_uuid_name_state", "owner_uuid", "name", "state"),
    )

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    owner_uuid: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(64))
    amount: Mapped[int] = mapped_column(_BIG)
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    released_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
