"""``zcloud admin reset-password``: recover a lost admin password, locally.

Called by ``mgmt.cli``. It talks to the database the settings name (``ZCLOUD_DB_URL``),
not to the API: whoever lost the password has no session to call the API with, and
database access is the proof of being the operator. Prints one line; exit 0 done, 1 no
database or no admin account, 2 the password was refused (empty, or the prompts differ).
"""

from __future__ import annotations

import asyncio
import getpass
import sys
from pathlib import Path

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

from mgmt.core.db import Database
from mgmt.identity.admin import (
    AdminPassword,
    NoAdminAccount,
    PasswordSource,
    reset_admin_password,
)
from mgmt.settings import Settings


def reset_password(settings: Settings, password: str | None, *, prompt: bool) -> int:
    where = settings.db_url.split("@")[-1]  # never print a database password
    if settings.is_sqlite:
        path = make_url(settings.db_url).database
        if path and path != ":memory:" and not Path(path).exists():
            # opening it would create an empty database: say where we looked instead
            return _fail(
                f"no database at {path} (run it where zcloud up ran, or set ZCLOUD_DB_URL)"
            )
    if prompt:  # argparse keeps --prompt and --password apart
        password = getpass.getpass("new admin password: ")
        if password != getpass.getpass("again: "):
            print("zcloud admin: the two passwords differ; nothing changed", file=sys.stderr)
            return 2
        if not password:
            print("zcloud admin: an empty password; nothing changed", file=sys.stderr)
            return 2
    given = "the prompt" if prompt else "--password"
    if password is None and settings.admin_password is not None:
        password, given = settings.admin_password.get_secret_value(), "ZCLOUD_ADMIN_PASSWORD"
    try:
        outcome = asyncio.run(_reset(settings, password))
    except NoAdminAccount:
        return _fail(f"no admin account in {where} (start zcloud once to create it)")
    except (sa_exc.DBAPIError, OSError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else ""  # not the SQL that follows
        return _fail(f"cannot change the admin in {where}: {type(exc).__name__}: {first}")
    if outcome.source is PasswordSource.GENERATED:
        print(f"admin password reset; new password: {outcome.password}   (shown once)")
    else:
        print(f"admin password reset to the one from {given}")
    print("the admin's sessions have ended: log in again (zcloud login --account admin)")
    return 0


async def _reset(settings: Settings, password: str | None) -> AdminPassword:
    db = Database(settings.db_url, pool_size=1)
    try:
        return await reset_admin_password(db, password)
    finally:
        await db.close()


def _fail(message: str) -> int:
    print(f"zcloud admin: {message}", file=sys.stderr)
    return 1
