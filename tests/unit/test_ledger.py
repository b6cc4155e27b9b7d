"""domain.period, domain.ledger, domain.invoices: periods, double entry, balances, invoices."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from facade.domain.errors import Conflict, Invalid
from facade.domain.invoices import Kind, invoice, statement
from facade.domain.ledger import (
    CASH,
    Ledger,
    Line,
    Posting,
    Side,
    Transaction,
    payable,
    payment,
    payout,
    receivable,
    transfer,
)
from facade.domain.money import Money
from facade.domain.period import Period

pytestmark = pytest.mark.no_store  # tests/conftest.py

JUNE = Period.month(2025, 6)
JULY = Period.month(2025, 7)
T = datetime(2025, 6, 10, tzinfo=UTC)


def line(payer: str = "acme", payee: str = "seekr", amount: str = "10.00") -> Line:
    return Line("thing", Decimal(1), "unit", Money(amount), payer, payee)


# --- periods ------------------------------------------------------------------------------

def test_period_is_half_open_and_months_are_consecutive() -> None:
    assert JUNE.start == datetime(2025, 6, 1, tzinfo=UTC)
    assert JUNE.end == JULY.start
    assert JUNE.start in JUNE and JUNE.end not in JUNE and JUNE.end in JULY
    assert Period.month(2025, 12).end == datetime(2026, 1, 1, tzinfo=UTC)
    assert JUNE.seconds == 30 * 86400
    assert JUNE.id == "2025-06-01T00:00:00+00:00/2025-07-01T00:00:00+00:00"
    assert "2025-06-10" not in JUNE  # only datetimes are contained


def test_period_refuses_end_before_or_at_start_and_naive_times() -> None:
    with pytest.raises(Invalid, match="before"):
        Period(JUNE.end, JUNE.start)
    with pytest.raises(Invalid):
        Period(JUNE.start, JUNE.start)
    with pytest.raises(Invalid, match="time zone"):
        Period(datetime(2025, 6, 1), datetime(2025, 7, 1))
    with pytest.raises(Invalid):
        Period("2025-06-01", JUNE.end)  # type: ignore[arg-type]
    with pytest.raises(Invalid):
        Period.month(2025, 13)


def test_period_in_another_time_zone_is_the_same_instants() -> None:
    cest = timezone(timedelta(hours=2))
    p = Period(datetime(2025, 6, 1, 2, tzinfo=cest), datetime(2025, 7, 1, 2, tzinfo=cest))
    assert JUNE.start in p and JUNE.end not in p


# --- postings and transactions -------------------------------------------------------------

def test_posting_rules() -> None:
    Posting("receivable:acme", Side.DEBIT, Money("1.00"))
    Posting(CASH, Side.CREDIT, Money("0"))
    with pytest.raises(Invalid, match="negative"):
        Posting("cash", Side.DEBIT, Money("-1"))
    with pytest.raises(Invalid, match="cents"):
        Posting("cash", Side.DEBIT, Money("0.001"))
    for bad in ("bank", "receivable:", "payable:Acme", "receivable:a:b", ""):
        with pytest.raises(Invalid):
            Posting(bad, Side.DEBIT, Money(1))
    with pytest.raises(Invalid):
        Posting("cash", "debit", Money(1))  # type: ignore[arg-type]
    with pytest.raises(Invalid):
        Posting("cash", Side.DEBIT, Decimal(1))  # type: ignore[arg-type]
    assert Posting("cash", Side.CREDIT, Money(3)).signed == Money(-3)


def test_transaction_must_balance_exactly() -> None:
    ok = Transaction("t1", T, (Posting("cash", Side.DEBIT, Money("1.00")),
                               Posting("payable:seekr", Side.CREDIT, Money("0.60")),
                               Posting("payable:op", Side.CREDIT, Money("0.40"))))
    assert ok.amount == Money(1)
    with pytest.raises(Invalid, match="unbalanced"):
        Transaction("t2", T, (Posting("cash", Side.DEBIT, Money("1.00")),
                              Posting("payable:seekr", Side.CREDIT, Money("0.99"))))
    with pytest.raises(Invalid, match="two postings"):
        Transaction("t3", T, (Posting("cash", Side.DEBIT, Money(0)),))
    with pytest.raises(Invalid, match="currencies"):
        Transaction("t4", T, (Posting("cash", Side.DEBIT, Money(1)),
                              Posting("payable:a", Side.CREDIT, Money(1, "EUR"))))
    with pytest.raises(Invalid, match="time zone"):
        transfer("t5", datetime(2025, 6, 1), "acme", "seekr", Money(1))
    for bad_id in ("", "has space", "x" * 201):
        with pytest.raises(Invalid):
            transfer(bad_id, T, "acme", "seekr", Money(1))


def test_transfer_payment_payout_legs() -> None:
    t = transfer("t", T, "acme", "seekr", Money("5.00"), line())
    assert [(p.account, p.side) for p in t.postings] == [
        ("receivable:acme", Side.DEBIT), ("payable:seekr", Side.CREDIT)]
    assert [(p.account, p.side) for p in payment("p", T, "acme", Money(5)).postings] == [
        ("cash", Side.DEBIT), ("receivable:acme", Side.CREDIT)]
    assert [(p.account, p.side) for p in payout("o", T, "seekr", Money(5)).postings] == [
        ("payable:seekr", Side.DEBIT), ("cash", Side.CREDIT)]
    with pytest.raises(Invalid, match="itself"):
        transfer("t", T, "acme", "acme", Money(1))
    with pytest.raises(Invalid):
        transfer("t", T, "Not A Name", "acme", Money(1))


# --- the ledger ---------------------------------------------------------------------------

def test_ledger_refuses_unbalanced_duplicates_and_other_currency_atomically() -> None:
    ledger = Ledger()
    ledger.append(transfer("a", T, "acme", "seekr", Money("5.00"), line()))
    with pytest.raises(Conflict):
        ledger.append(transfer("a", T, "acme", "seekr", Money("5.00"), line()))
    # a transaction tampered with after construction is still refused
    good = transfer("b", T, "acme", "seekr", Money("1.00"))
    bad = dataclasses.replace(good, id="c")
    object.__setattr__(bad, "postings", good.postings[:1] + (
        Posting("payable:seekr", Side.CREDIT, Money("2.00")),))
    with pytest.raises(Invalid, match="unbalanced"):
        ledger.extend([good, bad])
    assert len(ledger) == 1  # nothing of the refused batch went in
    with pytest.raises(Conflict):
        ledger.extend([good, good])
    with pytest.raises(Invalid):
        ledger.append(transfer("e", T, "acme", "seekr", Money(1, "EUR")))
    with pytest.raises(Invalid):
        ledger.append("not a transaction")  # type: ignore[arg-type]
    assert len(ledger) == 1


def test_balances_per_account_and_period() -> None:
    ledger = Ledger([
        transfer("jun-1", T, "acme", "seekr", Money("10.00"), line()),
        transfer("jun-2", T, "seekr", "op", Money("4.00"), line("seekr", "op", "4.00")),
        transfer("jul-1", JULY.start, "acme", "seekr", Money("7.00"), line()),
        payment("pay-acme", JULY.start + timedelta(days=2), "acme", Money("10.00")),
        payout("out-seekr", JULY.start + timedelta(days=3), "seekr", Money("6.00")),
    ])
    assert ledger.balance(receivable("acme"), JUNE) == Money(10)
    assert ledger.balance(payable("seekr"), JUNE) == Money(-10)
    assert ledger.balance(receivable("acme"), JULY) == Money(-3)  # 7 billed, 10 paid
    assert ledger.balance(receivable("acme")) == Money(7)          # all time: 7 outstanding
    assert ledger.balance(CASH) == Money(4)
    assert ledger.position("seekr", JUNE) == Money(6)
    assert ledger.position("acme", JUNE) == Money(-10)
    assert ledger.position("op", JUNE) == Money(4)
    assert ledger.position("seekr", JULY) == Money(7)  # payouts settle, they do not earn
    assert ledger.accounts(JUNE) == ["payable:op", "payable:seekr", "receivable:acme",
                                     "receivable:seekr"]
    for p in (JUNE, JULY, None, Period(T, T + timedelta(seconds=1))):
        assert ledger.trial_balance(p) == Money(0)
    assert [tx.id for tx in ledger.transactions(JUNE)] == ["jun-1", "jun-2"]
    assert ledger.transactions(Period.month(2025, 8)) == []


def test_invoices_and_statements_are_derived_from_the_ledger() -> None:
    ledger = Ledger([
        transfer("a", T, "acme", "seekr", Money("10.00"),
                 Line("search: backend node-hours", Decimal(25), "node-hour", Money("0.40"),
                      "acme", "seekr")),
        transfer("b", T, "acme", "seekr", Money("0.03"),
                 Line("search: connections", Decimal(3), "connection", Money("0.01"),
                      "acme", "seekr")),
        transfer("c", T, "seekr", "op", Money("4.00"), line("seekr", "op", "4.00")),
        payment("p", T, "acme", Money("10.03")),
        transfer("d", JULY.start, "acme", "seekr", Money("1.00"), line()),
    ])
    inv = invoice(ledger, "acme", JUNE)
    assert inv.kind is Kind.INVOICE
    assert [(ln.description, ln.counterparty, ln.amount) for ln in inv.lines] == [
        ("search: backend node-hours", "seekr", Money("10.00")),
        ("search: connections", "seekr", Money("0.03"))]
    assert inv.total == Money("10.03") == ledger.debits(receivable("acme"), JUNE)
    st = statement(ledger, "seekr", JUNE)
    assert st.kind is Kind.STATEMENT and st.total == Money("10.03")
    assert [ln.counterparty for ln in st.lines] == ["acme", "acme"]
    assert invoice(ledger, "seekr", JUNE).total == Money(4)
    assert statement(ledger, "op", JUNE).total == Money(4)
    assert invoice(ledger, "op", JUNE).lines == ()
    assert invoice(ledger, "acme", JULY).total == Money(1)
    text = inv.render()
    assert "search: connections" in text and "TOTAL" in text and "10.03" in text
