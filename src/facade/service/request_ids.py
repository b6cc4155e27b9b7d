"""Request ids: the `X-Request-ID` an API request came with (or one made for it), carried to
everything that request causes.

`current` holds the id of the request being served: the API sets it for the request
(api/observe.py), the threads a sync route runs in inherit it, and so do the log lines written
meanwhile (api/logs.py) and the events recorded (Context.event: the event's `request_id`).
The controller's work queue remembers it with the keys a request touched, and its worker sets
it again while it reconciles them: the events of the change the request asked for carry the
request's id (controller/queue.py). What the controller does on its own (the resync, a health
change, healing) has none.
"""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

from facade.domain.errors import Invalid

HEADER = "X-Request-ID"
MAX_LENGTH = 128
# letters, digits and the punctuation of UUIDs, trace ids and timestamps: nothing a log line,
# a header or a terminal could take for something else
_SAFE = re.compile(r"[A-Za-z0-9._:@+=/-]+")

current: ContextVar[str | None] = ContextVar("facade_request_id", default=None)


def check(value: str, where: str = HEADER) -> str:
    """An id a client sent, as it is; Invalid naming `where` (the header, or a filter) when it
    is empty, too long or has a character outside letters, digits and `. _ : @ + = / -`."""
    if not value:
        raise Invalid(f"{where} is empty", where=where)
    if len(value) > MAX_LENGTH:
        raise Invalid(f"{where} is longer than {MAX_LENGTH} characters", where=where)
    if _SAFE.fullmatch(value) is None:
        raise Invalid(f"{where} may hold only letters, digits and . _ : @ + = / -",
                      where=where)
    return value


def new() -> str:
    """An id for a request that came without one (32 hex digits)."""
    return uuid.uuid4().hex
