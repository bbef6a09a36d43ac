"""A host's maintenance, the VM side: ``EvacuateHost`` (sent by the host service once the
host is PreMaintenance, so the allocator places nothing new there) moves every VM off it.

Each VM goes through its own queue (a ``MigrateVm`` or ``StopVmInstance`` message routed
by its UUID, with the maintaining admin as caller), so an evacuation never runs beside
another operation of the VM: a Running VM is migrated (the allocator picks the
destination); one that cannot move (no other host, a root volume on LocalStorage, a
failed migration) and a Paused or Unknown one are stopped (cold). A VM whose stop fails
too is reported in ``failed`` and left where it is.
"""

from __future__ import annotations

from sqlalchemy import select

from mgmt.core.bus import Bus
from mgmt.core.db import Database
from mgmt.core.errors import ZCloudError
from mgmt.core.logging import get_logger
from mgmt.host import EvacuateHost, EvacuateHostReply
from mgmt.vm.messages import MigrateVm, StopVmInstance
from mgmt.vm.models import VmInstanceRow
from mgmt.vm.states import VmState

log = get_logger(__name__)

#: states of a VM that holds its host (what a maintenance moves away)
ON_HOST = (VmState.RUNNING, VmState.PAUSED, VmState.UNKNOWN)


async def evacuate(db: Database, bus: Bus, msg: EvacuateHost) -> EvacuateHostReply:
    async with db.read_session() as s:
        rows = (
            await s.execute(
                select(VmInstanceRow.uuid, VmInstanceRow.state)
                .where(
                    VmInstanceRow.host_uuid == msg.resourceUuid,
                    VmInstanceRow.state.in_([str(v) for v in ON_HOST]),
                )
                .order_by(VmInstanceRow.created_at)
            )
        ).all()
    out = EvacuateHostReply()
    for uuid, state in rows:
        if state == VmState.RUNNING:
            try:
                await bus.call(MigrateVm(resourceUuid=uuid, caller=msg.caller))
                out.migrated.append(uuid)
                continue
            except ZCloudError as exc:
                log.info("vm.evacuate_migrate_failed", vm=uuid, error=exc.error.details)
        try:
            await bus.call(StopVmInstance(resourceUuid=uuid, type="cold", caller=msg.caller))
            out.stopped.append(uuid)
        except ZCloudError as exc:
            log.warning("vm.evacuate_stop_failed", vm=uuid, error=exc.error.details)
            out.failed.append(uuid)
    return out
