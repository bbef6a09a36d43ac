"""Where a data volume's bits go, and which agent reaches a volume or a VM: the volume
service's reads of other services (through their roots). A volume attached to a VM goes
on the primary storage of the VM's root volume when it has room, else another of the VM's
cluster (a LocalStorage: on the VM's host); a create naming a storage goes to any
Connected host of a cluster that storage is attached to."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.core.api import ApiCodes
from mgmt.core.errors import PermanentError, error
from mgmt.core.plugins import PluginRegistry
from mgmt.host import HOST_BACKENDS, connected_hosts, host_disks
from mgmt.storage import primary_storage_clusters, root_volume_storages
from mgmt.volume.flows.steps import Candidate, Placer, VolumeCtx

#: (session, host uuid) → the host's agent URL ("" when it is not Connected)
AgentUrl = Callable[[AsyncSession, str], Awaitable[str]]


def agent_urls(plugins: PluginRegistry) -> AgentUrl:
    async def url(s: AsyncSession, host_uuid: str) -> str:
        disk = (await host_disks(s, [host_uuid])).get(host_uuid)
        if disk is None:
            return ""
        for access in await connected_hosts(s, disk.cluster_uuid):
            if access.hostUuid == host_uuid:
                backend = plugins.strategy(HOST_BACKENDS, access.hypervisorType)
                return str(backend.agent_url(access))
        return ""

    return url


def placer(agent_url: AgentUrl, vm_table: Any) -> Placer:
    async def place(s: AsyncSession, ctx: VolumeCtx) -> list[Candidate]:
        if ctx.vmUuid is not None:
            return await _for_vm(s, ctx, vm_table, agent_url)
        assert ctx.primaryStorageUuid is not None
        return await _on_storage(s, ctx.primaryStorageUuid, agent_url)

    return place


async def _for_vm(s: AsyncSession, ctx: VolumeCtx, vm_table: Any, url: AgentUrl) -> list[Candidate]:
    vm = await s.get(vm_table, ctx.vmUuid)
    host = vm.host_uuid or vm.last_host_uuid if vm is not None else None
    if vm is None or host is None or vm.cluster_uuid is None:
        raise PermanentError(
            error(ApiCodes.CONFLICT, f"VM {ctx.vmUuid} has no host", vmInstanceUuid=ctx.vmUuid)
        )
    agent = await url(s, host)
    storages = await root_volume_storages(s, vm.cluster_uuid, host)
    storages.sort(key=lambda p: p.uuid != vm.root_primary_storage_uuid)  # its root's first
    return [
        Candidate(
            primaryStorageUuid=p.uuid,
            type=p.type,
            hostUuid=host,
            agentUrl=agent,
            counters=list(p.counters),
        )
        for p in storages
        if agent
    ]


async def _on_storage(s: AsyncSession, ps_uuid: str, url: AgentUrl) -> list[Candidate]:
    out: list[Candidate] = []
    for cluster in await primary_storage_clusters(s, ps_uuid):
        for access in await connected_hosts(s, cluster):
            for p in await root_volume_storages(s, cluster, access.hostUuid):
                agent = await url(s, access.hostUuid)
                if p.uuid == ps_uuid and agent:
                    out.append(
                        Candidate(
                            primaryStorageUuid=p.uuid,
                            type=p.type,
                            hostUuid=access.hostUuid,
                            agentUrl=agent,
                            counters=list(p.counters),
                        )
                    )
    return out
