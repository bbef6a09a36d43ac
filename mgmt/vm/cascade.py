"""VMs in cascades: a zone, cluster, host, primary storage or L3 network deleted with VMs
on it (``VM_INSTANCE``'s parents in ``resources.py``).

- Permissive: ``vms_in_use`` vetoes the delete, naming the VMs (409 ``CASCADE.1001``).
- Enforcing: ``VmCascadeRelease`` destroys each VM on the host it runs or last ran on
  (``DestroyVmForDelete``: one ``DestroyVm``, which also stops it) before the rows go; a
  destroy that fails (the host is Disconnected) goes to the GC queue and is retried with
  back-off, visible at ``/v1/gc-jobs``. The VMs' rows then go through the kit's delete,
  whose hook (``give_back``) returns their host capacity, root volume capacity, IPs and
  quotas in the delete's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agent.protocol import DestroyVm
from mgmt.core.agenttasks import AgentCall, AgentClient, AgentStep
from mgmt.core.cascade import CASCADE_RELEASES, Release
from mgmt.core.flow import FlowDef, Interrupt, RetryPolicy
from mgmt.core.module import PluginParts
from mgmt.core.plugins import Extension, PluginRegistry
from mgmt.host import HOST_BACKENDS, host_access
from mgmt.vm.models import VmInstanceRow

#: VMs named in a veto, at most
SHOWN = 20


async def vms_in_use(s: AsyncSession, uuids: Sequence[str]) -> str | None:
    """Permissive: VMs are never deleted by a cascade; the reason names them."""
    rows = (
        await s.execute(
            select(VmInstanceRow.uuid, VmInstanceRow.name, VmInstanceRow.state)
            .where(VmInstanceRow.uuid.in_(list(uuids)))
            .order_by(VmInstanceRow.uuid)
        )
    ).all()
    if not rows:
        return None
    shown = ", ".join(f"{name} ({u}, {state})" for u, name, state in rows[:SHOWN])
    more = f" and {len(rows) - SHOWN} more" if len(rows) > SHOWN else ""
    return f"VM instances use it: {shown}{more}; delete them first, or delete Enforcing"


class VmDeleteCtx(BaseModel):
    vmUuid: str
    hostUuid: str
    agentUrl: str


class DestroyOnHostForDelete(AgentStep[VmDeleteCtx]):
    name = "destroy-on-host"
    retry = RetryPolicy(max_attempts=2, initial_delay=0.5)  # then the GC queue's back-off

    def command(self, ctx: VmDeleteCtx) -> AgentCall:
        return AgentCall(ctx.agentUrl, DestroyVm(vmUuid=ctx.vmUuid), ctx.hostUuid)


def vm_delete_flow(agents: AgentClient) -> FlowDef[VmDeleteCtx]:
    return FlowDef(
        "DestroyVmForDelete",
        VmDeleteCtx,
        [DestroyOnHostForDelete(agents)],
        on_interrupt=Interrupt.RESUME,
    )


class VmCascadeRelease:
    """``CascadeRelease`` of VmInstance: every VM that is (or was last) on a host is
    destroyed there before its row goes."""

    type_name = "VmInstance"

    def __init__(self, agents: AgentClient, plugins: PluginRegistry) -> None:
        self._flow = vm_delete_flow(agents)
        self._plugins = plugins
        self.flows: Sequence[FlowDef[Any]] = (self._flow,)

    async def releases(self, session: AsyncSession, uuids: Sequence[str]) -> Sequence[Release]:
        rows = (
            await session.execute(
                select(VmInstanceRow.uuid, VmInstanceRow.host_uuid, VmInstanceRow.last_host_uuid)
                .where(VmInstanceRow.uuid.in_(list(uuids)))
                .order_by(VmInstanceRow.uuid)  # a resumed release step numbers its runs the same
            )
        ).all()
        on: dict[str, str] = {u: str(h or last) for u, h, last in rows if h or last}
        hosts = await host_access(session, sorted(set(on.values())))
        out = []
        for vm, host in on.items():
            access = hosts.get(host)
            if access is None:  # its host is gone already: nothing to reach
                continue
            url = self._plugins.strategy(HOST_BACKENDS, access.hypervisorType).agent_url(access)
            out.append(Release(self._flow, VmDeleteCtx(vmUuid=vm, hostUuid=host, agentUrl=url)))
        return out


class VmCascadePlugin:
    name = "vm.cascade"

    def __init__(self, parts: PluginParts) -> None:
        self._release = VmCascadeRelease(parts.agents, parts.plugins)

    def extensions(self) -> Sequence[Extension]:
        return [Extension(CASCADE_RELEASES, self._release, type="VmInstance")]
