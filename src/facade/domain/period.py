"""Billing periods: a half-open time window [start, end) in aware datetimes.

A period is what usage is metered over and what the ledger is queried by. Naive datetimes are
refused (a bill must not depend on the server's time zone); an end before or equal to the start
is refused. A ledger transaction belongs to a period when its `at` instant lies in [start, end).

`parse_period` reads the text form users type (API `?period=`, `facade bill --period`):
"2026-11" (a UTC month), "2026-11-28" (a UTC day) or "START/END" (two ISO 8601 instants with a
time zone, both on a whole UTC hour, because usage is kept per UTC hour).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from facade.domain.errors import Invalid

MAX_PERIOD_TEXT = 80
_MONTH = re.compile(r"(\d{4})-(\d{2})")
_DAY = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


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


def parse_period(text: object, *, where: str = "period") -> Period:
    """A period from "YYYY-MM" (UTC month), "YYYY-MM-DD" (UTC day) or "START/END" (ISO 8601
    instants with a time zone, each on a whole UTC hour). Anything else is Invalid at `where`."""
    shapes = ("write 2026-11 (a month), 2026-11-28 (a day) or START/END such as "
              "2026-11-01T00:00Z/2026-11-08T00:00Z")
    if not isinstance(text, str) or not text or len(text) > MAX_PERIOD_TEXT:
        raise Invalid(f"period {text!r} is not a period; {shapes}", where=where)
    try:
        if m := _MONTH.fullmatch(text):
            return Period.month(int(m[1]), int(m[2]))
        if m := _DAY.fullmatch(text):
            return Period.days(datetime(int(m[1]), int(m[2]), int(m[3]), tzinfo=UTC), 1)
        if text.count("/") == 1:
            start, end = (_instant(part, where) for part in text.split("/"))
            return Period(start, end)
    except Invalid as exc:  # Period's own checks name its fields; name the caller's
        raise Invalid(f"period {text!r}: {exc.message}", where=where) from None
    except (ValueError, OverflowError) as exc:
        raise Invalid(f"period {text!r} is not a real date ({exc}); {shapes}",
                      where=where) from None
    raise Invalid(f"period {text!r} is not a period; {shapes}", where=where)


def _instant(part: str, where: str) -> datetime:
    at = datetime.fromisoformat(part.strip().replace("z", "Z"))
    if at.tzinfo is None or at.utcoffset() is None:
        raise Invalid(f"{part!r} has no time zone; add Z or an offset like +00:00", where=where)
    at = at.astimezone(UTC)
    if at.minute or at.second or at.microsecond:
        raise Invalid(f"{part!r} is not on a whole UTC hour; usage is kept per UTC hour",
                      where=where)
    return at
