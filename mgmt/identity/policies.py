"""Policy decisions for users: deny wins, then an allow is needed; accounts need none.

A session of the account itself may do everything the API lets an account do on its own
resources; a user's session may do only what a policy attached to the user (or one of its
groups) allows, and nothing any of them denies. Actions are API names (``CreateZone``,
``QueryZone``); actions and resources match by glob.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from fnmatch import fnmatchcase
from typing import Any

from sqlalchemy import or_, select

from mgmt.core.db import Database
from mgmt.identity.models import GroupMemberRow, PolicyAttachmentRow, PolicyRow


def decide(statements: Iterable[dict[str, Any]], action: str, resource: str) -> bool:
    allowed = False
    for st in statements:
        if not any(fnmatchcase(action, a) for a in st.get("actions", [])):
            continue
        if not any(fnmatchcase(resource, r) for r in st.get("resources", ["*"])):
            continue
        if st.get("effect") == "Deny":
            return False
        allowed = True
    return allowed


async def statements_for(db: Database, user_uuid: str) -> list[dict[str, Any]]:
    async with db.read_session() as s:
        groups = select(GroupMemberRow.group_uuid).where(GroupMemberRow.user_uuid == user_uuid)
        rows = await s.execute(
            select(PolicyRow.statements)
            .join(PolicyAttachmentRow, PolicyAttachmentRow.policy_uuid == PolicyRow.uuid)
            .where(
                or_(
                    PolicyAttachmentRow.principal_uuid == user_uuid,
                    PolicyAttachmentRow.principal_uuid.in_(groups),
                )
            )
        )
        out: list[dict[str, Any]] = []
        for (text,) in rows.all():
            out.extend(json.loads(text))
        return out
