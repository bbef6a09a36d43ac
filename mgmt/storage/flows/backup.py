"""Adding and reconnecting an ImageStore backup storage.

``AddBackupStorage``: ``connect`` (the agent, found through ``BACKUP_STORAGE_BACKENDS``,
checks its directory and reports its capacity), then ``create-row`` (the point of no
return: the kit's one create path — UUID claimed, row inserted — and the
``backupStorage.capacity`` counter, in one transaction). Nothing is written before the
agent answered, so a failed connect leaves nothing: no row, no counter, no claim.
``ReconnectBackupStorage``: ``connect`` then ``record-connected`` (capacity resized,
Connected); the handler marks it Disconnected when the flow fails.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel
from sqlalchemy import update

from agent.protocol import ConnectBackupStorage
from mgmt.core.agenttasks import AgentCall, AgentClient, AgentStep
from mgmt.core.bus import Bus, HandlerContext
from mgmt.core.db import Database, utcnow
from mgmt.core.flow import FlowDef, Interrupt, RetryPolicy, Step, current_attempt
from mgmt.core.resource.handlers import ResourceHandlers
from mgmt.storage.capacity import BS_CAPACITY, ensure_counter
from mgmt.storage.messages import AddImageStoreBackupStorage
from mgmt.storage.models import BackupStorageRow
from mgmt.storage.points import BackupStorageAccess

ADD_BACKUP_STORAGE = "AddBackupStorage"
RECONNECT_BACKUP_STORAGE = "ReconnectBackupStorage"

CONNECT_RETRY = RetryPolicy(max_attempts=2, initial_delay=0.5)

#: backup storage access → its agent's base URL (the ``BACKUP_STORAGE_BACKENDS`` strategy)
AgentUrl = Callable[[BackupStorageAccess], str]


class BackupStorageCtx(BaseModel):
    backupStorageUuid: str
    type: str
    url: str
    hostname: str
    #: add only: the AddImageStoreBackupStorage message, for the step that makes the row
    request: dict[str, Any] | None = None
    totalCapacity: int = 0
    availableCapacity: int = 0

    def access(self) -> BackupStorageAccess:
        return BackupStorageAccess(self.backupStorageUuid, self.type, self.hostname, self.url)


class Connect(AgentStep[BackupStorageCtx]):
    name = "connect"
    retry = CONNECT_RETRY

    def __init__(self, agents: AgentClient, agent_url: AgentUrl) -> None:
        super().__init__(agents)
        self.agent_url = agent_url

    def command(self, ctx: BackupStorageCtx) -> AgentCall:
        return AgentCall(
            self.agent_url(ctx.access()),
            ConnectBackupStorage(
                backupStorageUuid=ctx.backupStorageUuid, url=ctx.url, hostname=ctx.hostname
            ),
            ctx.backupStorageUuid,
        )

    def merge(self, ctx: BackupStorageCtx, reply: dict[str, Any]) -> None:
        ctx.totalCapacity = int(reply.get("totalCapacity", 0))
        ctx.availableCapacity = int(reply.get("availableCapacity", 0))


class CreateRow(Step[BackupStorageCtx]):
    name = "create-row"
    no_rollback = True

    def __init__(
        self, db: Database, bus: Bus, storage: ResourceHandlers[Any, Any], node: str
    ) -> None:
        self.db = db
        self.bus = bus
        self.storage = storage
        self.node = node

    async def run(self, ctx: BackupStorageCtx) -> Any:
        assert ctx.request is not None
        msg = AddImageStoreBackupStorage.model_validate(ctx.request)
        run_id = current_attempt().flow_uuid
        here = HandlerContext(
            self.bus, run_id, msg.resourceUuid, None, 1, self.bus.partition_of(run_id), self.node
        )
        async with self.db.session() as s, s.begin():
            await self.storage.create_row(
                s, msg, here, values={"type": ctx.type, "status": "Connected"}
            )
            await ensure_counter(
                s,
                ctx.backupStorageUuid,
                BS_CAPACITY,
                ctx.totalCapacity,
                partition=self.bus.partition_of(ctx.backupStorageUuid),
                owner_type="BackupStorage",
            )
        return None


class RecordConnected(Step[BackupStorageCtx]):
    name = "record-connected"
    no_rollback = True

    def __init__(self, db: Database, bus: Bus) -> None:
        self.db = db
        self.bus = bus

    async def run(self, ctx: BackupStorageCtx) -> Any:
        async with self.db.session() as s, s.begin():
            await s.execute(
                update(BackupStorageRow)
                .where(BackupStorageRow.uuid == ctx.backupStorageUuid)
                .values(status="Connected", updated_at=utcnow())
            )
            await ensure_counter(
                s,
                ctx.backupStorageUuid,
                BS_CAPACITY,
                ctx.totalCapacity,
                partition=self.bus.partition_of(ctx.backupStorageUuid),
                owner_type="BackupStorage",
            )
        return None


def add_backup_storage_flow(
    db: Database,
    bus: Bus,
    agents: AgentClient,
    agent_url: AgentUrl,
    storage: ResourceHandlers[Any, Any],
    node: str,
) -> FlowDef[BackupStorageCtx]:
    return FlowDef(
        ADD_BACKUP_STORAGE,
        BackupStorageCtx,
        [Connect(agents, agent_url), CreateRow(db, bus, storage, node)],
        on_interrupt=Interrupt.RESUME,
    )


def reconnect_backup_storage_flow(
    db: Database, bus: Bus, agents: AgentClient, agent_url: AgentUrl
) -> FlowDef[BackupStorageCtx]:
    return FlowDef(
        RECONNECT_BACKUP_STORAGE,
        BackupStorageCtx,
        [Connect(agents, agent_url), RecordConnected(db, bus)],
        on_interrupt=Interrupt.RESUME,
    )
