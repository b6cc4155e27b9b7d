"""The stored ledger: a run's transactions written to the database (LedgerTransaction,
LedgerPosting) and read back as a domain Ledger, every row checked again on the way in; and the
plain text of an amount for JSON. Used by runs.py and statements.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from facade.domain.ledger import Ledger, Line, Posting, Side, Transaction
from facade.domain.metering import from_ms, to_ms
from facade.domain.money import Money
from facade.domain.period import Period
from facade.service.billing.price_lists import currency
from facade.store.models import (
    BillingRun,
    LedgerPosting,
    LedgerTransaction,
)


def amount(money: Money) -> str:
    """A whole-cent amount as plain text with two decimals ("1234.50"), for JSON."""
    return f"{money.amount:.2f}"


def store(session: Session, run: BillingRun, txs: Iterable[Transaction]) -> int:
    n = 0
    for tx in txs:
        ln = tx.line
        session.add(LedgerTransaction(
            id=tx.id, run_id=run.id, seq=n, at_ms=to_ms(tx.at), currency=tx.currency,
            description=ln.description if ln else None,
            quantity=str(ln.quantity) if ln else None, unit=ln.unit if ln else None,
            unit_price=str(ln.unit_price.amount) if ln else None,
            payer=ln.payer if ln else None, payee=ln.payee if ln else None,
            postings=[LedgerPosting(seq=i, account=p.account, side=p.side.value,
                                    amount=str(p.amount.amount), currency=p.amount.currency)
                      for i, p in enumerate(tx.postings)]))
        n += 1
    return n


def _transaction(row: LedgerTransaction) -> Transaction:
    line = None
    if row.description is not None:
        line = Line(row.description, Decimal(row.quantity or "0"), row.unit or "",
                    Money(row.unit_price or "0", row.currency), row.payer or "", row.payee or "")
    return Transaction(row.id, from_ms(row.at_ms),
                       tuple(Posting(p.account, Side(p.side), Money(p.amount, p.currency))
                             for p in row.postings), line)


def ledger(session: Session, period: Period | None = None) -> Ledger:
    """The stored ledger (or the transactions booked in `period`), rebuilt as a domain Ledger:
    every row is checked again (balanced, whole cents) on the way in."""
    q = select(LedgerTransaction).order_by(LedgerTransaction.at_ms, LedgerTransaction.run_id,
                                           LedgerTransaction.seq)
    if period is not None:
        q = q.where(LedgerTransaction.at_ms >= to_ms(period.start),
                    LedgerTransaction.at_ms < to_ms(period.end))
    return Ledger((_transaction(r) for r in session.scalars(q)), currency=currency(session))
