"""The ``tag`` table: system and user tags of every resource, written by ``TagService``."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mgmt.core.db import Base, utcnow
from mgmt.core.db.types import UtcDateTime

TagKind = Literal["system", "user"]
SYSTEM: TagKind = "system"
USER: TagKind = "user"


class TagRow(Base):
    """One tag on one resource; the resource is named, not referenced (any table owns it)."""

    __tablename__ = "tag"
    __table_args__ = (
        UniqueConstraint("resource_uuid", "kind", "tag"),
        Index(None, "kind", "tag"),
    )

    uuid: Mapped[str] = mapped_column(String(36), primary_key=True)
    resource_uuid: Mapped[str] = mapped_column(String(64), index=True)
    resource_type: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(8))  # a TagKind
    tag: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    #: the account that tagged it through the API (reads show tags to their resource's owner)
    owner_account_uuid: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
