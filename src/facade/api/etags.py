"""`ETag` and `If-Match`: updates that do not overwrite a change the client has not seen.

A GET of an object that can be updated (a network, a subnet, an appliance, an account's quotas)
answers its version as `ETag`; an update (PATCH, PUT) sent with `If-Match: ETAG` is carried
out only if the object still has that version, else `412 precondition_failed` and nothing
changes. The version is a digest of the object as the API shows it, so any change counts (an
appliance's status too), except what a management agent last said of its nodes
(`management`: observed, never stored). The version is checked at the start of the update's
own write transaction, under the write lock: nothing can change the object in between.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Header, Response
from pydantic import BaseModel

from facade.domain.errors import PreconditionFailed
from facade.service.context import Context

# what a service answers: a read model (facade.readmodels), or the JSON-ready dictionary of an
# object that has none yet
View = BaseModel | dict[str, Any]
V = TypeVar("V", bound=View)

LIVE = frozenset({"management"})

IfMatch = Annotated[str | None, Header(alias="If-Match", max_length=1000, description=(
    "the ETag of the version this update was made against (from a GET); `*`: any"))]


def fields(view: View) -> dict[str, Any]:
    """A view's fields by name, as plain values."""
    return view.model_dump() if isinstance(view, BaseModel) else view


def etag(view: View) -> str:
    stable = {k: v for k, v in fields(view).items() if k not in LIVE}
    text = json.dumps(stable, sort_keys=True, default=str, separators=(",", ":"))
    return '"' + hashlib.sha256(text.encode()).hexdigest()[:24] + '"'


def tagged(response: Response, view: V) -> V:
    """`view`, with its version as `ETag`."""
    response.headers["ETag"] = etag(view)
    return view


def guarded(ctx: Context, if_match: str | None, read: Callable[[], View],
            write: Callable[[], V]) -> V:
    """`write()` if the object (`read()`) still has a version `if_match` names; 412 if not.
    The version is checked at the start of the update's write transaction, under the write
    lock (Context.expect), so nothing can change the object in between."""
    if if_match is None:
        return write()
    wanted = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}

    def check() -> None:
        current = etag(read())
        if "*" not in wanted and current not in wanted:
            raise PreconditionFailed(
                f"the object changed since the version If-Match names (it is {current} now): "
                "read it again and decide", where="If-Match")

    ctx.expect(check)
    try:
        return write()
    finally:
        ctx.expect(None)
