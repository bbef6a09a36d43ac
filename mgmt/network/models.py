"""Network tables (private to the network service; other services use ``mgmt.network``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mgmt.core.db import Base
from mgmt.core.db.types import UtcDateTime
from mgmt.core.resource import ResourceColumns

#: 64-bit on PostgreSQL; SQLite's INTEGER is 64-bit already (and autoincrement-friendly)
BIG = BigInteger().with_variant(Integer(), "sqlite")


class L2NetworkRow(ResourceColumns, Base):
    __tablename__ = "l2_network"

    zone_uuid: Mapped[str] = mapped_column(
        String(64), ForeignKey("zone.uuid", ondelete="RESTRICT"), index=True
    )
    type: Mapped[str] = mapped_column(String(32))
    physical_interface: Mapped[str] = mapped_column(String(255), default="")
    vlan: Mapped[int | None] = mapped_column(Integer, nullable=True)
    vni: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: a Vxlan network's pool (no foreign key: a zone's pool and its networks go in one
    #: delete statement, which a RESTRICT key would refuse)
    pool_uuid: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    #: a VxlanPool's ranges, JSON ``[{"startVni": .., "endVni": ..}]``
    vni_ranges: Mapped[str] = mapped_column(Text, default="[]")


class L2ClusterRefRow(Base):
    """An L2 network attached to a cluster (its hosts get the bridge)."""

    __tablename__ = "l2_cluster_ref"

    l2_network_uuid: Mapped[str] = mapped_column(
        String(64), ForeignKey("l2_network.uuid", ondelete="CASCADE"), primary_key=True
    )
    cluster_uuid: Mapped[str] = mapped_column(
        String(64), ForeignKey("cluster.uuid", ondelete="CASCADE"), primary_key=True, index=True
    )
    #: VxlanPool only: the CIDR the cluster's hosts take their VTEP address from
    vtep_cidr: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class VniRow(Base):
    """A VNI held by a Vxlan network: the primary key makes a VNI one network's per pool."""

    __tablename__ = "l2_vni"

    pool_uuid: Mapped[str] = mapped_column(String(64), primary_key=True)
    vni: Mapped[int] = mapped_column(Integer, primary_key=True)
    l2_network_uuid: Mapped[str] = mapped_column(String(64), unique=True)


class L3NetworkRow(ResourceColumns, Base):
    __tablename__ = "l3_network"

    l2_network_uuid: Mapped[str] = mapped_column(
        String(64), ForeignKey("l2_network.uuid", ondelete="RESTRICT"), index=True
    )
    zone_uuid: Mapped[str] = mapped_column(String(64), index=True)
    category: Mapped[str] = mapped_column(String(32), default="Private")
    system: Mapped[bool] = mapped_column(Boolean, default=False)
    dns_domain: Mapped[str] = mapped_column(String(255), default="")
    ip_version: Mapped[int] = mapped_column(Integer, default=4)
    #: JSON list of DNS server addresses, in order
    dns: Mapped[str] = mapped_column(Text, default="[]")


class IpRangeRow(ResourceColumns, Base):
    __tablename__ = "ip_range"

    l3_network_uuid: Mapped[str] = mapped_column(
        String(64), ForeignKey("l3_network.uuid", ondelete="RESTRICT"), index=True
    )
    start_ip: Mapped[str] = mapped_column(String(64))
    end_ip: Mapped[str] = mapped_column(String(64))
    netmask: Mapped[str] = mapped_column(String(64))
    gateway: Mapped[str] = mapped_column(String(64))
    network_cidr: Mapped[str] = mapped_column(String(64))
    prefix_len: Mapped[int] = mapped_column(Integer)
    ip_version: Mapped[int] = mapped_column(Integer, default=4)
    #: the range as integers, for overlap checks and allocation
    first_int: Mapped[int] = mapped_column(BIG)
    last_int: Mapped[int] = mapped_column(BIG)


class UsedIpRow(Base):
    """An address given out. The primary key ``(l3, ip)`` is what makes one IP one
    holder's under any concurrency; ``(l3, holder)`` makes allocation idempotent by
    holder (a redelivered create finds its address)."""

    __tablename__ = "used_ip"
    __table_args__ = (UniqueConstraint("l3_network_uuid", "holder_uuid"),)

    l3_network_uuid: Mapped[str] = mapped_column(
        String(64), ForeignKey("l3_network.uuid", ondelete="RESTRICT"), primary_key=True
    )
    ip: Mapped[str] = mapped_column(String(64), primary_key=True)
    ip_int: Mapped[int] = mapped_column(BIG)
    ip_range_uuid: Mapped[str] = mapped_column(
        String(64), ForeignKey("ip_range.uuid", ondelete="CASCADE"), index=True
    )
    holder_uuid: Mapped[str] = mapped_column(String(64), index=True)
    holder_type: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class VipRow(ResourceColumns, Base):
    __tablename__ = "vip"

    l3_network_uuid: Mapped[str] = mapped_column(
        String(64), ForeignKey("l3_network.uuid", ondelete="RESTRICT"), index=True
    )
    ip_range_uuid: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    gateway: Mapped[str] = mapped_column(String(64), default="")
    netmask: Mapped[str] = mapped_column(String(64), default="")
    state: Mapped[str] = mapped_column(String(32), default="Enabled")
