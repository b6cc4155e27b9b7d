"""Requests per token, bounded: a token bucket per account token, so that one flooding client
cannot starve the others (the API answers 429 with `Retry-After`, before the request did
anything). The operator's token is not limited: it is the one that repairs things.

Each token may send `burst` requests at once and `rate` a second after that
(`FACADE_RATE_LIMIT=RATE/BURST`, default 50/200: a client polling every 20 ms, a script
listing 200 objects one by one; `0/0` turns it off; RATE alone means a burst of one second). The buckets live in the control plane's memory: two control planes
on one database each count their own.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable

from facade.domain.errors import RateLimited

DEFAULT = "50/200"
MAX_BUCKETS = 100_000  # tokens remembered at most (full buckets are the first to go)


def from_env(value: str | None = None) -> RateLimits:
    """The limits `FACADE_RATE_LIMIT` asks for (RATE/BURST); a value that is not two numbers
    is refused at start, naming the variable."""
    raw = (value if value is not None else os.environ.get("FACADE_RATE_LIMIT", DEFAULT)).strip()
    rate_s, _, burst_s = raw.partition("/")
    try:
        rate, burst = float(rate_s), float(burst_s or rate_s)
    except ValueError:
        raise SystemExit(f"FACADE_RATE_LIMIT={raw!r}: expected RATE/BURST, two numbers "
                         "(requests a second, requests at once), such as 50/200") from None
    if rate < 0 or burst < 0 or (rate > 0) != (burst > 0):
        raise SystemExit(f"FACADE_RATE_LIMIT={raw!r}: RATE and BURST are both positive, or "
                         "both 0 (no limit)")
    return RateLimits(rate, burst)


class RateLimits:
    def __init__(self, rate: float, burst: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, key: str) -> None:
        """One request of `key`'s; RateLimited (with how long until the next may come) when
        its bucket is empty."""
        if self.rate <= 0:
            return
        now = self.clock()
        with self._lock:
            tokens, at = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                wait = (1.0 - tokens) / self.rate
                raise RateLimited(
                    f"too many requests from this token: at most {self.rate:g} a second "
                    f"after a burst of {self.burst:g}; retry in {wait:.2f} s",
                    retry_after=wait)
            self._buckets[key] = (tokens - 1.0, now)
            if len(self._buckets) > MAX_BUCKETS:
                self._forget_full(now)

    def _forget_full(self, now: float) -> None:
        """(Under the lock.) Drop the buckets that have filled up again: they hold nothing a
        new bucket would not."""
        for key, (tokens, at) in list(self._buckets.items()):
            if tokens + (now - at) * self.rate >= self.burst:
                del self._buckets[key]


def retry_after(seconds: float) -> str:
    """The `Retry-After` header's value: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))
