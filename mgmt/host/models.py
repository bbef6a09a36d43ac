"""The host table (private to the host service).

The status machine (Connecting/Connected/Disconnected, ``mgmt.host.states``) lives in the
``state`` column because the state machine framework's ``StateColumns`` keeps a machine's
state there; the operator-facing state (Enabled/Disabled/…) is ``host_state``. The
inventory maps them back to ``status`` and ``state`` (``resources.HOST``).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from mgmt.core.db import Base
from mgmt.core.resource import ResourceColumns
from mgmt.core.states import StateColumns


class HostRow(ResourceColumns, StateColumns, Base):
    __tablename__ = "host"

    zone_uuid: Mapped[str] = mapped_column(
        String(64), ForeignKey("zone.uuid", ondelete="RESTRICT"), index=True
    )
    cluster_uuid: Mapped[str] = mapped_column(
        String(64), ForeignKey("cluster.uuid", ondelete="RESTRICT"), index=True
    )
    #: unique: two hosts under one address would be one machine managed twice
    management_ip: Mapped[str] = mapped_column(String(255), unique=True)
    hypervisor_type: Mapped[str] = mapped_column(String(32))
    host_state: Mapped[str] = mapped_column(String(32), default="Enabled")
    cpu_num: Mapped[int] = mapped_column(Integer, default=0)
    cpu_speed_mhz: Mapped[int] = mapped_column(Integer, default=0)
    architecture: Mapped[str] = mapped_column(String(32), default="")
    total_cpu_capacity: Mapped[int] = mapped_column(Integer, default=0)
    total_memory_capacity: Mapped[int] = mapped_column(BigInteger, default=0)
    local_storage_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    vm_count: Mapped[int] = mapped_column(Integer, default=0)
    username: Mapped[str] = mapped_column(String(64), default="root")
    ssh_port: Mapped[int] = mapped_column(Integer, default=22)
    #: salted scrypt hashes (the frontend hashed them): never a secret in clear
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    ssh_private_key_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
