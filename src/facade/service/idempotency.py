"""The store's side of idempotent requests (api/idempotency.py holds the HTTP side): a POST
with an `Idempotency-Key` takes the key before it runs, and leaves its answer there when it
succeeded, for a retry to get again instead of doing the work twice.

A key belongs to the token that sent it, for a day (TTL); the same key with another request
(method, path, query or body) is a conflict, and so is a retry while the first is still
running, unless that one was abandoned (a crash) more than IN_PROGRESS_FOR ago: then the retry
takes the key over. A request that failed gives its key back: nothing was done, so a retry may
run it again.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import delete, select

from facade.domain.errors import Conflict, Invalid
from facade.service.context import Context
from facade.store.models import IdempotentRequest

HEADER = "Idempotency-Key"
KEY = re.compile(r"^[\x21-\x7e]{1,255}$")  # printable ASCII, no spaces
TTL = dt.timedelta(hours=24)
IN_PROGRESS_FOR = dt.timedelta(minutes=2)


@dataclass(frozen=True)
class Replay:
    status: int
    answer: str
    location: str | None


def check_key(key: str) -> str:
    if not KEY.fullmatch(key):
        raise Invalid(f"{HEADER} must be 1-255 printable ASCII characters without spaces",
                      where=HEADER)
    return key


def begin(ctx: Context, scope: str, key: str, fingerprint: str) -> Replay | None:
    """Take `key` for this request (None: go on and run it), or the answer the request that
    took it first gave (a Replay). Conflict for the same key with another request, or while
    the first still runs."""
    now = dt.datetime.now(dt.UTC)
    with ctx.write(track=False) as session:
        session.execute(delete(IdempotentRequest).where(IdempotentRequest.created_at < now - TTL))
        row = session.scalar(select(IdempotentRequest).where(
            IdempotentRequest.scope == scope, IdempotentRequest.key == key))
        if row is None:
            session.add(IdempotentRequest(scope=scope, key=key, fingerprint=fingerprint,
                                          created_at=now))
            return None
        if row.fingerprint != fingerprint:
            raise Conflict(f"this {HEADER} was used for another request (method, path, query "
                           "or body); a new request needs a new key", where=HEADER)
        if row.status is None:
            started = row.created_at if row.created_at.tzinfo else \
                row.created_at.replace(tzinfo=dt.UTC)
            if now - started < IN_PROGRESS_FOR:
                raise Conflict(f"the request with this {HEADER} is still running; retry once "
                               "it answered", where=HEADER)
            row.created_at = now  # abandoned: this one takes it over
            return None
        return Replay(row.status, row.answer or "", row.location)


def finish(ctx: Context, scope: str, key: str, status: int, answer: str,
           location: str | None) -> None:
    """Keep a success's answer for the retries; give the key back after a failure."""
    with ctx.write(track=False) as session:
        row = session.scalar(select(IdempotentRequest).where(
            IdempotentRequest.scope == scope, IdempotentRequest.key == key))
        if row is None:
            return
        if 200 <= status < 300:
            row.status, row.answer, row.location = status, answer, location
        else:
            session.delete(row)
