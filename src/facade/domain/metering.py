"""Metering arithmetic (pure): turn raw counter readings and clocks into exact usage increments.

The kernel's counters (a front-end's per-backend byte and connection counters) and a workload's
request count only ever grow, until the thing that holds them is made again (a front-end
namespace or its nftables table recreated, a workload restarted): then they start again at 0.
Every counter is read with an *epoch*, a token that changes exactly when the counter was made
again (the namespace's inode and the table's handle; the workload's boot id). The store keeps
the last (epoch, value) of every counter; the increment of a new reading is

- same epoch, value >= last: value - last;
- new epoch (or a smaller value, which can only mean a reset we could not see): value, i.e.
  everything the new counter counted since it was made.

The reading and the increment are committed in one transaction, so a control-plane crash
between two readings loses nothing (the kernel kept counting) and counts nothing twice (the
last value is stored with the increment it produced). What a counter counted between its last
reading and its destruction is lost; the worker reads a front-end's counters once more right
before it deletes it on purpose.

Usage is kept in hour buckets (UTC): a quantity is added to the hour in which it was read;
node time is split exactly at hour boundaries, in milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum


class Metric(StrEnum):
    NODE_MS = "node_ms"  # node time, milliseconds (role: the node's)
    BYTES_IN = "bytes_in"  # customer -> backend, through the endpoint (IP bytes)
    BYTES_OUT = "bytes_out"  # backend -> customer replies, through the endpoint
    CONNECTIONS = "connections"  # connections through the endpoint
    REQUESTS = "requests"  # requests the workload served (where it knows them)


COUNTER_METRICS = (Metric.BYTES_IN, Metric.BYTES_OUT, Metric.CONNECTIONS, Metric.REQUESTS)
HOUR = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Reading:
    epoch: str
    value: int


def increment(last: Reading | None, now: Reading) -> int:
    """What a counter counted since `last` (see the module docstring); never negative."""
    if now.value < 0:
        raise ValueError(f"counter value {now.value} is negative")
    if last is None or last.epoch != now.epoch or now.value < last.value:
        return now.value
    return now.value - last.value


def hour_of(at: datetime) -> datetime:
    """The start of the UTC hour holding `at` (aware datetimes only)."""
    if at.tzinfo is None:
        raise ValueError("naive datetime")
    at = at.astimezone(UTC)
    return at.replace(minute=0, second=0, microsecond=0)


def to_ms(at: datetime) -> int:
    """Milliseconds since the epoch, floored: node time is kept on this grid so that splitting
    an interval never creates or loses a millisecond."""
    delta = at.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000)


def from_ms(ms: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)


def split_hours(start_ms: int, end_ms: int) -> list[tuple[datetime, int]]:
    """[start, end) in milliseconds, cut at UTC hour boundaries: [(hour, ms)]; sums to end-start."""
    if end_ms < start_ms:
        raise ValueError(f"interval ends ({end_ms}) before it starts ({start_ms})")
    out: list[tuple[datetime, int]] = []
    hour_ms = 3_600_000
    t = start_ms
    while t < end_ms:
        boundary = (t // hour_ms + 1) * hour_ms
        stop = min(boundary, end_ms)
        out.append((from_ms(t - t % hour_ms), stop - t))
        t = stop
    return out
