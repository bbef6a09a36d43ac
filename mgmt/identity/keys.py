"""Access-key signatures: HMAC-SHA256 over method, path and date, checked within ±15 min.

A key's secret is ``HMAC(deployment secret, key id)``: nothing secret is stored per key,
and the deployment secret comes from ``ZCLOUD_SECRET_KEY`` (or, unset, a random one made
once and kept in the database). A request carries::

    Date: Wed, 25 Nov 2026 15:00:00 GMT
    Authorization: ZCloud <keyId>:<base64 HMAC-SHA256(secret, "METHOD\\nPATH\\nDATE")>
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from mgmt.core.db import Database
from mgmt.identity.models import DeploymentSecretRow

SKEW = timedelta(minutes=15)
SCHEME = "ZCloud"


async def deployment_secret(db: Database, configured: str | None) -> bytes:
    if configured:
        return configured.encode()
    insert = postgresql.insert if db.is_postgres else sqlite.insert
    async with db.session() as s, s.begin():
        await s.execute(
            insert(DeploymentSecretRow)
            .values(name="access-keys", value=secrets.token_urlsafe(48))
            .on_conflict_do_nothing(index_elements=["name"])
        )
        value = await s.scalar(
            select(DeploymentSecretRow.value).where(DeploymentSecretRow.name == "access-keys")
        )
    assert value is not None
    return value.encode()


def key_secret(master: bytes, key_id: str) -> str:
    return base64.urlsafe_b64encode(hmac.digest(master, key_id.encode(), "sha256")).decode()


def string_to_sign(method: str, path: str, date: str) -> str:
    return f"{method.upper()}\n{path}\n{date}"


def signature(secret: str, method: str, path: str, date: str) -> str:
    mac = hmac.digest(secret.encode(), string_to_sign(method, path, date).encode(), "sha256")
    return base64.b64encode(mac).decode()


def check(
    secret: str, method: str, path: str, date: str, given: str, now: datetime | None = None
) -> str | None:
    """None if the signature is good and the date within ±15 min; else why not."""
    try:
        when = parsedate_to_datetime(date)
    except (TypeError, ValueError):
        return "the Date header is not an HTTP date"
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if abs((now or datetime.now(UTC)) - when) > SKEW:
        return "the Date header is more than 15 minutes off"
    expected = signature(secret, method, path, date)
    if not hmac.compare_digest(expected.encode(), given.encode()):
        return "the signature does not match"
    return None


def new_key_id() -> str:
    return "ZK" + secrets.token_hex(10).upper()


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()
