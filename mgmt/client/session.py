"""The saved CLI session: base URL and token in ``~/.zcloud/session.json``.

``ZCLOUD_CLIENT_CONFIG`` overrides the path. The file holds a bearer token, so it is
written with mode 0600 (its directory 0700), atomically: a crash leaves the old file or the
new one, never half of one. Used by ``zcloud login`` / ``logout`` and by scripts.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

CONFIG_ENV = "ZCLOUD_CLIENT_CONFIG"


@dataclass(frozen=True)
class SavedSession:
    url: str
    token: str
    account: str = ""
    expiresAt: str = ""
    #: the user of ``account`` logged in; empty for the account itself
    user: str = ""


def session_path() -> Path:
    """Where the session is kept: ``$ZCLOUD_CLIENT_CONFIG`` or ``~/.zcloud/session.json``."""
    override = os.environ.get(CONFIG_ENV)
    if override:
        return Path(override).expanduser()
    return Path.home() / ".zcloud" / "session.json"


def load_session(path: Path | None = None) -> SavedSession | None:
    """The saved session, or None when there is none or the file is unreadable."""
    target = path or session_path()
    try:
        data = json.loads(target.read_text())
        return SavedSession(
            url=str(data["url"]),
            token=str(data["token"]),
            account=str(data.get("account", "")),
            expiresAt=str(data.get("expiresAt", "")),
            user=str(data.get("user", "")),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save_session(session: SavedSession, path: Path | None = None) -> Path:
    """Write ``session`` (mode 0600, atomically) and return the path written."""
    target = path or session_path()
    if not target.parent.exists():
        target.parent.mkdir(mode=0o700, parents=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # also when the temp file existed with looser bits
        with os.fdopen(fd, "w") as f:
            json.dump(asdict(session), f, indent=2)
            f.write("\n")
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return target


def clear_session(path: Path | None = None) -> bool:
    """Remove the saved session; True if there was one."""
    try:
        (path or session_path()).unlink()
    except FileNotFoundError:
        return False
    return True
