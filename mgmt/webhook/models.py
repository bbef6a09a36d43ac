"""Web-hook subscriptions (private to the web-hook service)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mgmt.core.db import Base
from mgmt.core.db.types import UtcDateTime


class WebHookRow(Base):
    __tablename__ = "web_hook"

    uuid: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_uuid: Mapped[str] = mapped_column(String(36), index=True)
    name: Mapped[str] = mapped_column(String(255))
    url: Mapped[str] = mapped_column(Text)
    #: glob over event paths, e.g. ``resource/Zone/*`` or ``resource/*/deleted``
    events: Mapped[str] = mapped_column(String(255))
    #: made by an admin: it gets every account's events
    all_accounts: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
