"""Exact money: a Decimal amount with a currency, never a float.

Rules:
- A `Money` is built only from `str`, `int` or `Decimal` (or another `Money`); a float, a bool,
  NaN or infinity is refused with `Invalid`, because a float cannot hold 0.10 exactly.
- Arithmetic between amounts is exact: it runs in a wide decimal context that traps any rounding,
  so a sum can never silently lose a cent. Mixing currencies is refused.
- Unit prices may carry more digits than a cent (a per-GB price of 0.0123456). Rounding to the
  cent happens in exactly one place, `charge()`, with ROUND_HALF_EVEN (banker's rounding), once
  per posted charge; the ledger accepts only cent amounts, so both legs of a posting carry the same
  rounded amount and a period can never be unbalanced by rounding.
"""

from __future__ import annotations

import decimal
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal
from fractions import Fraction

from facade.domain.errors import Invalid

CURRENCY = "USD"
CENT = Decimal("0.01")
_CURRENCY = re.compile(r"[A-Z]{3}")

# Wide enough for any amount Facade can meet (usage and prices are bounded in prices.py / billing.py);
# Inexact/Rounded are trapped so that exceeding it raises instead of rounding.
EXACT = Context(prec=80, rounding=ROUND_HALF_EVEN,
                traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow,
                       decimal.Inexact, decimal.Rounded])
_DISPLAY = Context(prec=80, rounding=ROUND_HALF_EVEN)


def to_decimal(value: object, *, where: str = "amount") -> Decimal:
    """A finite Decimal from a str, int or Decimal; floats, bools and anything else are Invalid."""
    if isinstance(value, bool) or isinstance(value, float):
        raise Invalid(f"{value!r} is a {type(value).__name__}; write money as a string like '0.10'",
                      where=where)
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except decimal.InvalidOperation as exc:
            raise Invalid(f"{value!r} is not a decimal number", where=where) from exc
    else:
        raise Invalid(f"{value!r} is not a decimal number (str, int or Decimal)", where=where)
    if not number.is_finite():
        raise Invalid(f"{value!r} is not a finite number", where=where)
    return number


def check_currency(code: object, *, where: str = "currency") -> str:
    if not isinstance(code, str) or not _CURRENCY.fullmatch(code):
        raise Invalid(f"currency {code!r} must be three capital letters like 'USD'", where=where)
    return code


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount in one currency. `Money("1.50") == Money("1.5")`."""

    amount: Decimal
    currency: str = CURRENCY

    def __init__(self, amount: object, currency: str = CURRENCY) -> None:
        if isinstance(amount, Money):
            if amount.currency != currency:
                raise Invalid(f"{amount} is not in {currency}", where="currency")
            amount = amount.amount
        object.__setattr__(self, "amount", to_decimal(amount))
        object.__setattr__(self, "currency", check_currency(currency))

    @classmethod
    def zero(cls, currency: str = CURRENCY) -> Money:
        return cls(0, currency)

    # --- exact arithmetic -----------------------------------------------------------------
    def _same(self, other: Money) -> None:
        if self.currency != other.currency:
            raise Invalid(f"cannot mix {self.currency} and {other.currency}", where="currency")

    def __add__(self, other: object) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return Money(EXACT.add(self.amount, other.amount), self.currency)

    def __sub__(self, other: object) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return Money(EXACT.subtract(self.amount, other.amount), self.currency)

    def __neg__(self) -> Money:
        return Money(EXACT.minus(self.amount), self.currency)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return self.amount <= other.amount

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return self.amount > other.amount

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return self.amount >= other.amount

    # --- cents ------------------------------------------------------------------------------
    @property
    def is_cents(self) -> bool:
        """True when the amount is a whole number of cents (what the ledger accepts)."""
        return (Fraction(self.amount) * 100).denominator == 1

    @property
    def is_negative(self) -> bool:
        return self.amount < 0

    def cents_str(self) -> str:
        """The amount with exactly two decimals (for display; the amount must be cents)."""
        return f"{_DISPLAY.quantize(self.amount, CENT):,}"

    def __str__(self) -> str:
        return f"{self.currency} {self.amount}"


def exact_fraction(money: Money) -> Fraction:
    """The amount as an exact Fraction (Decimal -> Fraction is exact)."""
    return Fraction(money.amount)


def round_cents(value: Fraction) -> Decimal:
    """Round an exact value to the cent, half to even. `round(Fraction, 2)` is exact half-even."""
    rounded = round(value, 2)
    return EXACT.quantize(EXACT.divide(Decimal(rounded.numerator), Decimal(rounded.denominator)),
                          CENT)


def charge(unit_price: Money, quantity: Fraction | int) -> Money:
    """unit price x quantity, computed exactly and rounded to the cent ONCE (ROUND_HALF_EVEN).

    This is the only place Facade rounds money. `quantity` is exact (a Fraction for node-hours
    = seconds / 3600 or GB = bytes / 10^9), so nothing is rounded before this step.
    """
    if isinstance(quantity, bool) or not isinstance(quantity, int | Fraction):
        raise Invalid(f"quantity {quantity!r} must be an int or a Fraction", where="quantity")
    if quantity < 0:
        raise Invalid(f"quantity {quantity} is negative", where="quantity")
    if unit_price.is_negative:
        raise Invalid(f"unit price {unit_price} is negative", where="unit_price")
    return Money(round_cents(exact_fraction(unit_price) * quantity), unit_price.currency)
