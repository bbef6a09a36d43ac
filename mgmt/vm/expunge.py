"""The expunge tracker: each node expunges the Destroyed VMs of the partitions it owns
whose expunge period has passed.

``VmExpungeTracker`` is a partition listener (``PartitionScanner``): every
``vm.expungeInterval`` seconds it reads the VMs a Delay or Never destroy left Destroyed
(``destroyed_at`` set, no operation holding them) before ``now - vm.expungePeriod`` in
database time, keeps those whose UUID falls in its partitions, and expunges each through
the service (the state machine's ``expunge``: a VM recovered or being recovered meanwhile
is refused and left alone). Under the Never policy it expunges nothing. When partitions
move, the new owner picks the moved VMs up at its next round; the run id is derived from
the VM, so two rounds (or two owners, one after the other) join one expunge.
"""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Awaitable, Callable
from datetime import timedelta

from sqlalchemy import select

from mgmt.core.bus import Bus
from mgmt.core.db import Database
from mgmt.core.errors import ZCloudError
from mgmt.core.gconfig import GlobalConfigService
from mgmt.core.logging import get_logger
from mgmt.core.scanner import PartitionScanner
from mgmt.vm.config import DELETION_POLICY, EXPUNGE_INTERVAL, EXPUNGE_PERIOD, NEVER
from mgmt.vm.models import VmInstanceRow
from mgmt.vm.states import VmState

log = get_logger(__name__)

_RUN_NAMESPACE = uuidlib.UUID("0f4c2a6e-5b7d-4e8a-9c1f-2d3b4a5c6e7f")
#: VMs expunged per round at most (the rest wait for the next round)
BATCH = 200


def expunge_run_id(vm_uuid: str) -> str:
    """The tracker's run id for a VM's expunge (the same on every node and round)."""
    return str(uuidlib.uuid5(_RUN_NAMESPACE, f"expunge/{vm_uuid}"))


class VmExpungeTracker(PartitionScanner):
    name = "vm-expunge-tracker"

    def __init__(
        self,
        db: Database,
        bus: Bus,
        gconfig: GlobalConfigService,
        expunge: Callable[[str, str], Awaitable[object]],
    ) -> None:
        super().__init__(float(EXPUNGE_INTERVAL.default))
        self._db = db
        self._bus = bus
        self._gconfig = gconfig
        self._expunge = expunge

    async def scan(self, owned: frozenset[int]) -> None:
        self._interval = float(self._gconfig.value(EXPUNGE_INTERVAL))  # from the next wait
        if self._gconfig.value(DELETION_POLICY) == NEVER:
            return
        due = await self._db.now() - timedelta(seconds=self._gconfig.value(EXPUNGE_PERIOD))
        async with self._db.read_session() as s:
            rows = (
                await s.scalars(
                    select(VmInstanceRow.uuid)
                    .where(
                        VmInstanceRow.state == VmState.DESTROYED,
                        VmInstanceRow.destroyed_at.is_not(None),
                        VmInstanceRow.destroyed_at <= due,
                        VmInstanceRow.op_holder.is_(None),
                    )
                    .order_by(VmInstanceRow.destroyed_at)
                    .limit(BATCH * 8)
                )
            ).all()
        mine = [u for u in rows if self._bus.partition_of(u) in owned][:BATCH]
        for uuid in mine:
            try:
                await self._expunge(uuid, expunge_run_id(uuid))
                log.info("vm.expunged", vm=uuid, by="tracker")
            except ZCloudError as exc:  # recovered or held meanwhile: left for later
                log.info("vm.expunge_skipped", vm=uuid, error=exc.error.details)
