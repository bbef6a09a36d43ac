"""Reconciling the database's VMs with what a host reports (the VM state sync's rules).

Called by the sync flow (``flows/sync.py``: periodic, and on an agent's change report),
by the connect handshake's ``reconcile-vms`` step (a host added or reconnected) and by the
host pinger's disconnect (``host_disconnected``). The rules:

- a VM with an operation in flight (``op_holder`` set) is left alone;
- a VM the host reports Running or Paused is set to that state;
- a VM the host no longer has, or reports Stopped, becomes Stopped and its host
  capacity (the allocator's reservation) is given back in the same transaction: exactly
  once, since the reservation is released by id and the row no longer names it;
- a VM the host reports that the database does not know raises ``StrangerVmFound`` once
  (a ``processed_message`` row per host and VM);
- a VM whose host is Disconnected becomes Unknown, and stays so until the host is back.

Every change is one conditional ``UPDATE`` on the VM row: no operation holds it, it is in
the state the decision was made from, and (sync) its ``updated_at`` is the one read before
the agent was asked, so a VM an operation moved meanwhile is left to the next round. Each
change publishes ``ResourceEvent`` (``resource/VmInstance/stateChanged``, ``api``
``VmStateChanged``, with the reason) for web-hooks and other subscribers.
"""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from agent.protocol import VmPowerState
from mgmt.allocator import allocation_reservations
from mgmt.core.bus import Bus
from mgmt.core.counters import release
from mgmt.core.db import Database, utcnow
from mgmt.core.db.dedupe import first_time
from mgmt.core.events import ResourceEvent
from mgmt.core.logging import get_logger
from mgmt.vm.models import VmInstanceRow
from mgmt.vm.resources import inventory
from mgmt.vm.states import VmState

log = get_logger(__name__)

VM_STATE_CHANGED = "VmStateChanged"
STRANGER_VM_FOUND = "StrangerVmFound"
#: states of a VM that holds its host's capacity (what a sync looks at)
ON_HOST = (VmState.RUNNING, VmState.PAUSED, VmState.UNKNOWN)
_REPORTED = {VmPowerState.RUNNING: VmState.RUNNING, VmPowerState.PAUSED: VmState.PAUSED}
_STRANGER_NS = uuidlib.UUID("0f6f1f0e-8a43-4b8e-9d0e-5b0a55c1d3a7")

#: what the sync read of a VM before asking the host: uuid -> (state, updated_at ISO)
Snapshot = Mapping[str, tuple[str, str]]


@dataclass(frozen=True)
class Change:
    vm_uuid: str
    old: str
    new: str
    reason: str


class VmReconciler:
    def __init__(self, db: Database, bus: Bus | None) -> None:
        self._db = db
        self._bus = bus

    async def host_disconnected(self, host_uuid: str, reason: str) -> None:
        """``HostStatusExtension``: the pinger disconnected the host."""
        await self.unknown(host_uuid, f"host {host_uuid} is Disconnected: {reason}")

    async def unknown(self, host_uuid: str, reason: str) -> list[Change]:
        """Running and Paused VMs of a Disconnected host that no operation holds: Unknown."""
        async with self._db.session() as s:
            rows = (
                await s.execute(
                    select(VmInstanceRow.uuid, VmInstanceRow.state).where(
                        VmInstanceRow.host_uuid == host_uuid,
                        VmInstanceRow.op_holder.is_(None),
                        VmInstanceRow.state.in_([VmState.RUNNING, VmState.PAUSED]),
                    )
                )
            ).all()
        changes = []
        for vm, old in rows:
            async with self._db.session() as s, s.begin():
                if await self._move(
                    s, vm, old, None, host_uuid, VmState.UNKNOWN, release_host=False
                ):
                    changes.append(Change(vm, old, VmState.UNKNOWN, reason))
        await self._announce(changes)
        return changes

    async def snapshot(self, host_uuid: str) -> dict[str, tuple[str, str]]:
        """The VMs on the host no operation holds, as the sync found them before asking."""
        async with self._db.session() as s:
            rows = (
                await s.execute(
                    select(VmInstanceRow.uuid, VmInstanceRow.state, VmInstanceRow.updated_at).where(
                        VmInstanceRow.host_uuid == host_uuid,
                        VmInstanceRow.op_holder.is_(None),
                        VmInstanceRow.state.in_(list(ON_HOST)),
                    )
                )
            ).all()
        return {u: (st, at.isoformat()) for u, st, at in rows}

    async def apply(
        self,
        host_uuid: str,
        owner: str,
        states: Mapping[str, str],
        snapshot: Snapshot,
        *,
        why: str,
    ) -> list[Change]:
        """The host reported ``states`` (every VM it has); ``snapshot`` is what the
        database said of its VMs before the host was asked."""
        changes = []
        for vm, (old, at) in snapshot.items():
            target, reason = _target(host_uuid, states.get(vm), why)
            if target is None or target == old:
                continue
            async with self._db.session() as s, s.begin():
                stamp = datetime.fromisoformat(at)
                released = target == VmState.STOPPED
                if await self._move(s, vm, old, stamp, host_uuid, target, release_host=released):
                    changes.append(Change(vm, old, target, reason))
        await self._announce(changes)
        strangers = [v for v in states if v not in snapshot and states[v] != VmPowerState.UNKNOWN]
        await self._strangers(host_uuid, owner, strangers, states)
        return changes

    async def _move(
        self,
        s: AsyncSession,
        vm: str,
        old: str,
        stamp: datetime | None,
        host_uuid: str,
        target: str,
        *,
        release_host: bool,
    ) -> bool:
        t = VmInstanceRow
        # the row locked first: the allocation read is the one the update takes away
        rid = await s.scalar(select(t.host_allocation).where(t.uuid == vm).with_for_update())
        where = [t.uuid == vm, t.op_holder.is_(None), t.state == old, t.host_uuid == host_uuid]
        if stamp is not None:
            where.append(t.updated_at == stamp)
        values: dict[str, Any] = {"state": str(target), "updated_at": utcnow()}
        if release_host:
            values.update(host_uuid=None, host_allocation=None, last_host_uuid=host_uuid)
        moved = (
            await s.execute(update(t).where(*where).values(**values).returning(t.uuid))
        ).first()
        if moved is None:
            return False
        if release_host and rid:
            for one in allocation_reservations(rid):
                await release(s, one)
        return True

    async def _announce(self, changes: list[Change]) -> None:
        if self._bus is None or not changes:
            return
        for change in changes:
            log.info(
                "vm.state_synced",
                vm=change.vm_uuid,
                old=change.old,
                new=change.new,
                reason=change.reason,
            )
            async with self._db.session() as s:
                row = await s.get(VmInstanceRow, change.vm_uuid)
                if row is None:
                    continue
                inv = (await inventory(s, row)).model_dump(mode="json")
                owner = row.owner_account_uuid
            await self._publish(
                ResourceEvent(
                    resourceUuid=change.vm_uuid,
                    resourceType="VmInstance",
                    kind="stateChanged",
                    accountUuid=owner,
                    api=VM_STATE_CHANGED,
                    at=utcnow(),
                    inventory=inv,
                    reason=change.reason,
                )
            )

    async def _strangers(
        self, host_uuid: str, owner: str, vms: list[str], states: Mapping[str, str]
    ) -> None:
        for vm in vms:
            async with self._db.session() as s, s.begin():
                if await s.scalar(select(VmInstanceRow.uuid).where(VmInstanceRow.uuid == vm)):
                    continue  # known, on another host (or moving): not a stranger
                key = str(uuidlib.uuid5(_STRANGER_NS, f"{host_uuid}/{vm}"))
                if not await first_time(s, key):
                    continue
            reason = (
                f"host {host_uuid} runs VM {vm} ({states[vm]}), which the database does not know"
            )
            log.warning("vm.stranger", host=host_uuid, vm=vm, powerState=states[vm])
            await self._publish(
                ResourceEvent(
                    resourceUuid=host_uuid,
                    resourceType="Host",
                    kind="updated",
                    accountUuid=owner,
                    api=STRANGER_VM_FOUND,
                    at=utcnow(),
                    reason=reason,
                    inventory={"vmUuid": vm, "powerState": states[vm]},
                )
            )

    async def _publish(self, event: ResourceEvent) -> None:
        if self._bus is None:
            return
        try:
            await self._bus.publish(event)
        except Exception as exc:  # the change stands; the event is best effort
            log.warning("vm.sync_event_failed", path=event.path, error=repr(exc))


def _target(host_uuid: str, reported: str | None, why: str) -> tuple[str | None, str]:
    if reported is None:
        return VmState.STOPPED, f"{why}: host {host_uuid} no longer has the VM"
    if reported == VmPowerState.STOPPED:
        return VmState.STOPPED, f"{why}: host {host_uuid} reports it Stopped"
    target = _REPORTED.get(VmPowerState(reported)) if reported in set(VmPowerState) else None
    return target, f"{why}: host {host_uuid} reports it {reported}"
