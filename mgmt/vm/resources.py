"""VM instances, declared: reads with tenancy, queries (``image.name``, ``l3Network`` of
the default NIC …), the quota ``vm.totalNum`` (every VM row, Destroyed ones included: the
kit's create path consumes it, the row's removal gives it back) and the delete's hook,
which gives back in the delete's transaction everything a VM holds: its host
allocation, its root volume's primary storage capacity (and row), its NICs' IPs and the
``vm.num``, ``vm.cpuNum`` and ``vm.memorySize`` quotas (unless a Delay or Never destroy
gave those back already: ``destroyed_at``); its data volumes are detached. The VM
service's destroy flow runs first (the VM destroyed on its host), then this delete; an
account's cascade runs only the hook.
Deleting where a VM runs (zone, cluster, host, primary storage, default L3) cascades to it:
``cascade.py``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.allocator import allocation_reservations
from mgmt.core import quota
from mgmt.core.counters import release
from mgmt.core.quota import Quota
from mgmt.core.resource import Parent, ResourceType
from mgmt.network import release_ips
from mgmt.vm.cascade import vms_in_use
from mgmt.vm.messages import VmInstanceInventory, VmNicInventory
from mgmt.vm.models import VmInstanceRow, VmNicRow
from mgmt.volume import VolumeInventory, vm_volumes_gone, volumes_of

VM_NUM = Quota("vm.num", 20)
VM_TOTAL = Quota("vm.totalNum", 20)
VM_CPU = Quota("vm.cpuNum", 80)
VM_MEMORY = Quota("vm.memorySize", 80 << 30)


async def nics_of(s: AsyncSession, vm_uuid: str) -> list[VmNicRow]:
    rows = await s.execute(
        select(VmNicRow).where(VmNicRow.vm_instance_uuid == vm_uuid).order_by(VmNicRow.device_id)
    )
    return list(rows.scalars())


def _nic(n: VmNicRow) -> VmNicInventory:
    return VmNicInventory(
        uuid=n.uuid,
        vmInstanceUuid=n.vm_instance_uuid,
        l3NetworkUuid=n.l3_network_uuid,
        ip=n.ip,
        mac=n.mac,
        netmask=n.netmask,
        gateway=n.gateway,
        deviceId=n.device_id,
    )


def _inventory(
    row: Any, nics: Sequence[VmNicRow], volumes: Sequence[VolumeInventory]
) -> VmInstanceInventory:
    return VmInstanceInventory(
        uuid=row.uuid,
        name=row.name,
        description=row.description,
        state=row.state,
        hostUuid=row.host_uuid,
        lastHostUuid=row.last_host_uuid,
        clusterUuid=row.cluster_uuid,
        zoneUuid=row.zone_uuid,
        imageUuid=row.image_uuid,
        instanceOfferingUuid=row.instance_offering_uuid,
        cpuNum=row.cpu_num,
        memorySize=row.memory_size,
        rootVolumeUuid=row.root_volume_uuid,
        defaultL3NetworkUuid=row.default_l3_network_uuid,
        vmNics=[_nic(n) for n in nics],
        allVolumes=list(volumes),
        hypervisorType=row.hypervisor_type,
        platform=row.platform,
        ownerAccountUuid=row.owner_account_uuid,
        createDate=row.created_at,
        lastOpDate=row.updated_at,
    )


async def inventory(s: AsyncSession, row: Any) -> VmInstanceInventory:
    volumes = await volumes_of(s, [row.uuid])
    return _inventory(row, await nics_of(s, row.uuid), volumes.get(row.uuid, []))


async def inventories(s: AsyncSession, rows: Sequence[Any]) -> list[BaseModel]:
    """A page of VMs with their NICs and their volumes in two more queries."""
    by_vm: dict[str, list[VmNicRow]] = {}
    if rows:
        found = await s.execute(
            select(VmNicRow)
            .where(VmNicRow.vm_instance_uuid.in_([r.uuid for r in rows]))
            .order_by(VmNicRow.device_id)
        )
        for n in found.scalars():
            by_vm.setdefault(n.vm_instance_uuid, []).append(n)
    volumes = await volumes_of(s, [r.uuid for r in rows])
    return [_inventory(r, by_vm.get(r.uuid, []), volumes.get(r.uuid, [])) for r in rows]


async def release_root(s: AsyncSession, row: VmInstanceRow) -> None:
    for rid in (row.root_reservation or "").split(","):
        if rid:
            await release(s, rid)
    row.root_reservation = None
    row.root_primary_storage_uuid = None


async def release_nics(s: AsyncSession, vm_uuid: str) -> None:
    nics = [n.uuid for n in await nics_of(s, vm_uuid)]
    await release_ips(s, nics)
    await s.execute(delete(VmNicRow).where(VmNicRow.vm_instance_uuid == vm_uuid))


async def release_host(s: AsyncSession, row: VmInstanceRow) -> None:
    if row.host_allocation:
        for rid in allocation_reservations(row.host_allocation):
            await release(s, rid)
    row.host_allocation = None


async def release_quotas(s: AsyncSession, row: VmInstanceRow) -> None:
    """``vm.num``, ``vm.cpuNum`` and ``vm.memorySize`` (``vm.totalNum`` is the kit's), in
    the order every transaction takes them."""
    await quota.release(s, row.owner_account_uuid, VM_NUM.name, 1)
    await quota.release(s, row.owner_account_uuid, VM_CPU.name, row.cpu_num)
    await quota.release(s, row.owner_account_uuid, VM_MEMORY.name, row.memory_size)


async def give_back(s: AsyncSession, uuids: Sequence[str]) -> None:
    """Everything the VMs hold but ``vm.totalNum`` (the delete's transaction; idempotent:
    releases are by reservation id and IPs by holder; the quotas of a VM a Delay or Never
    destroy gave back are not given back twice); their root volume rows go, their data
    volumes are detached and stay."""
    rows = await s.execute(select(VmInstanceRow).where(VmInstanceRow.uuid.in_(list(uuids))))
    for row in rows.scalars():
        await release_host(s, row)
        await release_root(s, row)
        await release_nics(s, row.uuid)
        if row.destroyed_at is None:
            await release_quotas(s, row)
    await vm_volumes_gone(s, uuids)


VM_INSTANCE = ResourceType(
    "VmInstance",
    "vm-instances",
    VmInstanceRow,
    VmInstanceInventory,
    # where it runs: deleting its zone, cluster, host, root volume's primary storage or
    # default L3 network deletes it (Permissive: vetoed, naming the VMs; ``cascade.py``)
    parents=(
        Parent("Zone", VmInstanceRow.zone_uuid, "zone", "vmInstances", shared_use=True),
        Parent("Cluster", VmInstanceRow.cluster_uuid, "cluster", "vmInstances", shared_use=True),
        Parent("Host", VmInstanceRow.host_uuid, "host", "vmInstances", shared_use=True),
        Parent(
            "PrimaryStorage",
            VmInstanceRow.root_primary_storage_uuid,
            relation="rootPrimaryStorage",
            children="vmInstances",
        ),
        # references, not owners: deleting an image or an offering leaves its VMs
        Parent(
            "Image",
            VmInstanceRow.image_uuid,
            relation="image",
            children="vmInstances",
            cascade=False,
            shared_use=True,
        ),
        Parent(
            "InstanceOffering",
            VmInstanceRow.instance_offering_uuid,
            relation="instanceOffering",
            children="vmInstances",
            cascade=False,
            shared_use=True,
        ),
        Parent(
            "L3Network",
            VmInstanceRow.default_l3_network_uuid,
            relation="defaultL3Network",
            children="vmInstances",
            shared_use=True,
        ),
    ),
    quota=VM_TOTAL,
    check=vms_in_use,
    unqueryable=frozenset({"vmNics", "allVolumes"}),
    inventory_of=inventory,
    inventories_of=inventories,
    before_delete=give_back,
)

#: a VM's NICs, queryable from the VM (``q=vmNics.ip=10.0.0.5``) and from the L3 network
#: (``q=vmNics.vmInstance.state=Running``); listed at ``/v1/vm-nics`` to admins only (an
#: account reads its NICs in its VMs' inventories). The VM's delete hook removes them.
VM_NIC = ResourceType(
    "VmNic",
    "vm-nics",
    VmNicRow,
    VmNicInventory,
    parents=(
        Parent(
            "VmInstance",
            VmNicRow.vm_instance_uuid,
            relation="vmInstance",
            children="vmNics",
            cascade=False,
        ),
        # a NIC on a deleted L3 network goes with it (its IP with the L3's)
        Parent("L3Network", VmNicRow.l3_network_uuid, relation="l3Network", children="vmNics"),
    ),
    owner=None,
    admin_only_reads=True,
)
