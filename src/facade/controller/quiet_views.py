"""Views of the objects of a kind, read from the store many at once while it is quiet, and
served until the next write.

An object's look by the resync costs its store read beside its kernel look: a node's spec is
about eight queries (2-3 ms of CPU), an appliance's target as many; the resync looks at every
object, a few a second, whether anything changed or not. So while no write has changed the store
for QUIET seconds (Context.generation: every write that touches a row the controller keys on
moves it; metering's records and events do not), the views of the next CHUNK objects (by id,
from the one asked for: the order the resync walks them in) are read in one go and served until
the next such write. Never all of them at once: every node's view at 1,000 nodes was 0.36 s of
CPU in one piece, holding the interpreter while a creation's workers waited for it. A view read
before a write is never used after it: the generation is compared on every use, and a write's
keys reach the queue only after it moved. While writes keep coming (a build-up), nothing is read
at once: each look reads its own.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from sqlalchemy.orm import Session

from facade.service.context import Context

QUIET = 2.0  # seconds without a write before views are read many at once
CHUNK = 64  # views read at once: about 15 ms of CPU for nodes

V = TypeVar("V")


class QuietViews(Generic[V]):
    """Objects' views (`read_from(session, first_id, count)`: id -> view, the `count` objects of
    the lowest ids from `first_id` on), read CHUNK at a time once the store has been quiet for
    QUIET seconds, and served while it stays so."""

    def __init__(self, ctx: Context, read_from: Callable[[Session, int, int], dict[int, V]],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ctx, self.read_from, self.clock = ctx, read_from, clock
        self._lock = threading.Lock()
        self._building = False
        self._views: dict[int, V] = {}
        self._spans: list[tuple[int, float]] = []  # the ids read: [first, last] each
        self._generation = -1  # of the views
        self._seen = (-1, 0.0)  # the last generation seen, and since when

    def get(self, ident: int) -> V | None:
        """The object's view if it was read since the last write (None: read it yourself, or
        there is no such object)."""
        generation = self.ctx.generation
        with self._lock:
            if generation == self._generation \
                    and any(lo <= ident <= hi for lo, hi in self._spans):
                return self._views.get(ident)
            now = self.clock()
            if generation != self._seen[0]:
                self._seen = (generation, now)
            if now - self._seen[1] < QUIET or self._building:
                return None
            self._building = True
        try:
            with self.ctx.read() as session:
                views = self.read_from(session, ident, CHUNK)
        finally:
            with self._lock:
                self._building = False
        # a short chunk read to the end; a full one up to its last id
        last = max(views) if len(views) >= CHUNK else math.inf
        with self._lock:
            if generation != self._generation:
                self._views, self._spans, self._generation = {}, [], generation
            self._views.update(views)
            self._spans.append((ident, last))
        return views.get(ident) if self.ctx.generation == generation else None
