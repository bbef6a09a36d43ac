"""Identity tables (private to the identity service)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mgmt.core.db import Base
from mgmt.core.db.types import UtcDateTime


class AccountType(StrEnum):
    ADMIN = "SystemAdmin"
    NORMAL = "Normal"


class AccountRow(Base):
    __tablename__ = "account"

    uuid: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    type: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text, default="")
    password_hash: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class SessionRow(Base):
    __tablename__ = "session"

    uuid: Mapped[str] = mapped_column(String(36), primary_key=True)
    #: SHA-256 of the bearer token; the token itself is shown once, to the client.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account_uuid: Mapped[str] = mapped_column(String(36), index=True)
    user_uuid: Mapped[str | None] = mapped_column(String(36), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class UserRow(Base):
    __tablename__ = "iam_user"
    __table_args__ = (UniqueConstraint("account_uuid", "name"),)

    uuid: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_uuid: Mapped[str] = mapped_column(String(36), index=True)
    name: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(Text, default="")
    password_hash: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class GroupRow(Base):
    __tablename__ = "iam_group"
    __table_args__ = (UniqueConstraint("account_uuid", "name"),)

    uuid: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_uuid: Mapped[str] = mapped_column(String(36), index=True)
    name: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class GroupMemberRow(Base):
    __tablename__ = "iam_group_member"

    group_uuid: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_uuid: Mapped[str] = mapped_column(String(36), primary_key=True, index=True)


class PolicyRow(Base):
    __tablename__ = "iam_policy"

    uuid: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_uuid: Mapped[str] = mapped_column(String(36), index=True)
    name: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(Text, default="")
    #: JSON list of statements: {"effect": "Allow"|"Deny", "actions": [...], "resources": [...]}
    statements: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PolicyAttachmentRow(Base):
    __tablename__ = "iam_policy_attachment"

    policy_uuid: Mapped[str] = mapped_column(String(36), primary_key=True)
    #: a user's or a group's UUID
    principal_uuid: Mapped[str] = mapped_column(String(36), primary_key=True, index=True)


class AccessKeyRow(Base):
    """An access key. Its secret is not stored: it is derived from the deployment's secret
    key and the key id (HMAC), so a database dump yields no usable key."""

    __tablename__ = "iam_access_key"

    uuid: Mapped[str] = mapped_column(String(36), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(64), unique=True)
    account_uuid: Mapped[str] = mapped_column(String(36), index=True)
    user_uuid: Mapped[str | None] = mapped_column(String(36), nullable=True)
    state: Mapped[str] = mapped_column(String(16), default="Enabled")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class DeploymentSecretRow(Base):
    """Per-deployment secret key (used when ``ZCLOUD_SECRET_KEY`` is not set)."""

    __tablename__ = "deployment_secret"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
