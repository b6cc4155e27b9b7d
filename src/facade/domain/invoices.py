"""Invoices and statements, derived from the ledger and nothing else.

- `invoice(ledger, party, period)`: what `party` owes for the period: one line per charge that
  debits receivable:<party>. Its total equals `ledger.debits(receivable(party), period)` minus
  nothing else (payments are not lines; they only settle the balance).
- `statement(ledger, party, period)`: what `party` is owed for the period (its earnings and
  shares): one line per charge that credits payable:<party>. Its total equals
  `ledger.credits(payable(party), period)` minus the payouts' credits (payouts are not lines).

A line's amount is the posted (rounded-once) amount; the total is the exact sum of the lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from facade.domain.ledger import Ledger, Side, payable, receivable
from facade.domain.money import Money
from facade.domain.period import Period


class Kind(StrEnum):
    INVOICE = "invoice"      # what the party owes
    STATEMENT = "statement"  # what the party is owed


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    transaction_id: str
    description: str
    counterparty: str  # who is paid (invoice) or who pays (statement)
    quantity: Decimal
    unit: str
    unit_price: Money
    amount: Money


@dataclass(frozen=True, slots=True)
class Invoice:
    party: str
    period: Period
    kind: Kind
    currency: str
    lines: tuple[InvoiceLine, ...]

    @property
    def total(self) -> Money:
        return sum((line.amount for line in self.lines), Money.zero(self.currency))

    def render(self) -> str:
        """A plain-text rendering (CLI, docs)."""
        head = "INVOICE (owes)" if self.kind is Kind.INVOICE else "STATEMENT (is owed)"
        who = "to" if self.kind is Kind.INVOICE else "from"
        out = [f"{head} {self.party}  period {self.period.start:%Y-%m-%d} .. "
               f"{self.period.end:%Y-%m-%d} (end excluded)"]
        rows = [(ln.description, f"{who} {ln.counterparty}", f"{ln.quantity:,}", ln.unit,
                 f"{ln.unit_price.amount}", ln.amount.cents_str()) for ln in self.lines]
        header = ("description", "party", "quantity", "unit", "unit price", "amount")
        total = ("TOTAL", "", "", "", self.currency, self.total.cents_str())
        widths = [max(len(r[i]) for r in [header, *rows, total]) for i in range(6)]
        for r in [header, *rows, tuple("-" * w for w in widths), total]:
            out.append("  " + "  ".join(c.ljust(w) if i in (0, 1, 3) else c.rjust(w)
                                        for i, (c, w) in enumerate(zip(r, widths, strict=True)))
                       .rstrip())
        return "\n".join(out)


def _derive(ledger: Ledger, party: str, period: Period, kind: Kind) -> Invoice:
    account, side = ((receivable(party), Side.DEBIT) if kind is Kind.INVOICE
                     else (payable(party), Side.CREDIT))
    lines = []
    for tx, p in ledger.postings(account, period):
        if p.side is not side or tx.line is None:
            continue
        ln = tx.line
        lines.append(InvoiceLine(tx.id, ln.description,
                                 ln.payee if kind is Kind.INVOICE else ln.payer,
                                 ln.quantity, ln.unit, ln.unit_price, p.amount))
    return Invoice(party, period, kind, ledger.currency, tuple(lines))


def invoice(ledger: Ledger, party: str, period: Period) -> Invoice:
    """What `party` owes for charges booked in `period`."""
    return _derive(ledger, party, period, Kind.INVOICE)


def statement(ledger: Ledger, party: str, period: Period) -> Invoice:
    """What `party` is owed for charges booked in `period`."""
    return _derive(ledger, party, period, Kind.STATEMENT)
