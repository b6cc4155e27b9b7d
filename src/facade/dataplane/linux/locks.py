"""The linux driver's locks: node operations on different nodes run side by side.

Making a node spends most of its time waiting for the kernel (a network namespace, bwrap
starting, a cgroup migration), so the reconciler asks for several nodes at once
(`DataPlane.concurrency`). The driver lets them: an operation on one node holds that node's
lock and the fabric's lock *shared*; an operation on the fabric as a whole (a subnet's bridge,
the security rules, cleanup) holds the fabric's lock *exclusively*, so it never runs beside a
node operation.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class SharedLock:
    """Many holders in shared mode, or one in exclusive mode; an exclusive request waits for
    the shared holders to leave and keeps new ones out meanwhile. The exclusive holder may take
    it again (exclusive or shared): the driver's fabric operations call node helpers."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._shared = 0
        self._owner: int | None = None
        self._depth = 0
        self._waiting = 0

    @contextmanager
    def shared(self) -> Iterator[None]:
        me = threading.get_ident()
        with self._cond:
            if self._owner == me:
                self._depth += 1
            else:
                self._cond.wait_for(lambda: self._owner is None and not self._waiting)
                self._shared += 1
        try:
            yield
        finally:
            with self._cond:
                if self._owner == me:
                    self._depth -= 1
                else:
                    self._shared -= 1
                    self._cond.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        me = threading.get_ident()
        with self._cond:
            if self._owner == me:
                self._depth += 1
            else:
                self._waiting += 1
                self._cond.wait_for(lambda: self._owner is None and self._shared == 0)
                self._waiting -= 1
                self._owner, self._depth = me, 1
        try:
            yield
        finally:
            with self._cond:
                self._depth -= 1
                if self._depth == 0:
                    self._owner = None
                    self._cond.notify_all()


class NodeLocks:
    """One lock per node (network namespace name), made on first use and kept (dropping one
    while another thread waits for it could let two threads into one node)."""

    def __init__(self) -> None:
        self._locks: dict[str, threading.RLock] = {}
        self._guard = threading.Lock()

    @contextmanager
    def hold(self, netns: str) -> Iterator[None]:
        with self._guard:
            lock = self._locks.setdefault(netns, threading.RLock())
        with lock:
            yield
