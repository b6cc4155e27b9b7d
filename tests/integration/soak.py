"""Soak mode of two kernel tests (issue 16): `make soak` sets FACADE_SOAK=1, and the isolation
property test and the SIGKILL convergence test run at scale instead of at CI's size.

Unset (`make test`, CI), nothing here changes what those tests run: their counts and seeds are
CI's, fixed. Set, a run draws a fresh seed (printed; FACADE_SOAK_SEED repeats it), and each of
the two tests stops at its count or at its time budget, whichever comes first, then fails
unless it reached its count. The targets (10,000 pairs, 100 kills, 35 + 20 minutes) can be
lowered for a short trial run with FACADE_SOAK_PAIRS, FACADE_SOAK_KILLS and
FACADE_SOAK_MINUTES (one budget for each test); docs/guarantees.md, "Soak", has the figures.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Soak:
    on: bool
    seed: int
    pairs: int  # isolation: (instance, address) pairs to check, over topologies of 3+ tenants
    kills: int  # crash: SIGKILLs of the control plane, each followed by convergence
    isolation_s: float  # time budget of the isolation property test
    crash_s: float  # time budget of the SIGKILL test


def _read(env: dict[str, str]) -> Soak:
    minutes = env.get("FACADE_SOAK_MINUTES")
    return Soak(
        on=env.get("FACADE_SOAK", "") not in ("", "0"),
        seed=int(env.get("FACADE_SOAK_SEED") or random.SystemRandom().randrange(2**32)),
        pairs=int(env.get("FACADE_SOAK_PAIRS") or 10_000),
        kills=int(env.get("FACADE_SOAK_KILLS") or 100),
        isolation_s=60 * float(minutes or 35),
        crash_s=60 * float(minutes or 20),
    )


SOAK = _read(dict(os.environ))


class Budget:
    """A loop's time budget, counted from start() or else from the first time it is asked (a
    module's budget starts with its first example, not when pytest imports the module)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._start: float | None = None

    def start(self) -> Budget:
        self._start = time.monotonic()
        return self

    def elapsed(self) -> float:
        if self._start is None:
            self._start = time.monotonic()
        return time.monotonic() - self._start

    def spent(self) -> bool:
        return self.elapsed() >= self.seconds
