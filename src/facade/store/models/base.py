"""What every table shares: the declarative base, the clock of its timestamps, and ids that are
never handed out twice."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import DeclarativeBase


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    pass


# Ids name kernel objects (namespaces, links, pid files): never hand one out twice, or a new
# object could meet the leftovers of a deleted one under the same name.
NEVER_REUSE = {"sqlite_autoincrement": True}
