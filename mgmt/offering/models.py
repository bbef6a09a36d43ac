"""Offering tables (private to the offering service)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from mgmt.core.db import Base
from mgmt.core.resource import ResourceColumns

BIG = BigInteger().with_variant(Integer(), "sqlite")


class InstanceOfferingRow(ResourceColumns, Base):
    __tablename__ = "instance_offering"

    cpu_num: Mapped[int] = mapped_column(Integer)
    memory_size: Mapped[int] = mapped_column(BIG)
    allocator_strategy: Mapped[str] = mapped_column(
        String(64), default="DefaultHostAllocatorStrategy"
    )
    type: Mapped[str] = mapped_column(String(32), default="UserVm")
    state: Mapped[str] = mapped_column(String(32), default="Enabled")


class DiskOfferingRow(ResourceColumns, Base):
    __tablename__ = "disk_offering"

    disk_size: Mapped[int] = mapped_column(BIG)
    allocator_strategy: Mapped[str] = mapped_column(
        String(64), default="DefaultPrimaryStorageAllocationStrategy"
    )
    type: Mapped[str] = mapped_column(String(32), default="DefaultDiskOfferingType")
    state: Mapped[str] = mapped_column(String(32), default="Enabled")
