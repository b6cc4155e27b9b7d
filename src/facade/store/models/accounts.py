"""Accounts and what hangs on an account alone: its tokens, its quotas, the requests it sent with
an Idempotency-Key."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from facade.store.models.base import NEVER_REUSE, Base, utcnow


class Account(Base):
    __tablename__ = "accounts"
    __table_args__ = NEVER_REUSE
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    operator: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Token(Base):
    __tablename__ = "tokens"
    __table_args__ = NEVER_REUSE
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    digest: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex, never the token
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    account: Mapped[Account] = relationship()


class Quota(Base):
    """An operator-set limit on how many of one resource (domain.quotas.RESOURCES) an account may
    hold. No row means the default of domain.quotas.DEFAULTS; the unique key is one limit per
    (account, resource)."""

    __tablename__ = "quotas"
    __table_args__ = (UniqueConstraint("account_id", "resource"), NEVER_REUSE)
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    resource: Mapped[str] = mapped_column(String(16))
    limit: Mapped[int] = mapped_column(Integer)


class IdempotentRequest(Base):
    """A POST sent with an `Idempotency-Key` (api/idempotency.py): the request's fingerprint
    and, once it succeeded, its answer, replayed to a retry with the same key for a day.
    `status` None: the first request is still running."""

    __tablename__ = "idempotent_requests"
    __table_args__ = (UniqueConstraint("scope", "key"), NEVER_REUSE)
    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(64))  # sha256 hex of the token that sent it
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))  # sha256 of method, path, query, body
    status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    answer: Mapped[str | None] = mapped_column(Text, nullable=True)
    location: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
