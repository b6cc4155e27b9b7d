"""The double-entry ledger that holds every charge and payout, and answers balances per period.

The operator keeps one ledger for everyone (it is the clearing house of the network). Its
accounts are named, per party (a Facade account such as `acme`):

    receivable:<party>  what <party> has been billed and not yet paid   (debit balance)
    payable:<party>     what <party> is owed and has not yet been paid  (credit balance)
    cash                the operator's clearing bank account

A charge "payer owes payee X" is one `Transaction`: debit receivable:payer X, credit payable:payee X
(`transfer`). Collecting money is debit cash / credit receivable:payer (`payment`); paying a party
out is debit payable:payee / credit cash (`payout`). A party's net position over a period is
what it is owed minus what it is billed (`Ledger.position`).

Every transaction balances exactly (sum of debits == sum of credits) and carries only whole cents,
so every period, however it is cut, has a trial balance of exactly zero. A transaction carries the
instant `at` it is booked at (billing books usage at the start of its usage period) and, for a
charge, the `Line` an invoice shows. Transaction ids are unique in a ledger, which makes re-running
a bill for the same appliance and period a `Conflict` instead of a double charge.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from facade.domain.errors import Conflict, Invalid
from facade.domain.money import CURRENCY, Money
from facade.domain.names import check_name
from facade.domain.period import Period, check_instant

CASH = "cash"
_LEDGER_ACCOUNT = re.compile(r"cash|(receivable|payable):[a-z](?:[a-z0-9-]{0,38}[a-z0-9])?")
_TX_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9:/_.+@=>-]{0,199}")


def receivable(party: str) -> str:
    return f"receivable:{check_name(party, kind='account')}"


def payable(party: str) -> str:
    return f"payable:{check_name(party, kind='account')}"


class Side(StrEnum):
    DEBIT = "debit"
    CREDIT = "credit"


@dataclass(frozen=True, slots=True)
class Posting:
    """One leg of a transaction: a non-negative whole-cent amount debited or credited to an account."""

    account: str
    side: Side
    amount: Money

    def __post_init__(self) -> None:
        if not isinstance(self.account, str) or not _LEDGER_ACCOUNT.fullmatch(self.account):
            raise Invalid(f"ledger account {self.account!r} must be 'cash', 'receivable:<account>' "
                          "or 'payable:<account>'", where="posting.account")
        if not isinstance(self.side, Side):
            raise Invalid(f"side {self.side!r} must be debit or credit", where="posting.side")
        if not isinstance(self.amount, Money):
            raise Invalid(f"amount {self.amount!r} must be Money", where="posting.amount")
        if self.amount.is_negative:
            raise Invalid(f"amount {self.amount} is negative; swap debit and credit instead",
                          where="posting.amount")
        if not self.amount.is_cents:
            raise Invalid(f"amount {self.amount} is not whole cents; round once with "
                          "money.charge() before posting", where="posting.amount")

    @property
    def signed(self) -> Money:
        """Debit positive, credit negative."""
        return self.amount if self.side is Side.DEBIT else -self.amount


@dataclass(frozen=True, slots=True)
class Line:
    """What an invoice line shows for a charge: `quantity` `unit` at `unit_price` each.

    `quantity` is for display (node-hours are shown to 6 places); the amount posted was computed
    from the exact usage and rounded once, so quantity x unit_price may differ from it by < 1 cent.
    """

    description: str
    quantity: Decimal
    unit: str
    unit_price: Money
    payer: str
    payee: str


@dataclass(frozen=True, slots=True)
class Transaction:
    """A balanced set of postings booked at one instant."""

    id: str
    at: datetime
    postings: tuple[Posting, ...]
    line: Line | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not _TX_ID.fullmatch(self.id):
            raise Invalid(f"transaction id {self.id!r} must be 1-200 characters of letters, "
                          "digits and :/_.+@=>-", where="transaction.id")
        check_instant(self.at, where="transaction.at")
        object.__setattr__(self, "postings", tuple(self.postings))
        self.check()

    def check(self) -> None:
        """Raise Invalid unless the postings are real and debits equal credits exactly."""
        if len(self.postings) < 2:
            raise Invalid("a transaction needs at least two postings", where=self.id)
        for p in self.postings:
            if not isinstance(p, Posting):
                raise Invalid(f"{p!r} is not a Posting", where=self.id)
        currencies = {p.amount.currency for p in self.postings}
        if len(currencies) != 1:
            raise Invalid(f"postings mix currencies {sorted(currencies)}", where=self.id)
        total = sum((p.signed for p in self.postings), Money.zero(currencies.pop()))
        if total.amount != 0:
            raise Invalid(f"unbalanced: debits minus credits is {total}", where=self.id)

    @property
    def currency(self) -> str:
        return self.postings[0].amount.currency

    @property
    def amount(self) -> Money:
        """The sum of the debits (== sum of the credits)."""
        return sum((p.amount for p in self.postings if p.side is Side.DEBIT),
                   Money.zero(self.currency))


def transfer(id: str, at: datetime, payer: str, payee: str, amount: Money,
             line: Line | None = None) -> Transaction:
    """payer owes payee `amount`: debit receivable:payer, credit payable:payee."""
    if payer == payee:
        raise Invalid(f"{payer} cannot owe itself", where=id)
    return Transaction(id, at, (Posting(receivable(payer), Side.DEBIT, amount),
                                Posting(payable(payee), Side.CREDIT, amount)), line)


def payment(id: str, at: datetime, payer: str, amount: Money) -> Transaction:
    """payer pays the operator's clearing account: debit cash, credit receivable:payer."""
    return Transaction(id, at, (Posting(CASH, Side.DEBIT, amount),
                                Posting(receivable(payer), Side.CREDIT, amount)))


def payout(id: str, at: datetime, payee: str, amount: Money) -> Transaction:
    """the clearing account pays payee: debit payable:payee, credit cash."""
    return Transaction(id, at, (Posting(payable(payee), Side.DEBIT, amount),
                                Posting(CASH, Side.CREDIT, amount)))


class Ledger:
    """An append-only list of balanced transactions in one currency."""

    def __init__(self, transactions: Iterable[Transaction] = (), *,
                 currency: str = CURRENCY) -> None:
        self.currency = currency
        self._txs: list[Transaction] = []
        self._ids: set[str] = set()
        self.extend(transactions)

    def __len__(self) -> int:
        return len(self._txs)

    def __iter__(self) -> Iterator[Transaction]:
        return iter(self._txs)

    def _admit(self, tx: Transaction, seen: set[str]) -> None:
        if not isinstance(tx, Transaction):
            raise Invalid(f"{tx!r} is not a Transaction", where="ledger")
        tx.check()  # a transaction changed after construction is still refused
        if tx.currency != self.currency:
            raise Invalid(f"transaction in {tx.currency}, ledger in {self.currency}", where=tx.id)
        if tx.id in self._ids or tx.id in seen:
            raise Conflict(f"transaction {tx.id} is already in the ledger", where=tx.id)
        seen.add(tx.id)

    def append(self, tx: Transaction) -> None:
        self.extend((tx,))

    def extend(self, txs: Iterable[Transaction]) -> None:
        """Append all of `txs` or, if any is refused, none of them."""
        batch = list(txs)
        seen: set[str] = set()
        for tx in batch:
            self._admit(tx, seen)
        self._txs.extend(batch)
        self._ids |= seen

    def transactions(self, period: Period | None = None) -> list[Transaction]:
        return [tx for tx in self._txs if period is None or tx.at in period]

    def postings(self, account: str, period: Period | None = None
                 ) -> Iterator[tuple[Transaction, Posting]]:
        for tx in self.transactions(period):
            for p in tx.postings:
                if p.account == account:
                    yield tx, p

    def accounts(self, period: Period | None = None) -> list[str]:
        return sorted({p.account for tx in self.transactions(period) for p in tx.postings})

    def _sum(self, postings: Iterable[Posting]) -> Money:
        return sum((p.amount for p in postings), Money.zero(self.currency))

    def debits(self, account: str, period: Period | None = None) -> Money:
        return self._sum(p for _, p in self.postings(account, period) if p.side is Side.DEBIT)

    def credits(self, account: str, period: Period | None = None) -> Money:
        return self._sum(p for _, p in self.postings(account, period) if p.side is Side.CREDIT)

    def balance(self, account: str, period: Period | None = None) -> Money:
        """Debits minus credits of one ledger account (positive = debit balance)."""
        return self.debits(account, period) - self.credits(account, period)

    def trial_balance(self, period: Period | None = None) -> Money:
        """Sum of every posting, debits positive: exactly zero in a sound ledger."""
        return sum((p.signed for tx in self.transactions(period) for p in tx.postings),
                   Money.zero(self.currency))

    def position(self, party: str, period: Period | None = None) -> Money:
        """What `party` is owed minus what it is billed, from charges alone (payments and
        payouts settle positions, they do not change them)."""
        owed = self._sum(p for tx, p in self.postings(payable(party), period)
                         if p.side is Side.CREDIT and tx.line is not None)
        billed = self._sum(p for tx, p in self.postings(receivable(party), period)
                           if p.side is Side.DEBIT and tx.line is not None)
        return owed - billed
