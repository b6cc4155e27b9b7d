"""Hosts (docs/multi-host.md) and their agents' tokens."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    DateTime,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from facade.domain.states import HostState
from facade.store.models.base import NEVER_REUSE, Base, utcnow


class Host(Base):
    """A machine that holds nodes (docs/multi-host.md): the local host (`local`, no underlay
    address: the control plane's own machine, made by migration 0023 or at start) or another,
    reached at its underlay address. A removed host keeps its row in state `removed`."""

    __tablename__ = "hosts"
    __table_args__ = NEVER_REUSE
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    address: Mapped[str | None] = mapped_column(String(15), nullable=True)
    state: Mapped[str] = mapped_column(String(16), default=HostState.READY)
    capacity: Mapped[int] = mapped_column(Integer)  # nodes
    simulated: Mapped[bool] = mapped_column(Boolean, default=False)
    # its agent's last heartbeat; None: never (the local host has no agent: the control plane
    # is on it)
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True),
                                                             nullable=True)
    # the agent that registered last (the id it chose at its start): another one is refused
    # while this one's heartbeat is fresh (migration 0024)
    agent_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class HostToken(Base):
    """A host agent's token (docs/multi-host.md): for one host name, whether its row exists
    yet or not (a machine's agent makes it when it registers). Its digest only; a revoked
    token keeps its row, `revoked_at` set."""

    __tablename__ = "host_tokens"
    __table_args__ = NEVER_REUSE
    id: Mapped[int] = mapped_column(primary_key=True)
    host: Mapped[str] = mapped_column(String(40), index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True),
                                                           nullable=True)
