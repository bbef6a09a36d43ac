"""``insert_or_get``: the one way a create handler makes its row.

Called by every create handler inside its transaction. In order: the caller's UUID is
checked and claimed (``uuids.claim``), the service's own checks run (a unique name …), the
quota is consumed, the row is inserted. A redelivered create answers with its row and
consumes nothing; a refused one leaves no row, no claim and no quota behind, because it
all happens in the one transaction the handler rolls back on the error.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from mgmt.core import quota as quotas
from mgmt.core.api import ApiCodes, CallerContext, caller_of
from mgmt.core.bus import HandlerContext
from mgmt.core.errors import PermanentError, error
from mgmt.core.quota import Quota
from mgmt.core.resource.uuids import UuidClaim, canonical_uuid, claim, uuid_taken

RowT = TypeVar("RowT")
Check = Callable[[AsyncSession], Awaitable[None]]


async def insert_or_get(
    session: AsyncSession,
    model: type[RowT],
    msg: Any,
    ctx: HandlerContext,
    *,
    build: Callable[[CallerContext], RowT],
    quota: Quota | None = None,
    check: Check | None = None,
) -> RowT:
    """The row ``msg`` creates (``build(caller)``), or the one it created before.

    ``msg`` is an API create (``resourceUuid``, ``caller``, ``jobUuid``; its ``ApiSpec``
    names the resource type); the request is its API job, else its bus message id.
    ``check`` runs only for a new row, before the quota is consumed; it raises to refuse
    the create.
    """
    caller = caller_of(msg)
    uuid = canonical_uuid(msg.resourceUuid)
    if uuid != msg.resourceUuid:  # the frontend sends it canonical; a row keyed otherwise
        raise PermanentError(  # could not be found by the UUID it was claimed under
            error(ApiCodes.INVALID_ARGUMENT, "resourceUuid: not canonical", field="resourceUuid")
        )
    resource_type = type(msg).api.resource
    want = UuidClaim(uuid, resource_type, caller.accountUuid, msg.jobUuid or ctx.message_id)
    if not await claim(session, want):
        existing = await session.get(model, uuid)
        if existing is None:  # claimed by this request, yet the row is gone: not ours now
            raise uuid_taken(uuid)
        return existing
    if check is not None:
        await check(session)
    if quota is not None:
        await quotas.consume(session, caller.accountUuid, quota, is_admin=caller.isAdmin)
    row = build(caller)
    session.add(row)
    await session.flush()
    return row
