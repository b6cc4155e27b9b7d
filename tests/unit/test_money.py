"""domain.money: exact decimal money, floats refused, one half-even rounding per charge."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from facade.domain.errors import Invalid
from facade.domain.money import Money, charge, round_cents, to_decimal

pytestmark = pytest.mark.no_store  # tests/conftest.py

PROPS = settings(max_examples=200, deadline=None, derandomize=True)


@pytest.mark.parametrize("value", ["0.10", 10, Decimal("0.0123456"), " 3.5 ", "-2", "1e3"])
def test_built_from_str_int_decimal(value: object) -> None:
    assert Money(value).amount == Decimal(str(value).strip())


@pytest.mark.parametrize("value", [0.1, 1.0, True, None, "abc", "", "NaN", "Infinity", "-inf",
                                   Decimal("NaN"), [1], object()])
def test_floats_bools_and_non_numbers_are_invalid(value: object) -> None:
    with pytest.raises(Invalid):
        Money(value)
    with pytest.raises(Invalid):
        to_decimal(value)


def test_float_error_message_says_use_a_string() -> None:
    with pytest.raises(Invalid, match="string"):
        Money(0.1)


def test_currency_is_kept_and_never_mixed() -> None:
    assert Money("1").currency == "USD"
    eur = Money("1", "EUR")
    with pytest.raises(Invalid):
        _ = Money("1") + eur
    with pytest.raises(Invalid):
        _ = Money("1") < eur
    with pytest.raises(Invalid):
        Money("1", "usd")
    with pytest.raises(Invalid):
        Money(eur, "USD")


def test_arithmetic_is_exact_and_refuses_floats() -> None:
    assert Money("0.1") + Money("0.2") == Money("0.3")
    assert Money("1.50") == Money("1.5")
    assert -Money("2") == Money("-2")
    assert Money("5") - Money("7.25") == Money("-2.25")
    assert Money("1") < Money("2") <= Money("2") and Money("3") > Money("2") >= Money("2")
    with pytest.raises(TypeError):
        _ = Money("1") + 0.1  # type: ignore[operator,unused-ignore]
    with pytest.raises(TypeError):
        _ = Money("1") < 2  # type: ignore[operator,unused-ignore]
    huge = Money("9" * 40 + ".99")
    assert (huge + Money("0.01")).amount == Decimal("1" + "0" * 40)


def test_is_cents() -> None:
    assert Money("1.20").is_cents and Money("1.200000").is_cents and Money(7).is_cents
    assert not Money("1.201").is_cents
    assert Money("1234567.5").cents_str() == "1,234,567.50"


@pytest.mark.parametrize(("exact", "cents"), [
    (Fraction(1, 8), "0.12"),      # 0.125 -> even
    (Fraction(3, 8), "0.38"),      # 0.375 -> even
    (Fraction(5, 1000), "0.00"),   # 0.005 -> even (0)
    (Fraction(15, 1000), "0.02"),  # 0.015 -> even (2)
    (Fraction(1, 3), "0.33"),
    (Fraction(2, 3), "0.67"),
])
def test_round_cents_is_half_even(exact: Fraction, cents: str) -> None:
    assert round_cents(exact) == Decimal(cents)
    assert str(round_cents(exact)) == cents


def test_charge_rounds_exact_product_once() -> None:
    # 2000 GB at 0.0123456 = 24.6912 -> 24.69
    assert charge(Money("0.0123456"), 2000) == Money("24.69")
    # one node-second at 0.40 per hour: 0.000111.. -> 0.00; 3600 s -> 0.40
    assert charge(Money("0.40"), Fraction(1, 3600)) == Money("0")
    assert charge(Money("0.40"), Fraction(3600, 3600)) == Money("0.40")
    # no double rounding: 0.004999.. must not become 0.005 then 0.01
    assert charge(Money("0.0049999"), 1) == Money("0.00")


def test_charge_refuses_bad_input() -> None:
    with pytest.raises(Invalid):
        charge(Money("1"), -1)
    with pytest.raises(Invalid):
        charge(Money("-1"), 1)
    with pytest.raises(Invalid):
        charge(Money("1"), 1.5)  # type: ignore[arg-type]
    with pytest.raises(Invalid):
        charge(Money("1"), True)


@PROPS
@given(st.decimals(min_value=0, max_value=10**9, places=10, allow_nan=False),
       st.integers(min_value=0, max_value=10**18), st.integers(min_value=1, max_value=10**9))
def test_charge_is_within_half_a_cent_of_the_exact_value(price: Decimal, num: int, den: int) -> None:
    exact = Fraction(price) * Fraction(num, den)
    got = charge(Money(price), Fraction(num, den))
    assert got.is_cents and not got.is_negative
    assert abs(Fraction(got.amount) - exact) <= Fraction(1, 200)


@PROPS
@given(st.floats(allow_nan=True, allow_infinity=True))
def test_any_float_is_refused(value: float) -> None:
    with pytest.raises(Invalid):
        Money(value)
