"""``HostAllocator``: choose a host for a VM and reserve its CPU and memory there.

The VM create flow calls ``allocate(spec, reservation_id)`` (or lists the ``AllocateHost``
step); nothing else writes host capacity. There is no allocation queue: any number of
allocations run at once, each in its own transaction, and exactness comes from the
counters' conditional statements (``reserve`` with a ``Limit``): a host whose room a
concurrent allocation took refuses the reservation, and the next candidate is tried.

Reservations are ``<reservation id>/cpu`` and ``<reservation id>/memory``: an allocation
repeated with its id (a redelivered message, a step re-run after a take-over) finds them
and answers the same host, taking nothing more; ``release`` gives both back once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.allocator.candidates import CPU, MEMORY, ConfigView, Filtered, load_hosts, run_filters
from mgmt.allocator.config import DEFAULT_STRATEGY
from mgmt.allocator.contract import (
    HOST_FILTERS,
    AllocationSpec,
    HostCandidate,
    HostFilter,
    by_stage,
)
from mgmt.allocator.errors import AllocatorCodes, no_host
from mgmt.allocator.strategies import HOST_STRATEGIES, HostAllocatorStrategy
from mgmt.core.counters import (
    CounterCodes,
    Limit,
    ReservationRow,
    ReservationState,
    release,
    reservation_id,
    reserve,
)
from mgmt.core.db import Database
from mgmt.core.errors import Codes, PermanentError, ZCloudError, error
from mgmt.core.flow import RetryPolicy, Step, current_attempt
from mgmt.core.plugins import PluginRegistry
from mgmt.core.resource import ResourceTypes

C = TypeVar("C", bound=BaseModel)


@dataclass(frozen=True)
class AllocatedHost:
    """The host an allocation chose, and what it holds there."""

    host_uuid: str
    host_name: str
    zone_uuid: str
    cluster_uuid: str
    reservation_id: str
    cpu_num: int
    memory_size: int
    #: False when this call found the allocation made before (a repeat)
    fresh: bool = True


def cpu_reservation(rid: str) -> str:
    return f"{rid}/cpu"


def memory_reservation(rid: str) -> str:
    return f"{rid}/memory"


def allocation_reservations(rid: str) -> tuple[str, str]:
    """The counter reservations an allocation ``rid`` holds (CPU, memory): what a holder
    releases in its own transaction (a cascade delete) with ``mgmt.core.counters.release``."""
    return cpu_reservation(rid), memory_reservation(rid)


class HostAllocator:
    """Filters, orders by strategy, reserves. Built from a node's parts (``of``)."""

    def __init__(
        self,
        db: Database,
        types: ResourceTypes,
        config: ConfigView,
        filters: Sequence[HostFilter],
        strategies: Callable[[str], HostAllocatorStrategy],
    ) -> None:
        self._db = db
        self._types = types
        self._config = config
        self._filters = list(filters)
        self._strategies = strategies

    @classmethod
    def of(
        cls, db: Database, types: ResourceTypes, config: ConfigView, plugins: PluginRegistry
    ) -> HostAllocator:
        """With every registered filter and strategy."""

        def strategy(name: str) -> HostAllocatorStrategy:
            return plugins.strategy(HOST_STRATEGIES, name)

        return cls(db, types, config, by_stage(plugins.observers(HOST_FILTERS)), strategy)

    async def candidates(self, session: AsyncSession, spec: AllocationSpec) -> Filtered:
        """Which hosts would take ``spec`` now, and why each other one would not."""
        return await run_filters(
            session, self._filters, spec, await load_hosts(session, self._types, self._config)
        )

    async def strategy_name(self, session: AsyncSession, spec: AllocationSpec) -> str:
        if spec.strategy:
            return spec.strategy
        if spec.instance_offering_uuid:
            offering = await session.get(
                self._types.types["InstanceOffering"].table, spec.instance_offering_uuid
            )
            if offering is not None and offering.allocator_strategy:
                return str(offering.allocator_strategy)
        return str(self._config.value(DEFAULT_STRATEGY))

    def strategy(self, name: str) -> HostAllocatorStrategy:
        try:
            return self._strategies(name)
        except LookupError as exc:
            raise PermanentError(
                error(AllocatorCodes.NO_STRATEGY, str(exc), field="strategy", strategy=name)
            ) from None

    async def allocate(self, spec: AllocationSpec, reservation_id: str) -> AllocatedHost:
        """Choose a host for ``spec`` and reserve ``spec.cpu_num`` vCPUs and
        ``spec.memory_size`` bytes there under ``reservation_id``.

        Idempotent by ``reservation_id``: a repeat answers the first outcome's host
        (``fresh=False``); an id already released is ``HOST_ALLOCATION.1003``. No host:
        ``HOST_ALLOCATION.1001`` (409) naming per filter the hosts it refused and why;
        nothing is left reserved.
        """
        found = await self.allocation(reservation_id)
        if found is not None:
            return found
        async with self._db.session() as s, s.begin():
            filtered = await self.candidates(s, spec)
            order = self.strategy(await self.strategy_name(s, spec)).order(spec, filtered.kept)
            rejected = [r.as_tuple() for r in filtered.rejected]
            for host in order:
                try:
                    async with s.begin_nested():  # a refused memory gives the CPU back
                        await self._reserve(s, spec, host, reservation_id)
                except ZCloudError as exc:
                    code = exc.error.code
                    if code == CounterCodes.RESERVATION_CONFLICT[0]:
                        break  # the same id is being allocated concurrently elsewhere
                    if code != CounterCodes.INSUFFICIENT[0]:
                        raise
                    rejected.append(
                        (host.uuid, host.name, "capacity", f"taken meanwhile: {exc.error.details}")
                    )
                    continue
                return AllocatedHost(
                    host.uuid,
                    host.name,
                    host.zone_uuid,
                    host.cluster_uuid,
                    reservation_id,
                    spec.cpu_num,
                    spec.memory_size,
                )
            else:
                raise PermanentError(no_host(rejected, filtered.considered))
        # a concurrent call with this id won: its outcome is this one's
        found = await self.allocation(reservation_id)
        if found is None:
            raise PermanentError(no_host(rejected, filtered.considered))
        return found

    async def _reserve(
        self, s: AsyncSession, spec: AllocationSpec, host: HostCandidate, rid: str
    ) -> None:
        await reserve(
            s, host.uuid, CPU, spec.cpu_num, cpu_reservation(rid), limit=Limit(host.cpu_ratio)
        )
        await reserve(
            s,
            host.uuid,
            MEMORY,
            spec.memory_size,
            memory_reservation(rid),
            limit=Limit(host.memory_ratio, host.reserved_memory),
        )

    async def allocation(self, rid: str) -> AllocatedHost | None:
        """The allocation made under ``rid``, if any (``HOST_ALLOCATION.1003`` if it was
        released)."""
        async with self._db.session() as s:
            cpu = await s.get(ReservationRow, cpu_reservation(rid))
            mem = await s.get(ReservationRow, memory_reservation(rid))
            if cpu is None or mem is None:
                return None
            if ReservationState.RELEASED in (cpu.state, mem.state):
                raise PermanentError(
                    error(
                        AllocatorCodes.RELEASED,
                        f"allocation {rid} was released; allocate under a new id",
                        reservation=rid,
                    )
                )
            host = await s.get(self._types.types["Host"].table, cpu.owner_uuid)
            return AllocatedHost(
                cpu.owner_uuid,
                "" if host is None else host.name,
                "" if host is None else host.zone_uuid,
                "" if host is None else host.cluster_uuid,
                rid,
                cpu.amount,
                mem.amount,
                fresh=False,
            )

    async def release(self, reservation_id: str) -> bool:
        """Give back what the allocation ``reservation_id`` holds, exactly once (an id
        never allocated leaves tombstones, so a late ``allocate`` with it takes nothing).
        True if this call gave something back."""
        async with self._db.session() as s, s.begin():
            cpu = await release(s, cpu_reservation(reservation_id))
            mem = await release(s, memory_reservation(reservation_id))
        return cpu.released or mem.released


class AllocateHost(Step[C]):
    """The flow step: allocate a host for ``spec(ctx)``, hand it to ``merge(ctx, host)``
    (set ``ctx.hostUuid``); on rollback release it.

    The reservation id is ``<run uuid>/<step name>`` (``reservation_id``): a step re-run
    after a take-over or on redelivery finds its allocation and takes nothing more; the
    rollback releases it also when the step was interrupted or failed (``result`` None),
    so a subclass that records the allocation after making it leaves nothing held when that
    fails, and a retry after a transient failure finds the same allocation. "No host" fails
    the step permanently (the flow rolls back).
    """

    retry = RetryPolicy(max_attempts=5, initial_delay=0.1)
    #: a subclass's work after the allocation may fail: the engine then releases it
    undo_on_failure = True

    def __init__(
        self,
        allocator: HostAllocator,
        spec: Callable[[C], AllocationSpec],
        merge: Callable[[C, AllocatedHost], None],
        *,
        name: str = "allocate-host",
    ) -> None:
        self._allocator = allocator
        self._spec = spec
        self._merge = merge
        self._name = name

    @property
    def step_name(self) -> str:
        return self._name

    def reservation_id(self) -> str:
        try:
            attempt = current_attempt()
        except RuntimeError:
            raise PermanentError(
                error(Codes.INTERNAL, f"step {self._name} ran outside a flow run")
            ) from None
        return reservation_id(attempt.flow_uuid, self._name)

    async def run(self, ctx: C) -> Any:
        rid = self.reservation_id()
        host = await self._allocator.allocate(self._spec(ctx), rid)
        self._merge(ctx, host)
        return {"reservation": rid, "hostUuid": host.host_uuid}

    async def rollback(self, ctx: C, result: Any) -> None:
        rid = str(result["reservation"]) if result else self.reservation_id()
        await self._allocator.release(rid)
