"""VM instance tables (private to the VM service).

The state machine's columns come from ``StateColumns`` (``mgmt.vm.states``). What a VM
holds elsewhere is recorded on its row, so every release (stop, destroy, a cascade) knows
exactly what to give back: ``host_allocation`` (the allocator's reservation id: CPU and
memory on ``host_uuid``) and ``root_reservation`` (the primary storage capacity its root
volume holds). A NIC's address is held in IPAM by the NIC's UUID.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mgmt.core.db import Base
from mgmt.core.db.types import UtcDateTime
from mgmt.core.resource import ResourceColumns
from mgmt.core.states import StateColumns


class VmInstanceRow(ResourceColumns, StateColumns, Base):
    __tablename__ = "vm_instance"

    zone_uuid: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    cluster_uuid: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    host_uuid: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    last_host_uuid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    image_uuid: Mapped[str] = mapped_column(String(64), index=True)
    instance_offering_uuid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    cpu_num: Mapped[int] = mapped_column(Integer)
    memory_size: Mapped[int] = mapped_column(BigInteger)
    root_volume_uuid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    default_l3_network_uuid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    hypervisor_type: Mapped[str | None] = mapped_column(String(32), nullable=True)
    platform: Mapped[str] = mapped_column(String(32), default="Linux")
    #: the allocator's reservation id (CPU and memory on ``host_uuid``); None: none held
    host_allocation: Mapped[str | None] = mapped_column(String(160), nullable=True)
    #: the root volume's primary storage and the reservation ids it holds there (comma list)
    root_primary_storage_uuid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    root_reservation: Mapped[str | None] = mapped_column(String(400), nullable=True)
    root_size: Mapped[int] = mapped_column(BigInteger, default=0)
    #: the create's L3 networks (JSON list) and static IPs (JSON l3 → ip): what the first
    #: start of a JustCreate VM allocates its NICs from
    l3_network_uuids: Mapped[str] = mapped_column(Text, default="[]")
    static_ips: Mapped[str] = mapped_column(Text, default="{}")
    #: the create's designated zone, cluster and host (JSON), honoured by that first start
    placement: Mapped[str] = mapped_column(Text, default="{}")
    #: when a destroy under the Delay or Never deletion policy made it Destroyed (it gave
    #: back its host capacity, IPs and vm.num/vm.cpuNum/vm.memorySize then); None otherwise
    destroyed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True, index=True)


class VmNicRow(Base):
    """A VM's NIC on one L3 network; its IP is held in IPAM under the NIC's UUID."""

    __tablename__ = "vm_nic"

    uuid: Mapped[str] = mapped_column(String(64), primary_key=True)
    vm_instance_uuid: Mapped[str] = mapped_column(String(64), index=True)
    l3_network_uuid: Mapped[str] = mapped_column(String(64), index=True)
    ip: Mapped[str] = mapped_column(String(64))
    mac: Mapped[str] = mapped_column(String(17), unique=True)
    netmask: Mapped[str] = mapped_column(String(64))
    gateway: Mapped[str] = mapped_column(String(64))
    device_id: Mapped[int] = mapped_column(Integer)
