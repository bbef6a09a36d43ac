"""Host service: adds hosts (the connect handshake as the ``AddHost`` flow), reconnects
them (``ReconnectHost`` under the status machine) and changes their state. Update and
delete are the kit's defaults (the delete's cascade takes the host's counters along).

The hypervisor is a strategy: the cluster's ``hypervisorType`` picks the ``HostBackend``
(``HOST_BACKENDS``) the flows reach the agent through; nothing here names a hypervisor.
"""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Sequence
from typing import Any

from sqlalchemy import update

from mgmt.core.api import ApiCodes, caller_of
from mgmt.core.bus import HandlerContext
from mgmt.core.bus.dispatch import Handler
from mgmt.core.db import utcnow
from mgmt.core.errors import PermanentError, error
from mgmt.core.flow import FlowDef
from mgmt.core.logging import get_logger
from mgmt.core.messages import Message
from mgmt.core.module import NodeParts
from mgmt.core.node import PartitionListener
from mgmt.core.states import StateCodes, StatefulOperation
from mgmt.host.backends import HOST_BACKENDS, HostBackend
from mgmt.host.extensions import HOST_CONNECT_EXTENSIONS, HOST_STATUS_EXTENSIONS
from mgmt.host.flows.add import add_host_flow, ip_holder, ip_taken
from mgmt.host.flows.handshake import HostConnectCtx, handshake_steps
from mgmt.host.flows.reconnect import reconnect_host_flow, reconnect_operation
from mgmt.host.messages import AddHost, ChangeHostState, EvacuateHost, HostReply, ReconnectHost
from mgmt.host.models import HostRow
from mgmt.host.ping import HostPinger
from mgmt.host.reads import HOST_OBSERVERS
from mgmt.host.resources import inventory
from mgmt.host.states import CONNECT, HOST_STATUS, MAINTAIN, STATE_EVENTS, State

log = get_logger(__name__)


class HostService:
    def __init__(self, parts: NodeParts) -> None:
        self._db = parts.db
        self._engine = parts.engine
        self._states = parts.states
        self._bus = parts.bus
        self._hosts = parts.resource("Host")
        # the zone service's table through the kit's registry: no import of its models
        self._clusters: Any = parts.types.types["Cluster"].table
        plugins = parts.plugins
        self._hypervisors = frozenset(plugins.strategy_types(HOST_BACKENDS))

        def backend(hypervisor: str) -> HostBackend:
            return plugins.strategy(HOST_BACKENDS, hypervisor)

        settings = parts.settings

        extensions = plugins.observers(HOST_CONNECT_EXTENSIONS)

        def steps() -> Any:
            return handshake_steps(
                parts.db,
                parts.bus,
                parts.agents,
                backend,
                node_id=settings.node_id,
                timeout=settings.agent_timeout,
                observers=plugins.observers(HOST_OBSERVERS),
                extra=[step for e in extensions for step in e.connect_steps(backend)],
            )

        self._add = add_host_flow(parts.db, parts.bus, self._hosts, steps(), settings.node_id)
        self._reconnect = reconnect_operation(reconnect_host_flow(steps()))
        self._pinger = HostPinger(
            parts.db,
            parts.bus,
            parts.gconfig,
            parts.agents,
            backend,
            self.reconnect_host,
            plugins.observers(HOST_STATUS_EXTENSIONS),
        )

    def handlers(self) -> dict[type[Message], Handler]:
        return {
            AddHost: self.add,
            ReconnectHost: self.reconnect,
            ChangeHostState: self.change_state,
        }

    def flows(self) -> Sequence[FlowDef[Any]]:
        return (self._add, self._reconnect.flow)

    def partition_listeners(self) -> Sequence[PartitionListener]:
        return (self._pinger,)

    def stateful_operations(self) -> Sequence[StatefulOperation[Any]]:
        # the add flow holds the host it inserts (connect by insertion): registering it lets
        # the releaser and the sweeper end that hold however the run ends
        return (self._reconnect, StatefulOperation(HOST_STATUS, CONNECT, self._add))

    async def add(self, msg: AddHost, ctx: HandlerContext) -> HostReply:
        # the claim names the request: the API job, or this bus message when there is none
        request = msg if msg.jobUuid else msg.model_copy(update={"jobUuid": ctx.message_id})
        async with self._db.session() as s:
            cluster = await s.get(self._clusters, msg.clusterUuid)
            holder = await ip_holder(s, msg.managementIp, msg.resourceUuid)
        if cluster is None:
            raise PermanentError(
                error(
                    ApiCodes.INVALID_ARGUMENT,
                    f"clusterUuid: no cluster {msg.clusterUuid}",
                    field="clusterUuid",
                )
            )
        if holder is not None:  # fast answer; the flow's insert checks again under the index
            raise PermanentError(ip_taken(msg.managementIp, holder))
        hypervisor = str(cluster.hypervisor_type)
        if hypervisor not in self._hypervisors:
            raise PermanentError(
                error(
                    ApiCodes.INVALID_ARGUMENT,
                    f"clusterUuid: hosts of hypervisor {hypervisor} cannot be added here "
                    f"(installed: {sorted(self._hypervisors)})",
                    field="clusterUuid",
                )
            )
        start = HostConnectCtx(
            hostUuid=msg.resourceUuid,
            zoneUuid=str(cluster.zone_uuid),
            clusterUuid=msg.clusterUuid,
            hypervisorType=hypervisor,
            managementIp=msg.managementIp,
            username=msg.username,
            sshPort=msg.sshPort,
            cpuCapacity=msg.cpuCapacity,
            memoryCapacity=msg.memoryCapacity,
            request=request.model_dump(mode="json"),
        )
        await self._engine.run(
            self._add,
            start,
            resource_uuid=msg.resourceUuid,
            flow_uuid=ctx.message_id,  # a redelivered message joins this run
            deadline=ctx.deadline,
        )
        return await self._reply(msg.resourceUuid)

    async def reconnect(self, msg: ReconnectHost, ctx: HandlerContext) -> HostReply:
        async with self._db.session() as s:
            row = await self._hosts.visible(s, msg.resourceUuid, caller_of(msg))
        await self._run_reconnect(row, ctx.message_id, ctx.deadline)
        return await self._reply(msg.resourceUuid)

    async def reconnect_host(self, uuid: str) -> None:
        """The pinger's reconnect of a host that answers again (a run of its own)."""
        async with self._db.session() as s:
            row = await s.get(HostRow, uuid)
        if row is not None:
            await self._run_reconnect(row, str(uuidlib.uuid4()), None)

    async def _run_reconnect(self, row: HostRow, run_id: str, deadline: float | None) -> None:
        start = HostConnectCtx(
            hostUuid=row.uuid,
            zoneUuid=row.zone_uuid,
            clusterUuid=row.cluster_uuid,
            hypervisorType=row.hypervisor_type,
            managementIp=row.management_ip,
            username=row.username,
            sshPort=row.ssh_port,
            # what the host had: a simulated host made again (its simulator restarted)
            # gets it back; real agents ignore both
            cpuCapacity=row.total_cpu_capacity or None,
            memoryCapacity=row.total_memory_capacity or None,
        )
        await self._states.run(
            self._reconnect, start, resource_uuid=row.uuid, run_id=run_id, deadline=deadline
        )

    async def change_state(self, msg: ChangeHostState, ctx: HandlerContext) -> HostReply:
        allowed, target = STATE_EVENTS[msg.stateEvent]
        await self._move_state(msg, allowed, target)
        if msg.stateEvent == MAINTAIN:
            # PreMaintenance: the allocator places nothing here any more; move what runs
            evacuated = await self._bus.call(
                EvacuateHost(resourceUuid=msg.resourceUuid, caller=caller_of(msg))
            )
            log.info(
                "host.evacuated",
                host=msg.resourceUuid,
                migrated=len(evacuated.migrated),
                stopped=len(evacuated.stopped),
                failed=evacuated.failed,
            )
            await self._move_state(
                msg, frozenset({State.PRE_MAINTENANCE}), State.MAINTENANCE, event=MAINTAIN
            )
        return await self._reply(msg.resourceUuid)

    async def _move_state(
        self,
        msg: ChangeHostState,
        allowed: frozenset[State],
        target: State,
        event: str | None = None,
    ) -> None:
        async with self._db.session() as s, s.begin():
            row = await self._hosts.visible(s, msg.resourceUuid, caller_of(msg))
            # one conditional statement: no value read here is written back
            done = await s.execute(
                update(HostRow)
                .where(HostRow.uuid == msg.resourceUuid, HostRow.host_state.in_(allowed))
                .values(host_state=target, updated_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            if getattr(done, "rowcount", 0) != 1:
                await s.refresh(row)
                now = row.host_state
                possible = [e for e, (froms, _) in STATE_EVENTS.items() if now in froms]
                raise PermanentError(
                    error(
                        StateCodes.ILLEGAL,
                        f"Host {row.uuid} is {now}: {event or msg.stateEvent} is allowed from "
                        f"{sorted(allowed)}",
                        state=now,
                        allowedOperations=possible,
                    )
                )

    async def _reply(self, uuid: str) -> HostReply:
        async with self._db.session() as s:
            row = await s.get(HostRow, uuid)
            if row is None:  # deleted while the operation ran
                raise PermanentError(error(ApiCodes.NOT_FOUND, f"host {uuid} not found"))
            return HostReply(inventory=await inventory(s, row))
