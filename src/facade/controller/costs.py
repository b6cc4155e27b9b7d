"""What the controller spends its CPU on: thread CPU seconds and counts per activity.

Each activity (a kind of key reconciled, a batch of health checks, a management poll, a metering
round, the resync's listing) measures the CPU time of the thread that runs it
(`time.thread_time`, so waiting on the network or a lock costs nothing) and adds it here under
its name. The controller logs the totals with its periodic report ("in the last 60 s: node 12 in
0.08 s CPU, ..."), which is how an operator (and bench/scale.py) sees where an idle or busy control plane's
CPU goes without a profiler: a sampling profiler counts a thread blocked in a system call as
busy, this does not.

It also keeps how long the keys of the queue's front lane (changes, not the resync's looks)
waited for a worker, per kind: the report's second line ("queue waits in the last 60 s:
node 12, 3 ms on average, 40 ms at most; ...").

The interpreter's garbage collections are timed too (`Collections`, a `gc.callbacks` entry the
controller installs while it runs), by generation: a collection runs inside whatever allocated
last, so its CPU is also in that activity's, and the report's reader must not add it twice.

With FACADE_TRACE set, the controller logs every key it reconciles (how long it waited, how
long it took) and every action it carries out (how long it took) on the `facade.trace` logger:
where a slow change spent its time, key by key.
"""

from __future__ import annotations

import contextlib
import gc
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

GC = "garbage collection"  # the activities' prefix: "garbage collection (generation 2)"


class Costs:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cpu: dict[str, float] = {}
        self._count: Counter[str] = Counter()
        self._waits: dict[str, list[float]] = {}  # kind -> [count, total, longest]

    def add(self, activity: str, cpu: float, count: int = 1) -> None:
        with self._lock:
            self._cpu[activity] = self._cpu.get(activity, 0.0) + cpu
            self._count[activity] += count

    @contextmanager
    def measure(self, activity: str, count: int = 1) -> Iterator[None]:
        start = time.thread_time()
        try:
            yield
        finally:
            self.add(activity, time.thread_time() - start, count)

    def wrap(self, activity: str, fn: Callable[[T], R]) -> Callable[[T], R]:
        """`fn`, measured under `activity` on whichever thread runs it (a pool's)."""

        def measured(arg: T) -> R:
            with self.measure(activity):
                return fn(arg)

        return measured

    def waited(self, kind: str, seconds: float) -> None:
        with self._lock:
            w = self._waits.setdefault(kind, [0, 0.0, 0.0])
            w[0] += 1
            w[1] += seconds
            w[2] = max(w[2], seconds)

    def take_waits(self) -> list[tuple[str, int, float, float]]:
        """(kind, count, mean, longest wait) since the last take, the longest first."""
        with self._lock:
            waits, self._waits = self._waits, {}
        return sorted(((k, int(n), total / n, most) for k, (n, total, most) in waits.items()),
                      key=lambda t: -t[3])

    def take(self) -> list[tuple[str, int, float]]:
        """(activity, count, CPU seconds) since the last take, the costliest first."""
        with self._lock:
            cpu, count = self._cpu, self._count
            self._cpu, self._count = {}, Counter()
        return sorted(((a, count[a], cpu[a]) for a in count), key=lambda t: -t[2])


class Collections:
    """The interpreter's garbage collections, each timed on the thread that ran it
    (`time.thread_time`) and added to `costs` as "garbage collection (generation N)"."""

    def __init__(self, costs: Costs) -> None:
        self.costs = costs
        self._started: dict[int, float] = {}

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        ident = threading.get_ident()
        if phase == "start":
            self._started[ident] = time.thread_time()
        elif (started := self._started.pop(ident, None)) is not None:
            self.costs.add(f"{GC} (generation {info['generation']})",
                           time.thread_time() - started)

    def install(self) -> None:
        if self not in gc.callbacks:
            gc.callbacks.append(self)

    def remove(self) -> None:
        with contextlib.suppress(ValueError):
            gc.callbacks.remove(self)


def describe(costs: list[tuple[str, int, float]]) -> str:
    """"appliance 120 in 1.52 s CPU, health 400 in 0.31 s CPU, ..." (the report's words)."""
    return ", ".join(f"{a} {n} in {cpu:.2f} s CPU" for a, n, cpu in costs)


def describe_waits(waits: list[tuple[str, int, float, float]]) -> str:
    """"node 12, 3 ms on average, 40 ms at most; agent 2, ..." (the report's second line)."""
    return "; ".join(f"{k} {n}, {1000 * mean:.0f} ms on average, {1000 * most:.0f} ms at most"
                     for k, n, mean, most in waits)
