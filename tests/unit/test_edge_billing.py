"""The edge's hours and charges, pure (domain/edge_billing.py): a holding's time in a period at
its boundaries, allocate and release within one period, a remap (nothing of the hours moves),
and the operator's charges for an address's hours and gateway bytes, and for a channel's hours
(the service through the API: tests/service/test_edge_metering.py,
tests/service/test_channel_hours.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from facade.domain.edge_billing import PUBLIC_IP, VPN, EdgeUse, charges, held_ms, kind_of
from facade.domain.errors import Invalid
from facade.domain.ledger import Ledger
from facade.domain.money import Money
from facade.domain.prices import EdgePrices, edge_prices, plain

pytestmark = pytest.mark.no_store  # tests/conftest.py

H = 3_600_000
P0, P1 = 100 * H, 200 * H  # a period of 100 hours
AT = datetime(2026, 11, 1, tzinfo=UTC)
PRICES = EdgePrices(Money("0.005"), Money("0.09"))


@pytest.mark.parametrize(("start", "end", "now", "expected"), [
    (P0 + H, P0 + 3 * H, None, 2 * H),  # allocated and released inside the period
    (P0 - 5 * H, P0 + H, None, H),  # allocated before, released inside: from the start
    (P1 - H, P1 + 7 * H, None, H),  # released after the end: up to the end
    (P0 - H, P1 + H, None, P1 - P0),  # held all along
    (P0 - 2 * H, P0, None, 0),  # released at the very start: half-open, nothing inside
    (P1, P1 + H, None, 0),  # allocated at the very end: nothing inside
    (P0 + H, None, None, P1 - P0 - H),  # still held, the period is over: up to its end
    (P0 + H, None, P0 + 90 * 60_000, 30 * 60_000),  # still held, a draft: up to now
    (P0 + H, None, P0, 0),  # now before it was allocated: nothing, never negative
    (P0 + 1, P0 + 2, None, 1),  # one millisecond
])
def test_a_holdings_time_in_a_period(start: int, end: int | None, now: int | None,
                                     expected: int) -> None:
    assert held_ms(start, end, P0, P1, now) == expected


@given(st.integers(0, 300 * H), st.integers(0, 300 * H), st.integers(1, 299 * H))
def test_two_periods_that_meet_share_nothing_and_miss_nothing(a: int, b: int, cut: int) -> None:
    start, end = min(a, b), max(a, b)
    assert held_ms(start, end, 0, cut) + held_ms(start, end, cut, 300 * H) == end - start


def test_a_remap_moves_no_hour_the_address_is_held_once() -> None:
    # a remap changes what the address is associated with, not its holding: one interval
    assert held_ms(P0 + H, P0 + 5 * H, P0, P1) == 4 * H


def _use(**over: object) -> EdgeUse:
    fields: dict[str, object] = {"kind": PUBLIC_IP, "subject_id": 12, "subject": "203.0.113.9",
                                 "account": "acme", "detail": "customer", "held_ms": 720 * H,
                                 "bytes_in": 2 * 10**9, "bytes_out": 10**9}
    fields.update(over)
    return EdgeUse(**fields)  # type: ignore[arg-type]


def test_hours_and_gigabytes_are_charged_to_the_holder_payable_to_the_operator() -> None:
    txs = charges(_use(), PRICES, "op", AT, "bill:public-ip-12:1-2:1:")
    lines = [(t.line.description, t.line.quantity, t.line.unit, t.line.payer, t.line.payee)
             for t in txs if t.line is not None]
    assert lines == [
        ("public IP 203.0.113.9: address-hours", Decimal(720), "address-hour", "acme", "op"),
        ("public IP 203.0.113.9: data through the public gateway (in + out)", Decimal(3), "GB",
         "acme", "op")]
    assert [t.postings[0].amount for t in txs] == [Money("3.60"), Money("0.27")]
    assert [t.id for t in txs] == ["bill:public-ip-12:1-2:1:hours:acme>op",
                                   "bill:public-ip-12:1-2:1:data:acme>op"]
    book = Ledger(txs)
    assert book.trial_balance() == Money(0)
    assert book.position("acme") == Money("-3.87") and book.position("op") == Money("3.87")


def test_a_standard_address_is_charged_like_a_customer_one_and_named_so() -> None:
    (hours, _) = charges(_use(detail="standard"), PRICES, "op", AT, "x:")
    assert hours.line is not None
    assert hours.line.description == "public IP 203.0.113.9 (standard): address-hours"
    assert hours.postings[0].amount == Money("3.60")


def test_seconds_are_cut_lines_without_quantity_left_out_free_lines_kept() -> None:
    # 1.9 s held: 1 whole second; no bytes: no data line
    (hours,) = charges(_use(held_ms=1_900, bytes_in=0, bytes_out=0), PRICES, "op", AT, "x:")
    assert hours.line is not None and hours.line.quantity == Decimal("0.000278")
    assert hours.postings[0].amount == Money("0.00")
    assert charges(_use(held_ms=999, bytes_in=0, bytes_out=0), PRICES, "op", AT, "x:") == []
    free = charges(_use(), EdgePrices(), "op", AT, "x:")  # no edge prices set: free lines
    assert [t.postings[0].amount for t in free] == [Money(0), Money(0)] and len(free) == 2
    # a run's adjustment: the seconds the caller cut from the running totals, and its note
    (late,) = charges(_use(held_ms=0, bytes_in=0, bytes_out=5 * 10**8), PRICES, "op", AT,
                      "x:", seconds=0, note=" (late usage, run 2)")
    assert late.line is not None and late.line.description.endswith("(late usage, run 2)")
    assert late.postings[0].amount == Money("0.04")  # 0.5 GB x 0.09 = 0.045, half-even


def test_the_operators_own_addresses_are_charged_to_no_one() -> None:
    assert charges(_use(account="op"), PRICES, "op", AT, "x:") == []


def test_bad_usage_and_prices_are_refused_naming_the_field() -> None:
    with pytest.raises(Invalid) as exc:
        _use(bytes_in=-1)
    assert exc.value.where == "usage.bytes_in"
    with pytest.raises(Invalid) as exc:
        _use(kind="tunnel")
    assert exc.value.where == "kind"
    with pytest.raises(Invalid) as exc:
        edge_prices({"public_ip_hour": "-0.005"})
    assert exc.value.where == "prices.public_ip_hour"
    with pytest.raises(Invalid) as exc:
        edge_prices({"gateway_per_gb": 0.09})
    assert exc.value.where == "prices.gateway_per_gb"
    with pytest.raises(Invalid) as exc:
        edge_prices({"per_ip": "1"})
    assert exc.value.where == "prices"
    assert edge_prices(None) == EdgePrices()


# --- channel hours (a VPN: held from its creation to its deletion, hours only) ---------------


CHANNEL_PRICES = EdgePrices(Money("0.005"), Money("0.09"), channel_hour=Money("0.05"))


def _channel(**over: object) -> EdgeUse:
    return _use(**{"kind": VPN, "subject_id": 7, "subject": "link", "detail": "",
                   "held_ms": 252 * H, "bytes_in": 0, "bytes_out": 0, **over})


@pytest.mark.parametrize(("created", "deleted", "expected"), [
    (P0 + 10 * H, P0 + 62 * H + H // 2, 52 * H + H // 2),  # made and deleted inside
    (P0 - H, None, P1 - P0),  # made before, still there: the whole period
    (P0 + H, P0 + H, 0),  # deleted as it was made
    (P1 - 1, P1 + H, 1),  # made a millisecond before the end
])
def test_a_channels_hours_in_a_period(created: int, deleted: int | None,
                                      expected: int) -> None:
    assert held_ms(created, deleted, P0, P1) == expected


def test_channel_hours_are_charged_to_its_owner_at_the_channel_price() -> None:
    (hours,) = charges(_channel(), CHANNEL_PRICES, "op", AT, "bill:vpn-7:1-2:1:")
    assert hours.line is not None
    assert (hours.line.description, hours.line.quantity, hours.line.unit,
            hours.line.unit_price, hours.line.payer, hours.line.payee) == (
        "VPN channel link: channel-hours", Decimal(252), "channel-hour", Money("0.05"),
        "acme", "op")
    assert hours.postings[0].amount == Money("12.60")  # 252 x 0.05
    assert hours.id == "bill:vpn-7:1-2:1:hours:acme>op"
    # the address price is not the channel's: a channel at 0.005 would be 1.26
    assert Ledger([hours]).position("acme") == Money("-12.60")
    # 90 min and 1.9 s: 5401 whole seconds, 1.500278 h shown; 5401/3600 x 0.05 = 0.0750139,
    # to the cent 0.08
    (odd,) = charges(_channel(held_ms=5_401_900), CHANNEL_PRICES, "op", AT, "x:")
    assert odd.line is not None and odd.line.quantity == Decimal("1.500278")
    assert odd.postings[0].amount == Money("0.08")


def test_a_channel_has_no_data_line_not_even_a_free_one() -> None:
    assert [t.line.unit for t in charges(_channel(), EdgePrices(), "op", AT, "x:")
            if t.line is not None] == ["channel-hour"]  # free, kept, and alone
    # bytes never reach a channel's usage; if they did they would not be billed
    (only,) = charges(_channel(bytes_in=10**9), CHANNEL_PRICES, "op", AT, "x:")
    assert only.line is not None and only.line.unit == "channel-hour"
    assert charges(_channel(held_ms=999), CHANNEL_PRICES, "op", AT, "x:") == []
    assert charges(_channel(account="op"), CHANNEL_PRICES, "op", AT, "x:") == []
    assert kind_of(VPN).traffic is None and kind_of(PUBLIC_IP).traffic is not None


def test_the_channel_price_is_checked_and_in_the_plain_form() -> None:
    got = edge_prices({"channel_hour": "0.05"})
    assert got.channel_hour == Money("0.05") and got.public_ip_hour == Money(0)
    assert plain(got) == {"currency": "USD", "public_ip_hour": "0", "gateway_per_gb": "0",
                          "channel_hour": "0.05"}
    for bad in ("-0.05", "0.12345678901", "a lot", 0.05):
        with pytest.raises(Invalid) as exc:
            edge_prices({"channel_hour": bad})
        assert exc.value.where == "prices.channel_hour"
    with pytest.raises(Invalid) as exc:
        EdgePrices(channel_hour=Money("1", "EUR"))
    assert exc.value.where == "edge.channel_hour"
