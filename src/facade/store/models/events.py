"""The event log: what happened, to which object, caused by which request, shown to whom."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    DateTime,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from facade.store.models.base import NEVER_REUSE, Base, utcnow


class Event(Base):
    __tablename__ = "events"
    __table_args__ = NEVER_REUSE
    id: Mapped[int] = mapped_column(primary_key=True)
    time: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    kind: Mapped[str] = mapped_column(String(40))
    object: Mapped[str] = mapped_column(String(120))
    message: Mapped[str] = mapped_column(Text)
    # the X-Request-ID of the API request that caused it; None for the controller's own
    request_id: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    # the account whose object it is about (service/events.py): it is shown to that account
    # (and an appliance's to its provider). No foreign key: the log outlives an account, and
    # account ids are never reused. None: recorded before 0022, or by the controller about a
    # kernel object, matched by name instead.
    account_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
