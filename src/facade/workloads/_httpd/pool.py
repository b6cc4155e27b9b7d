"""The worker threads that answer connections with a complete request head.

Started on demand, at most `max_workers` (plus RESERVED_WORKERS for urgent work), each ending
after WORKER_IDLE seconds without work; when the last one ends, a burst is over and the heap's
free memory goes back to the system (process.give_back).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

from facade.workloads._httpd.limits import RESERVED_WORKERS, WORKER_IDLE
from facade.workloads._httpd.process import give_back, log
from facade.workloads._httpd.request import Conn


class WorkerPool:
    """A queue of connections and the threads that take them, one at a time, to `work`."""

    def __init__(self, work: Callable[[Conn], None], max_workers: int) -> None:
        self.max_workers = max_workers
        self._work = work
        self._jobs: deque[Conn] = deque()
        self._cv = threading.Condition(threading.Lock())
        self._workers = self._idle = 0
        self._closed = False

    def submit(self, conn: Conn, *, urgent: bool) -> None:
        """Queue a connection for a worker, starting one if none is idle and there is room.

        Urgent work (the control plane's requests, the workload's internal ones) goes first in
        the queue and may use RESERVED_WORKERS more threads, so that it never waits behind
        customers' requests that wait in turn (on a slow upstream, on peers)."""
        limit = self.max_workers + (RESERVED_WORKERS if urgent else 0)
        with self._cv:
            if urgent:
                self._jobs.appendleft(conn)
            else:
                self._jobs.append(conn)
            if len(self._jobs) > self._idle and self._workers < limit:
                try:
                    threading.Thread(target=self._worker, name="httpd-worker",
                                     daemon=True).start()
                    self._workers += 1
                    return
                except RuntimeError as exc:  # no thread to be had: a running worker takes it
                    log(f"worker thread: {exc}")
            self._cv.notify()

    def close(self) -> None:
        """Let idle workers end now rather than after WORKER_IDLE."""
        with self._cv:
            self._closed = True
            self._cv.notify_all()

    def _worker(self) -> None:
        while True:
            with self._cv:
                if not self._jobs and not self._closed:
                    self._idle += 1
                    self._cv.wait(WORKER_IDLE)
                    self._idle -= 1
                if not self._jobs:  # no work for a while (or another worker took it): end
                    self._workers -= 1
                    last = self._workers == 0
                    break
                conn = self._jobs.popleft()
            self._work(conn)
        if last:
            give_back()  # a burst is over: give back what it left free
