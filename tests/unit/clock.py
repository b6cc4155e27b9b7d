"""A clock the test moves by hand (`clock.t += 2.0`), for the engines and queues that take one."""

from __future__ import annotations


class Clock:
    def __init__(self, t: float = 100.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t
