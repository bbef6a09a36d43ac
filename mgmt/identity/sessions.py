"""Log in, authenticate a bearer token, log out (the admin account itself: ``admin.py``).

Called by the API frontend (login and authentication are read-mostly and answered there,
without a bus hop). Tokens are random (256 bits); only their SHA-256 is stored, so a
database dump yields no sessions.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, literal, select, update

from mgmt.core.api import ApiCodes, CallerContext
from mgmt.core.db import Database
from mgmt.core.errors import PermanentError, error
from mgmt.core.gconfig import GlobalConfigDef
from mgmt.core.logging import get_logger
from mgmt.identity.models import AccountRow, AccountType, SessionRow, UserRow
from mgmt.identity.passwords import verify_password

log = get_logger(__name__)

#: the account created on first start (``admin.py``)
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
    def __init__(self, db: Database, *, cache_seconds: float = 2.0) -> None:
        self._db = db
        self._cache_seconds = cache_seconds
        #: token hash -> (valid until (monotonic), caller or None)
        self._cache: dict[str, tuple[float, CallerContext | None]] = {}

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
        """The session's caller, or None (unknown, expired or revoked).

        Answers are cached for ``cache_seconds`` (default 2 s) per frontend: a busy client
        costs one lookup per interval, and a revoke or expiry is seen everywhere within it
        (at once on the frontend that revoked it).
        """
        digest = token_hash(token)
        cached = self._cache.get(digest)
        now = time.monotonic()
        if cached is not None and cached[0] > now:
            caller = cached[1]
            if caller is None or caller.sourceIp == source_ip:  # frozen: safe to hand out
                return caller
            return caller.model_copy(update={"sourceIp": source_ip})
        async with self._db.read_session() as s:
            found = (
                await s.execute(
                    select(
                        SessionRow.account_uuid,
                        SessionRow.user_uuid,
                        AccountRow.type,
                        SessionRow.expires_at,
                        func.now() if self._db.is_postgres else literal(None),
                    )
                    .join(AccountRow, AccountRow.uuid == SessionRow.account_uuid)
                    .where(SessionRow.token_hash == digest, SessionRow.revoked.is_(False))
                )
            ).first()
        result: CallerContext | None = None
        ttl = self._cache_seconds
        if found is not None:
            account_uuid, user_uuid, account_type, expires_at, db_now = found
            db_now = db_now or datetime.now(UTC)
            left = (expires_at - db_now).total_seconds()
            if left > 0:
                result = CallerContext(
                    accountUuid=account_uuid,
                    userUuid=user_uuid,
                    isAdmin=account_type == AccountType.ADMIN,
                    sourceIp=source_ip,
                )
                ttl = min(ttl, left)
        if len(self._cache) > 100_000:
            self._cache.clear()
        self._cache[digest] = (now + ttl, result)
        return result

    async def revoke(self, token: str) -> bool:
        self._cache.pop(token_hash(token), None)
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


async def local_admin_session(db: Database, seconds: int = 600) -> NewSession:
    """A session of the admin account made directly in the database, with no password:
    for a process that holds the database already (the all-in-one bootstrapping its demo
    environment through the REST API). Revoke it with ``end_session`` when done."""
    now = await db.now()
    token = secrets.token_urlsafe(32)
    async with db.session() as s, s.begin():
        account = (
            await s.execute(select(AccountRow).where(AccountRow.name == ADMIN_NAME))
        ).scalar_one()
        row = SessionRow(
            uuid=str(uuid.uuid4()),
            token_hash=token_hash(token),
            account_uuid=account.uuid,
            user_uuid=None,
            created_at=now,
            expires_at=now + timedelta(seconds=seconds),
            revoked=False,
        )
        s.add(row)
    return NewSession(row.uuid, token, account.uuid, row.expires_at.isoformat())


async def end_session(db: Database, session_uuid: str) -> None:
    async with db.session() as s, s.begin():
        await s.execute(
            update(SessionRow).where(SessionRow.uuid == session_uuid).values(revoked=True)
        )
