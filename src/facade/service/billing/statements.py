"""Invoices, statements and the operator's view of the ledger, derived from the stored ledger
(docs/billing.md). Called by api/routes/billing.py.

Rules: they are derived from the ledger for a period made of whole billed periods; for a period
that overlaps no billed period they are a draft computed from usage, not posted; a period only
partly billed is a Conflict naming the billed periods.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from facade.domain import invoices
from facade.domain.edge_billing import PUBLIC_IP, VPN, EdgeUse
from facade.domain.errors import Conflict, Forbidden
from facade.domain.ledger import Ledger
from facade.domain.metering import to_ms
from facade.domain.period import Period
from facade.domain.states import InvoiceStatus
from facade.readmodels.billing import (
    InvoiceDocRead,
    InvoiceLineRead,
    InvoiceRead,
    LedgerAccountRead,
    LedgerRead,
    LedgerRunRead,
    UnbilledChannelRead,
    UnbilledEdgeRead,
    UnbilledRead,
)
from facade.service import lookup
from facade.service.billing.books import amount, ledger
from facade.service.billing.charges import (
    EDGE_USAGE,
    USAGE,
    edge_usage_of,
    operator_of,
    price,
    price_edge,
    usage_of,
)
from facade.service.billing.periods import (
    billed_periods,
    hour_of,
    hours_period,
    made_of_billed,
    period_of,
    utc_now,
)
from facade.service.billing.price_lists import currency
from facade.service.context import Caller, Context
from facade.store.models import (
    BilledUsage,
    BillingRun,
    EdgeBilled,
)


def _doc(doc: invoices.Invoice) -> InvoiceDocRead:
    return InvoiceDocRead(total=amount(doc.total), lines=[
        InvoiceLineRead(transaction=ln.transaction_id, description=ln.description,
                        counterparty=ln.counterparty, quantity=str(ln.quantity), unit=ln.unit,
                        unit_price=str(ln.unit_price.amount), amount=amount(ln.amount))
        for ln in doc.lines])


def _draft(session: Session, period: Period) -> Ledger:
    """The ledger a first run of `period` would post now (nothing is stored); a public
    address still held counts its hours up to now."""
    operator = operator_of(session)
    txs = [tx for use in usage_of(session, period)
           for tx in price(session, period, use, operator, None, 1).transactions]
    now = min(to_ms(utc_now()), to_ms(period.end))
    txs += [tx for use, values in edge_usage_of(session, period, now)
            for tx in price_edge(session, period, use, values, operator, None, 1)]
    return Ledger(txs, currency=currency(session))


def invoice(ctx: Context, caller: Caller, name: str, period_text: object) -> InvoiceRead:
    """The account's invoice (what it owes) and statement (what it is owed) for a period: from
    the ledger when the period is made of billed periods, a draft from usage when none of it is
    billed; a period that is only partly billed is a Conflict naming the billed periods."""
    period = period_of(period_text)
    with ctx.read() as session:
        account = lookup.visible_account(session, caller, name)
        billed = billed_periods(session, period)
        if not billed:
            book, status = _draft(session, period), InvoiceStatus.DRAFT
        elif made_of_billed(period, billed):
            book, status = ledger(session, period), InvoiceStatus.BILLED
        else:
            shown = ", ".join(str(hours_period(*b)) for b in billed)
            raise Conflict(f"period {period} is only partly billed (billed: {shown}); ask for "
                           "billed periods whole, or for a period none of which is billed",
                           where="period")
        inv = invoices.invoice(book, account.name, period)
        stm = invoices.statement(book, account.name, period)
        return InvoiceRead(account=account.name, period=str(period), status=status,
                           currency=book.currency, invoice=_doc(inv), statement=_doc(stm),
                           position=amount(book.position(account.name, period)),
                           text="\n".join(d.render() for d in (inv, stm) if d.lines))


def ledger_view(ctx: Context, caller: Caller, period_text: object) -> LedgerRead:
    """The operator's view of the ledger for a period: every ledger account's debits, credits
    and balance, the trial balance (zero), the runs, and the usage not billed yet."""
    if not caller.operator:
        raise Forbidden("only the operator reads the ledger", where="period")
    period = period_of(period_text)
    with ctx.read() as session:
        book = ledger(session, period)
        billed = billed_periods(session, period)
        inside = [b for b in billed
                  if b[0] >= hour_of(period.start) and b[1] <= hour_of(period.end)]
        unbilled: list[UnbilledRead] = []
        unbilled_edge: list[UnbilledEdgeRead] = []
        unbilled_channels: list[UnbilledChannelRead] = []

        def late_edge(when: Period, use: EdgeUse, values: dict[str, int]) -> None:
            if use.kind == PUBLIC_IP:
                unbilled_edge.append(UnbilledEdgeRead.model_validate(
                    {"period": str(when), "address": use.subject, "account": use.account,
                     **values}))
            elif use.kind == VPN:
                unbilled_channels.append(UnbilledChannelRead(
                    period=str(when), channel=use.subject, account=use.account,
                    held_ms=values["held_ms"]))

        def late_usage(when: Period, appliance: str, values: dict[str, int]) -> UnbilledRead:
            return UnbilledRead.model_validate(
                {"period": str(when), "appliance": appliance, **values})

        if not billed:
            unbilled = [late_usage(period, u.appliance, u.values)
                        for u in usage_of(session, period)]
            for held, values in edge_usage_of(session, period, to_ms(utc_now())):
                late_edge(period, held, values)
        for start, end in inside:
            p = hours_period(start, end)
            done = {r.appliance_id: r for r in session.scalars(select(BilledUsage).where(
                BilledUsage.period_start == start, BilledUsage.period_end == end))}
            for u in usage_of(session, p):
                row = done.get(u.appliance_id)
                late = {k: u.values[k] - (getattr(row, k) if row else 0) for k in USAGE}
                if any(late.values()):
                    unbilled.append(late_usage(p, u.appliance, late))
            edge_done = {(r.kind, r.subject_id, r.metric): r.quantity
                         for r in session.scalars(select(EdgeBilled).where(
                             EdgeBilled.period_start == start, EdgeBilled.period_end == end))}
            for eu, values in edge_usage_of(session, p):
                late = {m: values[m] - edge_done.get((eu.kind, eu.subject_id, m), 0)
                        for m in EDGE_USAGE}
                if any(late.values()):
                    late_edge(p, eu, late)
        runs = session.scalars(select(BillingRun).where(
            BillingRun.period_start >= hour_of(period.start),
            BillingRun.period_end <= hour_of(period.end)).order_by(BillingRun.id))
        return LedgerRead(
            period=str(period), currency=book.currency,
            trial_balance=amount(book.trial_balance(period)),
            transactions=len(book.transactions(period)),
            runs=[LedgerRunRead(period=str(hours_period(r.period_start, r.period_end)),
                                run=r.seq, transactions=r.transactions,
                                at=r.at.astimezone(dt.UTC).isoformat() if r.at.tzinfo
                                else r.at.replace(tzinfo=dt.UTC).isoformat()) for r in runs],
            accounts=[LedgerAccountRead(account=a, debits=amount(book.debits(a, period)),
                                        credits=amount(book.credits(a, period)),
                                        balance=amount(book.balance(a, period)))
                      for a in book.accounts(period)],
            unbilled=unbilled, unbilled_public_ips=unbilled_edge,
            unbilled_channels=unbilled_channels)
