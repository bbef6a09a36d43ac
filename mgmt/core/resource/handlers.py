"""The default create, update and delete handlers of a declared resource type.

``ResourceHandlers`` serves the API messages of one ``ResourceType``: a create goes
through ``insert_or_get`` (the one create path: UUID claimed, quota consumed, parents
checked), an update changes the columns its message names, a delete runs the cascade.
Each checks that the caller may act: something another account owns is not found. A
service overrides a handler only where it does more, and builds its own on ``visible``,
``create_row`` and ``reply``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Generic

from pydantic import BaseModel
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.core.api import ApiCodes, CallerContext, body_fields, caller_of, not_found
from mgmt.core.bus import HandlerContext
from mgmt.core.bus.dispatch import Handler
from mgmt.core.cascade import CascadeDeleter
from mgmt.core.db import Database, utcnow
from mgmt.core.errors import PermanentError, error
from mgmt.core.messages import Message, Reply
from mgmt.core.resource.create import Check, insert_or_get
from mgmt.core.resource.declaration import (
    InvT,
    ResourceType,
    ResourceTypes,
    RowT,
    column_name,
)
from mgmt.core.sharing import shared_with

#: body fields that are not the resource's columns
_NOT_COLUMNS = frozenset({"resourceUuid", "systemTags", "userTags", "deleteMode"})


class ResourceHandlers(Generic[RowT, InvT]):
    def __init__(
        self,
        db: Database,
        resource: ResourceType[RowT, InvT],
        types: ResourceTypes,
        deleter: CascadeDeleter,
    ) -> None:
        self.db = db
        self.resource = resource
        self._types = types
        self._deleter = deleter
        mapper = inspect(resource.table)
        self._columns = {c.key: c for c in mapper.column_attrs}

    def handlers(self, messages: tuple[type[Message], ...]) -> dict[type[Message], Handler]:
        """Default handlers for the create/update/delete API messages of this type."""
        kinds = {"create": self.create, "update": self.update, "delete": self.delete}
        out: dict[type[Message], Handler] = {}
        for m in messages:
            spec = getattr(m, "api", None)
            if spec is not None and spec.resource == self.resource.name and spec.kind in kinds:
                out[m] = kinds[spec.kind]
        return out

    # -- building blocks a service's own handlers use --------------------------------------

    async def visible(self, s: AsyncSession, uuid: str, caller: CallerContext) -> RowT:
        """The row, if the caller may act on it (its owner or an admin); else 404."""
        row = await s.get(self.resource.table, uuid)
        if row is None or not self.resource.may_act(caller, row):
            raise PermanentError(not_found(self.resource.name, uuid))
        return row

    def values_of(self, msg: Any) -> dict[str, Any]:
        """Column values a message names (``hypervisorType`` → ``hypervisor_type``)."""
        out: dict[str, Any] = {}
        for name in body_fields(type(msg)):
            key = column_name(name)
            if name not in _NOT_COLUMNS and key in self._columns:
                out[key] = getattr(msg, name)
        return out

    async def create_row(
        self,
        s: AsyncSession,
        msg: Any,
        ctx: HandlerContext,
        *,
        values: Mapping[str, Any] | None = None,
        check: Check | None = None,
    ) -> RowT:
        """The row ``msg`` creates (in ``s``'s transaction): its body's columns, then
        ``values``; its parents must be visible to the caller."""
        caller = caller_of(msg)
        named = self.values_of(msg)
        row_values = {**named, **(values or {})}
        # parents the body names; those the service sets itself (``values``) are its own
        # to choose (a VIP's IP range, picked by IPAM, is not the caller's to see)
        await self._check_parents(s, named, caller)
        now = utcnow()
        table = self.resource.table
        owner = self.resource.owner

        def build(caller: CallerContext) -> RowT:
            fields: dict[str, Any] = {**self._defaults(), **row_values}
            fields.update(uuid=msg.resourceUuid, created_at=now, updated_at=now)
            if owner is not None and not self.resource.owns_itself:
                fields[owner] = caller.accountUuid
            return table(**{k: v for k, v in fields.items() if k in self._columns})

        return await insert_or_get(
            s, table, msg, ctx, build=build, quota=self.resource.quota, check=check
        )

    async def reply(self, s: AsyncSession, msg: Any, row: RowT, **more: Any) -> Reply:
        """``msg``'s reply type with the row's inventory (and ``more`` fields)."""
        reply_type: type[Reply] = type(msg).reply_type()
        return reply_type(inventory=await self.inventory(s, row), **more)  # type: ignore[call-arg]

    async def inventory(self, s: AsyncSession, row: RowT) -> BaseModel:
        shown = self.resource.inventory_of
        return await shown(s, row) if shown is not None else self.resource.to_inventory(row)

    # -- the default handlers -----------------------------------------------------------

    async def create(self, msg: Any, ctx: HandlerContext) -> Reply:
        async with self.db.session() as s, s.begin():
            row = await self.create_row(s, msg, ctx)
            return await self.reply(s, msg, row)

    async def update(self, msg: Any, ctx: HandlerContext) -> Reply:
        caller = caller_of(msg)
        async with self.db.session() as s, s.begin():
            row = await self.visible(s, msg.resourceUuid, caller)
            for key, value in self.values_of(msg).items():
                if value is not None:
                    setattr(row, key, value)
            if "updated_at" in self._columns:
                row.updated_at = utcnow()  # type: ignore[attr-defined]
            return await self.reply(s, msg, row)

    async def delete(self, msg: Any, ctx: HandlerContext) -> Reply:
        async with self.db.session() as s:
            await self.visible(s, msg.resourceUuid, caller_of(msg))
        deleted = await self._deleter.delete(
            self.resource.name,
            msg.resourceUuid,
            getattr(msg, "deleteMode", "Enforcing"),
            run_id=msg.jobUuid or ctx.message_id,
            deadline=ctx.deadline,
        )
        reply_type: type[Reply] = type(msg).reply_type()
        return reply_type(deleted=deleted)  # type: ignore[call-arg]

    def _defaults(self) -> dict[str, Any]:
        """Scalar column defaults, set on the object so the reply shows them."""
        out: dict[str, Any] = {}
        for key, attr in self._columns.items():
            default = attr.columns[0].default
            if default is not None and default.is_scalar:
                out[key] = default.arg
        return out

    async def _check_parents(
        self, s: AsyncSession, values: Mapping[str, Any], caller: CallerContext
    ) -> None:
        """A create names its parents (``zoneUuid``): each must be the caller's own, or, for
        a parent declared ``shared_use`` (a tenant's VIP on the admin's L3 network), one
        shared with it or public. Sharing alone gives read access, not the right to add
        children."""
        for parent in self.resource.parents:
            uuid = values.get(parent.column.key)
            if uuid is None:
                continue
            target = self._types.types[parent.type]
            found = await s.get(target.table, uuid)
            if found is None or not (
                target.may_act(caller, found)
                or (parent.shared_use and await shared_with(s, str(uuid), caller.accountUuid))
            ):
                field = next(
                    n
                    for n in self.resource.inventory.model_fields
                    if column_name(n) == parent.column.key
                )
                missing = not_found(parent.type, str(uuid), field=field)
                raise PermanentError(
                    error(ApiCodes.INVALID_ARGUMENT, missing.details, **missing.extra)
                )
