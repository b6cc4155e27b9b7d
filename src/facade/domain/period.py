"""Billing periods: a half-open time window [start, end) in aware datetimes.

A period is what usage is metered over and what the ledger is queried by. Naive datetimes are
refused (a bill must not depend on the server's time zone); an end before or equal to the start
is refused. A ledger transaction belongs to a period when its `at` instant lies in [start, end).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from facade.domain.errors import Invalid


def check_instant(value: object, *, where: str) -> datetime:
    if not isinstance(value, datetime):
        raise Invalid(f"{value!r} is not a datetime", where=where)
    if value.tzinfo is None or value.utcoffset() is None:
        raise Invalid(f"{value.isoformat()} has no time zone; use an aware datetime (UTC)",
                      where=where)
    return value


@dataclass(frozen=True, slots=True)
class Period:
    """[start, end): start included, end excluded, so consecutive periods never overlap."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        check_instant(self.start, where="period.start")
        check_instant(self.end, where="period.end")
        if self.end <= self.start:
            raise Invalid(f"period ends ({self.end.isoformat()}) at or before it starts "
                          f"({self.start.isoformat()})", where="period.end")

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        """A calendar month in UTC."""
        if not 1 <= month <= 12:
            raise Invalid(f"month {month} is not 1..12", where="period.month")
        start = datetime(year, month, 1, tzinfo=UTC)
        end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
        return cls(start, end)

    @classmethod
    def days(cls, start: datetime, days: int) -> Period:
        return cls(start, start + timedelta(days=days))

    def __contains__(self, at: object) -> bool:
        return isinstance(at, datetime) and self.start <= at < self.end

    @property
    def seconds(self) -> int:
        return int((self.end - self.start).total_seconds())

    @property
    def id(self) -> str:
        """A stable text id, e.g. 2025-06-01T00:00:00+00:00/2025-07-01T00:00:00+00:00."""
        return f"{self.start.isoformat()}/{self.end.isoformat()}"

    def __str__(self) -> str:
        return self.id
