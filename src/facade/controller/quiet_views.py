"""Views of every object of a kind, read from the store at once while it is quiet, and served
until the next write.

An object's look by the resync costs its store read beside its kernel look: a node's spec is
about eight queries (2-3 ms of CPU), an appliance's target as many; the resync looks at every
object, a few a second, whether anything changed or not. So while no write has changed the store
for QUIET seconds (Context.generation: every write that touches a row the controller keys on
moves it; metering's records and events do not), the views of all objects of a kind are read in
one go and served until the next such write. A view read before a write is never used after it:
the generation is compared on every use, and a write's keys reach the queue only after it
moved. While writes keep coming (a build-up), nothing is read at once: each look reads its own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from sqlalchemy.orm import Session

from facade.service.context import Context

QUIET = 2.0  # seconds without a write before every view is read at once

V = TypeVar("V")


class QuietViews(Generic[V]):
    """Every object's view (`read_all`: id -> view), read at once once the store has been
    quiet for QUIET seconds, and served while it stays so."""

    def __init__(self, ctx: Context, read_all: Callable[[Session], dict[int, V]],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ctx, self.read_all, self.clock = ctx, read_all, clock
        self._lock = threading.Lock()
        self._building = False
        self._views: dict[int, V] = {}
        self._generation = -1  # of the views
        self._seen = (-1, 0.0)  # the last generation seen, and since when

    def get(self, ident: int) -> V | None:
        """The object's view if all were read since the last write (None: read it yourself,
        or there is no such object)."""
        generation = self.ctx.generation
        with self._lock:
            if generation == self._generation:
                return self._views.get(ident)
            now = self.clock()
            if generation != self._seen[0]:
                self._seen = (generation, now)
            if now - self._seen[1] < QUIET or self._building:
                return None
            self._building = True
        try:
            with self.ctx.read() as session:
                views = self.read_all(session)
        finally:
            with self._lock:
                self._building = False
        with self._lock:
            self._views, self._generation = views, generation
        return views.get(ident) if self.ctx.generation == generation else None
