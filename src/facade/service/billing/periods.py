"""Billing periods: the hours a period covers (hour indices since the epoch, as billing runs are
stored), the billed periods that overlap a period, and whether a period is made of whole billed
periods. Shared by price_lists.py (the hour a list is in force from), runs.py and statements.py.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from facade.domain.metering import from_ms, to_ms
from facade.domain.period import Period, parse_period
from facade.service import metering
from facade.store.models import (
    BillingRun,
)


def hour_of(at: dt.datetime) -> int:
    return to_ms(at) // metering.HOUR_MS


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def period_of(text: object) -> Period:
    period = parse_period(text, where="period")
    metering.hour_index(period.start, "period")
    metering.hour_index(period.end, "period")
    return period


def billed_periods(session: Session, period: Period) -> list[tuple[int, int]]:
    """The billed periods (hour indices) that overlap `period`, in order."""
    start, end = hour_of(period.start), hour_of(period.end)
    rows = session.execute(select(BillingRun.period_start, BillingRun.period_end).where(
        BillingRun.period_start < end, BillingRun.period_end > start).distinct())
    return sorted((int(a), int(b)) for a, b in rows)


def hours_period(start: int, end: int) -> Period:
    return Period(from_ms(start * metering.HOUR_MS), from_ms(end * metering.HOUR_MS))


def made_of_billed(period: Period, billed: list[tuple[int, int]]) -> bool:
    """True when the billed periods lie inside `period` and cover it without a gap."""
    at = hour_of(period.start)
    for start, end in billed:
        if start != at:
            return False
        at = end
    return at == hour_of(period.end)
