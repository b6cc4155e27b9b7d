"""Billing runs: bill a period that has ended, posting its transactions to the stored ledger
(docs/billing.md, "Billing runs"). Called by api/routes/billing.py (operator only).

Rules: the first run of a period posts every appliance's usage, every public address's
(hours held, bytes through its gateway) and every private channel's (hours held): the
operator's charges to its holder; a later run of the same period
posts only usage recorded into it since (late usage, e.g. when metering was stopped across the
period's end) as adjustment transactions; when there is none it posts nothing. A period must
equal a billed period or overlap none (no hour is billed by two periods).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from facade.domain.edge_billing import PUBLIC_IP, VPN, EdgeUse
from facade.domain.errors import Conflict, Forbidden
from facade.domain.ledger import Ledger, Transaction
from facade.readmodels.billing import BillingRunRead, BillingSkip
from facade.service.billing.books import amount, ledger, store
from facade.service.billing.charges import (
    EDGE_USAGE,
    USAGE,
    AppUsage,
    Priced,
    edge_usage_of,
    operator_of,
    price,
    price_edge,
    usage_of,
)
from facade.service.billing.periods import billed_periods, hour_of, hours_period, period_of, utc_now
from facade.service.billing.price_lists import currency
from facade.service.context import Caller, Context
from facade.store.models import (
    BilledUsage,
    BillingRun,
    EdgeBilled,
)


def run(ctx: Context, caller: Caller, period_text: object,
        now: dt.datetime | None = None) -> BillingRunRead:
    """Bill a period that has ended (operator only); see the module docstring."""
    if not caller.operator:
        raise Forbidden("only the operator runs billing", where="period")
    period = period_of(period_text)
    now = now or utc_now()
    if now < period.end:
        raise Conflict(f"period {period} has not ended yet (it ends {period.end.isoformat()}); "
                       "bill it once it is over", where="period")
    start, end = hour_of(period.start), hour_of(period.end)
    with ctx.write() as session:
        for b in billed_periods(session, period):
            if b != (start, end):
                raise Conflict(f"period {period} overlaps the billed period "
                               f"{hours_period(*b)}; bill exactly that period or one that "
                               "does not overlap it", where="period")
        seq = 1 + max(session.scalars(select(BillingRun.seq).where(
            BillingRun.period_start == start, BillingRun.period_end == end)), default=0)
        operator = operator_of(session)
        billed = {r.appliance_id: r for r in session.scalars(select(BilledUsage).where(
            BilledUsage.period_start == start, BilledUsage.period_end == end))}
        priced: list[tuple[AppUsage, Priced]] = []
        for use in usage_of(session, period):
            row = billed.get(use.appliance_id)
            done = {k: getattr(row, k) for k in USAGE} if row is not None else None
            if done == use.values:
                continue
            priced.append((use, price(session, period, use, operator, done, seq)))
        # the edge: each public address's hours and gateway bytes, each channel's hours, owed
        # to the operator
        edge_done = {(r.kind, r.subject_id, r.metric): r for r in session.scalars(
            select(EdgeBilled).where(EdgeBilled.period_start == start,
                                     EdgeBilled.period_end == end))}
        edge_priced: list[tuple[EdgeUse, dict[str, int], list[Transaction]]] = []
        for edge_use, values in edge_usage_of(session, period):
            done_edge = {m: r.quantity for m in EDGE_USAGE
                         if (r := edge_done.get((edge_use.kind, edge_use.subject_id, m)))}
            if all(values[m] == done_edge.get(m, 0) for m in EDGE_USAGE):
                continue
            edge_priced.append((edge_use, values, price_edge(
                session, period, edge_use, values, operator,
                {m: done_edge.get(m, 0) for m in EDGE_USAGE} if done_edge else None, seq)))
        txs = [tx for _, p in priced for tx in p.transactions] + \
            [tx for _, _, e in edge_priced for tx in e]
        Ledger(txs, currency=currency(session))  # all balanced, one currency, ids unique
        posted = 0
        if seq == 1 or txs:
            run_row = BillingRun(period_start=start, period_end=end, seq=seq)
            session.add(run_row)
            session.flush()
            posted = run_row.transactions = store(session, run_row, txs)
            ctx.event(session, "billing.run", str(period),
                      f"billing run {seq} of {period}: {posted} transactions posted")
        # what is billed now, even usage too small to charge (less than a node-second): the
        # next run charges from here (node time is cut into seconds from the running total)
        for use, p in priced:
            if p.skipped is not None:
                continue
            row = billed.get(use.appliance_id)
            if row is None:
                row = BilledUsage(period_start=start, period_end=end,
                                  appliance_id=use.appliance_id, appliance=use.appliance)
                session.add(row)
            for k in USAGE:
                setattr(row, k, use.values[k])
        for edge_use, values, _ in edge_priced:
            for m in EDGE_USAGE:
                key = (edge_use.kind, edge_use.subject_id, m)
                billed_row = edge_done.get(key)
                if billed_row is None:
                    billed_row = edge_done[key] = EdgeBilled(
                        period_start=start, period_end=end, kind=edge_use.kind,
                        subject_id=edge_use.subject_id, metric=m, quantity=0)
                    session.add(billed_row)
                billed_row.quantity = values[m]
        book = ledger(session, period)
        return BillingRunRead(
            period=str(period), run=seq if posted or seq == 1 else None, posted=posted,
            appliances=sorted({p.appliance for _, p in priced
                               if p.skipped is None and p.transactions}),
            public_ips=sorted({u.subject for u, _, e in edge_priced
                               if e and u.kind == PUBLIC_IP}),
            channels=sorted({u.subject for u, _, e in edge_priced if e and u.kind == VPN}),
            skipped=[BillingSkip(appliance=p.appliance, reason=p.skipped)
                     for _, p in priced if p.skipped is not None],
            currency=book.currency, trial_balance=amount(book.trial_balance(period)))
