"""The event log: what Facade did and why, newest last."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from facade.domain.errors import Invalid
from facade.service.context import Caller, Context
from facade.store.models import Event


def _utc(t: dt.datetime) -> dt.datetime:
    # SQLite keeps no time zone; every time Facade writes is UTC.
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def list_(ctx: Context, caller: Caller, limit: int = 50) -> list[dict[str, Any]]:
    if not 1 <= limit <= 1000:
        raise Invalid("limit must be 1-1000", where="limit")
    with ctx.read() as session:
        rows = session.scalars(select(Event).order_by(Event.id.desc()).limit(limit)).all()
        # Events are an operator's view for now; tenants see events naming their objects
        # once objects carry owners in the log (see docs/operations.md).
        if not caller.operator:
            return []
        return [{"time": _utc(r.time).isoformat(timespec="milliseconds"), "kind": r.kind, "object": r.object,
                 "message": r.message} for r in reversed(rows)]
