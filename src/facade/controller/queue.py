"""The work queue: keys in, one worker per key at a time, retries with backoff per key.

The pattern is controller-runtime's (client-go's workqueue): a key added while it waits is
added once; a key added while a worker holds it is marked dirty and handed out again when the
worker is done, never to two workers at once. A key whose reconcile failed comes back after its
own delay, doubling from RETRY_FIRST to RETRY_MAX per failure in a row, forgotten on success.

Two lanes: keys added by a write, an event or a retry are handed out before the resync's
(`add(..., background=True)`): the slow look at every object never makes a user's change wait
behind it. A background key added again in the front lane moves to the front.

Quick kinds: a front-lane key of a kind in QUICK (an appliance's: its rotation and readiness, a
few ms) also waits where `get(quick=True)` (the controller's quick worker) takes it: a rotation
change or an appliance's `ready` never waits for the node makes that hold every other worker.
The other workers take the front lane's keys in their order, these included.

Tickets: every `add` of keys gets the next number; `wait(ticket)` returns once every key added
with a number up to it has been handed out and finished since (a failed attempt counts: the
answer is the event it records, not its retries).

`waited(key)`: how long the key now held waited from its queueing to its handing out, and in
which lane (the controller reports the front lane's per kind: how long a change waits for a
worker).

Request ids: a key queued while an API request is served (service/request_ids.current, in the
thread of the request's write or of a worker reconciling for one) remembers the request's id;
`origin(key)` is the id the key held when it was handed out, which the worker sets while it
reconciles it, so that what the reconcile records, and the keys it queues in turn, carry it too.
A key touched by two requests before a worker took it carries the later one's; a key queued
without a request (the resync, a health change) keeps the id it had.

`depth_by_kind()`: keys waiting to be handed out and keys delayed (a retry's backoff, a
deferred or throttled key, one waiting for another), kept up to date as keys come and go so
that reading them costs nothing (the /metrics gauge).
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable

from facade.domain.keys import Key
from facade.service import request_ids

RETRY_FIRST = 0.05
RETRY_MAX = 30.0
QUICK = frozenset({"appliance"})  # kinds with a lane (and a worker) of their own


class WorkQueue:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._cond = threading.Condition()
        self._front: deque[Key] = deque()  # FIFO of keys to hand out first
        self._quick: deque[Key] = deque()  # FIFO of the front lane's keys of QUICK kinds
        self._back: deque[Key] = deque()  # FIFO of the resync's keys (stale entries skipped)
        self._queued: dict[Key, bool] = {}  # waiting -> in the background lane
        self._since: dict[Key, float] = {}  # waiting -> queued at
        self._waited: dict[Key, tuple[float, bool]] = {}  # held -> waited, in the background
        self._active: set[Key] = set()  # held by a worker
        self._dirty: set[Key] = set()  # added again while held
        self._later: list[tuple[float, int, Key]] = []  # (due, tie, key): delayed adds
        self._deferred: set[Key] = set()  # in _later through `defer`: added once
        self._released: dict[Key, float] = {}  # key -> when `throttle` last released it
        self._tie = itertools.count()
        self._failures: dict[Key, int] = {}
        self._seq = 0
        self._pending: dict[Key, int] = {}  # key -> the newest ticket not yet finished
        # key -> the oldest ticket not yet finished: what waiters compare with. A key whose run
        # had to come back later (Later) keeps its oldest ticket even when it is touched again
        # meanwhile (a bridge made by another key touches the nodes waiting for it)
        self._oldest: dict[Key, int] = {}
        self._taken: dict[Key, int] = {}  # key -> the ticket it had when handed out
        self._held: set[Key] = set()  # finished for now, but its waiters keep waiting
        self._origins: dict[Key, str] = {}  # queued -> the request id it was queued for
        self._taken_origins: dict[Key, str] = {}  # held -> the request id it was handed with
        self._waiting_kinds: Counter[str] = Counter()  # kind -> keys in _queued
        self._later_kinds: Counter[str] = Counter()  # kind -> entries in _later
        self._closed = False

    # -- adding ------------------------------------------------------------------------------
    def add(self, keys: Iterable[Key], *, background: bool = False) -> int:
        """Queue keys now; returns the ticket of this addition. `background`: behind every
        key of the front lane (the resync's)."""
        origin = request_ids.current.get()
        with self._cond:
            self._seq += 1
            for key in keys:
                if origin is not None:
                    self._origins[key] = origin
                self._pending[key] = self._seq
                self._oldest.setdefault(key, self._seq)
                self._push(key, background)
            self._cond.notify_all()
            return self._seq

    def add_after(self, key: Key, delay: float, *, keep_waiters: bool = False) -> None:
        """Queue a key after `delay` seconds. `keep_waiters`: it waits for something that is
        under way (a dependency), and whoever waits for the key keeps waiting; otherwise (a
        retry after a failure) its attempt counts as done for them."""
        origin = request_ids.current.get()
        with self._cond:
            if keep_waiters and key in self._active:
                self._held.add(key)
            if origin is not None:
                self._origins[key] = origin
            self._push_later(self.clock() + delay, key)
            self._cond.notify_all()

    def defer(self, key: Key, delay: float) -> None:
        """Queue a key in `delay` seconds, unless it is deferred already: the changes of the
        next `delay` seconds are reconciled together (a management agent's configuration,
        the fabric's rules: while hundreds of nodes go, once per period, not once per node)."""
        with self._cond:
            self._defer_until(key, self.clock() + delay)

    def throttle(self, key: Key, period: float) -> None:
        """Queue a key at once when `throttle` did not release it within the last `period`
        seconds, else at the end of that period with whatever else touches it meanwhile:
        one release a period at most, the first without delay (a management agent's
        configuration: at once for one new node, once a period while hundreds come or go)."""
        with self._cond:
            if key not in self._deferred:
                due = max(self.clock(), self._released.get(key, float("-inf")) + period)
                self._released[key] = due
                self._defer_until(key, due)

    def _defer_until(self, key: Key, due: float) -> None:
        """(Under the lock.) The key queued at `due`, unless it is deferred already."""
        origin = request_ids.current.get()
        if origin is not None:
            self._origins[key] = origin
        if key in self._deferred:
            return
        self._deferred.add(key)
        self._push_later(due, key)
        self._cond.notify_all()

    def _push_later(self, due: float, key: Key) -> None:
        heapq.heappush(self._later, (due, next(self._tie), key))
        self._later_kinds[key.kind] += 1

    def retry(self, key: Key) -> float:
        """Queue a key that failed again after its backoff; returns the delay."""
        with self._cond:
            n = self._failures.get(key, 0)
            self._failures[key] = n + 1
            delay = float(min(RETRY_MAX, RETRY_FIRST * (2 ** n)))
        self.add_after(key, delay)
        return delay

    def forget(self, key: Key) -> None:
        """The key's reconcile succeeded: its next failure starts a new backoff."""
        with self._cond:
            self._failures.pop(key, None)

    def failures(self, key: Key) -> int:
        with self._cond:
            return self._failures.get(key, 0)

    def _push(self, key: Key, background: bool = False) -> None:
        if key in self._active:
            self._dirty.add(key)
            return
        lane = self._queued.get(key)
        if lane is None:
            self._queued[key] = background
            self._waiting_kinds[key.kind] += 1
            self._since[key] = self.clock()
            (self._back if background else self._lane(key)).append(key)
        elif lane and not background:  # to the front; its entry behind is skipped
            self._queued[key] = False
            self._lane(key).append(key)

    def _lane(self, key: Key) -> deque[Key]:
        return self._quick if key.kind in QUICK else self._front

    def _next(self, quick: bool = False) -> Key | None:
        """The front lane's oldest key (of either of its deques), else the resync's next;
        `quick`: the oldest of QUICK kinds or none."""
        if quick:
            return self._quick.popleft() if self._quick else None
        if self._quick and (not self._front
                            or self._since[self._quick[0]] <= self._since[self._front[0]]):
            return self._quick.popleft()
        if self._front:
            return self._front.popleft()
        while self._back:
            key = self._back.popleft()
            if self._queued.get(key):  # else it moved to the front and went from there
                return key
        return None

    def _promote(self) -> None:
        now = self.clock()
        while self._later and self._later[0][0] <= now:
            _, _, key = heapq.heappop(self._later)
            self._later_kinds[key.kind] -= 1
            self._deferred.discard(key)
            self._push(key)

    # -- taking ------------------------------------------------------------------------------
    def get(self, timeout: float = 1.0, *, quick: bool = False) -> Key | None:
        """The next key to reconcile (held until `done`), or None on timeout or close.
        `quick`: only a front-lane key of a QUICK kind (the quick worker's)."""
        deadline = self.clock() + timeout
        with self._cond:
            while True:
                self._promote()
                if self._closed:
                    return None
                key = self._next(quick)
                if key is not None:
                    self._waited[key] = (self.clock() - self._since.pop(key),
                                         self._queued.pop(key))
                    self._waiting_kinds[key.kind] -= 1
                    origin = self._origins.pop(key, None)
                    if origin is not None:
                        self._taken_origins[key] = origin
                    self._active.add(key)
                    self._taken[key] = self._pending.get(key, 0)
                    return key
                now = self.clock()
                if now >= deadline:
                    return None
                wait = deadline - now
                if self._later:
                    wait = min(wait, self._later[0][0] - now)
                self._cond.wait(max(0.001, wait))

    def waited(self, key: Key) -> tuple[float, bool]:
        """Seconds the held key waited to be handed out, and whether in the background."""
        with self._cond:
            return self._waited.get(key, (0.0, False))

    def origin(self, key: Key) -> str | None:
        """The request id the held key was queued for (None: none, or the controller's own)."""
        with self._cond:
            return self._taken_origins.get(key)

    def done(self, key: Key) -> None:
        with self._cond:
            self._active.discard(key)
            self._waited.pop(key, None)
            self._taken_origins.pop(key, None)
            taken = self._taken.pop(key, 0)
            if key in self._held:
                self._held.discard(key)
            elif self._pending.get(key) == taken:
                del self._pending[key]
                self._oldest.pop(key, None)
            elif key in self._pending:  # touched again while it ran: the rest is still owed
                self._oldest[key] = taken + 1
            if key in self._dirty:
                self._dirty.discard(key)
                self._push(key)
            self._cond.notify_all()

    # -- waiting -----------------------------------------------------------------------------
    def wait(self, ticket: int, timeout: float) -> bool:
        deadline = self.clock() + timeout
        with self._cond:
            while any(seq <= ticket for seq in self._oldest.values()):
                left = deadline - self.clock()
                if left <= 0 or self._closed:
                    return False
                self._cond.wait(min(left, 0.5))
            return True

    def depth(self) -> int:
        with self._cond:
            return len(self._queued) + len(self._active) + len(self._later)

    def depth_by_kind(self) -> dict[tuple[str, str], int]:
        """(kind, "waiting" or "delayed") -> keys; a kind seen once stays, at 0 when none."""
        with self._cond:
            return {**{(kind, "waiting"): n for kind, n in self._waiting_kinds.items()},
                    **{(kind, "delayed"): n for kind, n in self._later_kinds.items()}}

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
