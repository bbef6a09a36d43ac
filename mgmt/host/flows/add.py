"""AddHost: make the host's row (held in Connecting by this run), run the connect
handshake, mark it Connected. A failure anywhere rolls back to nothing: no host row, no
counters, no claim on its UUID. A node killed mid-flow: the partition's next owner
resumes the run (every step may run again), so the host ends Connected or cleanly gone,
never stuck Connecting.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.core.api import ApiCodes
from mgmt.core.bus import Bus, HandlerContext
from mgmt.core.counters import remove_counters
from mgmt.core.db import Database
from mgmt.core.errors import ErrorCode, PermanentError, error
from mgmt.core.flow import FlowDef, Interrupt, Step, current_attempt
from mgmt.core.resource import ResourceUuidRow, forget
from mgmt.core.resource.handlers import ResourceHandlers
from mgmt.core.states import finish
from mgmt.host.flows.handshake import HostConnectCtx
from mgmt.host.messages import AddHost
from mgmt.host.models import HostRow
from mgmt.host.states import CONNECT, HOST_STATUS, Status

ADD_HOST = "AddHost"


def ip_taken(ip: str, holder: str) -> ErrorCode:
    return error(
        ApiCodes.CONFLICT,
        f"managementIp {ip} is host {holder}'s",
        field="managementIp",
        hostUuid=holder,
    )


async def ip_holder(s: AsyncSession, ip: str, other_than: str) -> str | None:
    found = await s.scalar(
        select(HostRow.uuid).where(HostRow.management_ip == ip, HostRow.uuid != other_than)
    )
    return str(found) if found is not None else None


class CreateHostRow(Step[HostConnectCtx]):
    """The one create path (UUID claimed, cluster visible) with the row already held by
    this run in Connecting: ``begin`` by insertion, so no moment exists where the host is
    Connecting and nothing owns it."""

    name = "create-row"

    def __init__(self, db: Database, bus: Bus, hosts: ResourceHandlers[Any, Any], node: str):
        self.db = db
        self.bus = bus
        self.hosts = hosts
        self.node = node

    async def run(self, ctx: HostConnectCtx) -> Any:
        assert ctx.request is not None
        msg = AddHost.model_validate(ctx.request)
        run_id = current_attempt().flow_uuid

        async def unique_ip(s: AsyncSession) -> None:
            holder = await ip_holder(s, msg.managementIp, msg.resourceUuid)
            if holder is not None:
                raise PermanentError(ip_taken(msg.managementIp, holder))

        # the claim's request is the API job (the handler filled it in), so this context
        # is only the one insert_or_get takes; nothing else of it is read
        here = HandlerContext(
            self.bus, run_id, msg.resourceUuid, None, 1, self.bus.partition_of(run_id), self.node
        )
        now = await self.db.now()  # database time, like every begin (the sweeper's grace)
        try:
            async with self.db.session() as s, s.begin():
                await self.hosts.create_row(
                    s,
                    msg,
                    here,
                    values={
                        "zone_uuid": ctx.zoneUuid,
                        "hypervisor_type": ctx.hypervisorType,
                        "password_hash": msg.passwordHash,
                        "ssh_private_key_hash": msg.sshPrivateKeyHash,
                        "state": Status.CONNECTING,
                        "op_holder": run_id,
                        "op_name": CONNECT,
                        "op_from": Status.DISCONNECTED,
                        "op_since": now,
                    },
                    check=unique_ip,
                )
        except IntegrityError:  # the unique index: another add of this IP won the race
            async with self.db.session() as s:
                holder = await ip_holder(s, msg.managementIp, msg.resourceUuid)
            raise PermanentError(ip_taken(msg.managementIp, holder or "?")) from None
        return {"jobUuid": msg.jobUuid}

    async def rollback(self, ctx: HostConnectCtx, result: Any) -> None:
        assert ctx.request is not None
        uuid, job = ctx.request["resourceUuid"], ctx.request["jobUuid"]
        async with self.db.session() as s, s.begin():
            claim = await s.get(ResourceUuidRow, uuid)
            if claim is None or claim.job_uuid != job:
                return  # never ours (a refused claim): touch nothing of the holder's
            await s.execute(delete(HostRow).where(HostRow.uuid == uuid))
            await remove_counters(s, uuid)
            await forget(s, [uuid])


class MarkConnected(Step[HostConnectCtx]):
    """The point of no return: the host is Connected and this run lets go of it."""

    name = "mark-connected"
    no_rollback = True

    def __init__(self, db: Database) -> None:
        self.db = db

    async def run(self, ctx: HostConnectCtx) -> Any:
        async with self.db.session() as s, s.begin():
            await finish(s, HOST_STATUS, ctx.hostUuid, current_attempt().flow_uuid, success=True)
        return None


def add_host_flow(
    db: Database,
    bus: Bus,
    hosts: ResourceHandlers[Any, Any],
    handshake: list[Step[HostConnectCtx]],
    node: str,
) -> FlowDef[HostConnectCtx]:
    return FlowDef(
        ADD_HOST,
        HostConnectCtx,
        [CreateHostRow(db, bus, hosts, node), *handshake, MarkConnected(db)],
        on_interrupt=Interrupt.RESUME,
    )
