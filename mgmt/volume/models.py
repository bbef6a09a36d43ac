"""Volume tables (private to the volume service; other services use ``mgmt.volume``).

A volume's lifecycle (``status`` in its inventory) is the state machine's ``state``
column (``StateColumns``, ``mgmt.volume.states``); ``enabled_state`` is its
Enabled/Disabled switch (``state`` in its inventory). What a data volume holds on primary
storage is recorded on its row (``reservation``: the counter reservation ids, a comma
list), so every release knows exactly what to give back. A root volume's capacity is held
by its VM (``VmInstanceRow.root_reservation``): its row only describes it.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mgmt.core.db import Base
from mgmt.core.resource import ResourceColumns
from mgmt.core.states import StateColumns


class VolumeRow(ResourceColumns, StateColumns, Base):
    __tablename__ = "volume"

    #: Root or Data
    type: Mapped[str] = mapped_column(String(16), index=True)
    vm_instance_uuid: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    primary_storage_uuid: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    disk_offering_uuid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    size: Mapped[int] = mapped_column(BigInteger)
    actual_size: Mapped[int] = mapped_column(BigInteger, default=0)
    install_path: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    device_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    format: Mapped[str] = mapped_column(String(16), default="qcow2")
    #: Enabled or Disabled (the inventory's ``state``)
    enabled_state: Mapped[str] = mapped_column(String(16), default="Enabled")
    #: the host whose agent made it (a LocalStorage volume lives on it)
    host_uuid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: the primary storage reservations it holds (comma list; data volumes only)
    reservation: Mapped[str | None] = mapped_column(Text, nullable=True)


class VolumeSnapshotRow(ResourceColumns, StateColumns, Base):
    """A snapshot of a volume, on the volume's primary storage; ``reservation`` is the
    capacity it holds there (its size, the volume's when taken)."""

    __tablename__ = "volume_snapshot"

    volume_uuid: Mapped[str] = mapped_column(String(64), index=True)
    volume_type: Mapped[str] = mapped_column(String(16))
    primary_storage_uuid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    size: Mapped[int] = mapped_column(BigInteger)
    install_path: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    format: Mapped[str] = mapped_column(String(16), default="qcow2")
    reservation: Mapped[str | None] = mapped_column(Text, nullable=True)
