"""Log in, authenticate a bearer token, log out; create the first admin account.

Called by the API frontend (login and authentication are read-mostly and answered there,
without a bus hop) and by management nodes on start (``bootstrap_admin``). Tokens are
random (256 bits); only their SHA-256 is stored, so a database dump yields no sessions.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from mgmt.core.api import ApiCodes, CallerContext
from mgmt.core.db import Database
from mgmt.core.errors import PermanentError, error
from mgmt.core.gconfig import GlobalConfigDef
from mgmt.core.logging import get_logger
from mgmt.identity.models import AccountRow, AccountType, SessionRow, UserRow
from mgmt.identity.passwords import hash_password, verify_password

log = get_logger(__name__)

ADMIN_NAME = "admin"

SESSION_TIMEOUT = GlobalConfigDef(
    "identity",
    "session.timeout",
    int,
    7200,
    "Seconds a session lives after login.",
    ge=60,
    le=30 * 86400,
)
MAX_SESSIONS = GlobalConfigDef(
    "identity",
    "session.maxConcurrent",
    int,
    500,
    "Sessions an account may hold at once; a login beyond it is refused.",
    ge=1,
    le=100_000,
)
IDENTITY_CONFIGS = (SESSION_TIMEOUT, MAX_SESSIONS)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class NewSession:
    uuid: str
    token: str
    account_uuid: str
    expires_at: str


class Sessions:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def login(
        self,
        account_name: str,
        password: str,
        *,
        timeout: int,
        max_sessions: int,
        user_name: str | None = None,
    ) -> NewSession:
        async with self._db.session() as s:
            account = (
                await s.execute(select(AccountRow).where(AccountRow.name == account_name))
            ).scalar()
            user = None
            if account is not None and user_name is not None:
                user = (
                    await s.execute(
                        select(UserRow).where(
                            UserRow.account_uuid == account.uuid, UserRow.name == user_name
                        )
                    )
                ).scalar()
        # the same answer (and about the same time) for an unknown name and a bad password
        holder = user if user_name is not None else account
        stored = holder.password_hash if holder else _DUMMY_HASH
        if not await verify_password(password, stored) or holder is None or account is None:
            raise PermanentError(error(ApiCodes.UNAUTHENTICATED, "wrong name or password"))
        now = await self._db.now()
        async with self._db.session() as s, s.begin():
            active = await s.scalar(
                select(func.count()).where(
                    SessionRow.account_uuid == account.uuid,
                    SessionRow.revoked.is_(False),
                    SessionRow.expires_at > now,
                )
            )
            if int(active or 0) >= max_sessions:
                raise PermanentError(
                    error(
                        ApiCodes.QUOTA_EXCEEDED,
                        f"account {account_name} holds {active} sessions (max {max_sessions})",
                    )
                )
            token = secrets.token_urlsafe(32)
            row = SessionRow(
                uuid=str(uuid.uuid4()),
                token_hash=token_hash(token),
                account_uuid=account.uuid,
                user_uuid=user.uuid if user else None,
                created_at=now,
                expires_at=now + timedelta(seconds=timeout),
                revoked=False,
            )
            s.add(row)
        log.info("identity.login", account=account.uuid, session=row.uuid)
        return NewSession(row.uuid, token, account.uuid, row.expires_at.isoformat())

    async def authenticate(self, token: str, source_ip: str = "") -> CallerContext | None:
        now = await self._db.now()
        async with self._db.session() as s:
            found = (
                await s.execute(
                    select(SessionRow, AccountRow.type)
                    .join(AccountRow, AccountRow.uuid == SessionRow.account_uuid)
                    .where(
                        SessionRow.token_hash == token_hash(token),
                        SessionRow.revoked.is_(False),
                        SessionRow.expires_at > now,
                    )
                )
            ).first()
        if found is None:
            return None
        session, account_type = found
        return CallerContext(
            accountUuid=session.account_uuid,
            userUuid=session.user_uuid,
            isAdmin=account_type == AccountType.ADMIN,
            sourceIp=source_ip,
        )

    async def revoke(self, token: str) -> bool:
        async with self._db.session() as s, s.begin():
            result = await s.execute(
                update(SessionRow)
                .where(SessionRow.token_hash == token_hash(token), SessionRow.revoked.is_(False))
                .values(revoked=True)
            )
        return bool(getattr(result, "rowcount", 0))


_DUMMY_HASH = (
    "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
)


async def bootstrap_admin(db: Database, password: str | None) -> str | None:
    """Create the ``admin`` account if there is none (safe when several nodes start at
    once). Returns the generated password when none was given, to be printed once."""
    async with db.session() as s:
        if await s.scalar(select(AccountRow.uuid).where(AccountRow.name == ADMIN_NAME)):
            return None
    generated = None
    if not password:
        password = generated = secrets.token_urlsafe(12)
    now = await db.now()
    insert = postgresql.insert if db.is_postgres else sqlite.insert
    async with db.session() as s, s.begin():
        result = await s.execute(
            insert(AccountRow)
            .values(
                uuid=str(uuid.uuid4()),
                name=ADMIN_NAME,
                type=AccountType.ADMIN,
                description="created on first start",
                password_hash=await hash_password(password),
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=["name"])
        )
    if not getattr(result, "rowcount", 0):
        return None  # another node won the race
    log.info("identity.admin_created")
    return generated
