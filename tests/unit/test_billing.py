"""domain.prices and domain.billing: price sheets, usage, the two billing models, and the
properties that hold for any usage and prices (balance, same customer total, no negatives)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from facade.domain.billing import MAX_COUNT, Model, Parties, Usage, charges, parse_model
from facade.domain.errors import Conflict, Invalid
from facade.domain.invoices import invoice, statement
from facade.domain.ledger import Ledger, Line, Side, Transaction, payable, receivable
from facade.domain.money import Money
from facade.domain.period import Period
from facade.domain.prices import (
    FrontEndPrices,
    InstancePrices,
    PriceSheet,
    Role,
    ServicePrices,
    parse_role,
)

pytestmark = pytest.mark.no_store  # tests/conftest.py

PROPS = settings(max_examples=200, deadline=None, derandomize=True)
JUNE = Period.days(datetime(2025, 6, 1, tzinfo=UTC), 30)
HOUR = 3600
SEPARATE = Parties(customer="acme", provider="seekr", frontend_provider="lbco", operator="op")
SAME_FE = Parties(customer="acme", provider="seekr", frontend_provider="seekr", operator="op")

SHEET: dict[str, Any] = {
    "service": {"node_hour": {"frontend": "0.10", "backend": "0.40"}, "per_gb": "0.0123456",
                "per_connection": "0.00002", "per_1000_requests": "0.001"},
    "instances": {"node_hour": {"frontend": "0.05", "backend": "0.20"}},
    "frontend": {"node_hour": "0.08"},
}
PRICES = PriceSheet.parse(SHEET)


def usage(parties: Parties = SEPARATE, **kw: int) -> Usage:
    base = dict(frontend_node_seconds=720 * HOUR, backend_node_seconds=3 * 720 * HOUR,
                bytes_in=10**12, bytes_out=10**12, connections=10**6, requests=0)
    base.update(kw)
    return Usage("search", JUNE, parties, **base)


def ln(tx: Transaction) -> Line:
    assert tx.line is not None
    return tx.line


def flows(txs: list[Any]) -> Counter[tuple[str, str]]:
    c: Counter[tuple[str, str]] = Counter()
    for tx in txs:
        c[(ln(tx).payer, ln(tx).payee)] += 1
    return c


def total(txs: list[Any], payer: str, payee: str | None = None) -> Money:
    return sum((tx.amount for tx in txs if ln(tx).payer == payer
                and (payee is None or ln(tx).payee == payee)), Money.zero())


def positions(txs: list[Any], parties: Parties) -> dict[str, Money]:
    ledger = Ledger(txs)
    names = {parties.customer, parties.provider, parties.frontend_provider, parties.operator}
    return {n: ledger.position(n) for n in names}


# --- prices --------------------------------------------------------------------------------

def test_price_sheet_parses_and_looks_up_roles() -> None:
    assert PRICES.service.node_hour("backend") == Money("0.40")
    assert PRICES.service.node_hour(Role.FRONTEND) == Money("0.10")
    assert PRICES.instances.node_hour("frontend") == Money("0.05")
    assert PRICES.frontend.node_hour == Money("0.08")
    assert PRICES.service.per_gb == Money("0.0123456")
    assert PRICES.currency == "USD"
    without = {**SHEET, "service": {k: v for k, v in SHEET["service"].items()
                                    if k != "per_1000_requests"}}
    assert PriceSheet.parse(without).service.per_1000_requests == Money(0)


@pytest.mark.parametrize(("path", "value", "match"), [
    (("service", "per_gb"), "-0.01", "negative"),
    (("service", "per_gb"), 0.01, "float"),
    (("service", "per_connection"), "abc", "decimal"),
    (("service", "per_connection"), "1e9", "below"),
    (("service", "per_connection"), "0.00000000001", "decimal places"),
    (("service", "node_hour"), {"frontend": "1", "backend": "1", "gpu": "1"}, "unknown role"),
    (("service", "node_hour"), {"frontend": "1"}, "missing price"),
    (("service", "node_hour"), ["1"], "mapping"),
    (("instances", "node_hour"), {"frontend": "-1", "backend": "1"}, "negative"),
    (("frontend", "node_hour"), "NaN", "finite"),
    (("frontend", "extra"), "1", "unknown key"),
    (("currency",), "usd", "three capital"),
])
def test_price_sheet_refuses_bad_fields(path: tuple[str, ...], value: object, match: str) -> None:
    data: dict[str, Any] = {k: dict(v) for k, v in SHEET.items()}
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(Invalid, match=match) as err:
        PriceSheet.parse(data)
    assert err.value.where is not None and err.value.where.startswith("prices")


def test_price_sheet_refuses_missing_parts_and_mixed_currencies() -> None:
    with pytest.raises(Invalid, match="missing"):
        PriceSheet.parse({"service": SHEET["service"], "instances": SHEET["instances"]})
    with pytest.raises(Invalid, match="mapping"):
        PriceSheet.parse("cheap")
    with pytest.raises(Invalid, match="mixes currencies"):
        PriceSheet(PRICES.service, InstancePrices(Money(1, "EUR"), Money(1, "EUR"), currency="EUR"),
                   PRICES.frontend)
    with pytest.raises(Invalid, match="not in"):
        ServicePrices(Money(1, "EUR"), Money(1), Money(1), Money(1))
    with pytest.raises(Invalid):
        PriceSheet(PRICES.service, PRICES.instances, "0.08")  # type: ignore[arg-type]
    with pytest.raises(Invalid, match="float"):
        FrontEndPrices(0.08)  # type: ignore[arg-type]
    with pytest.raises(Invalid, match="unknown role"):
        PRICES.service.node_hour("gpu")
    with pytest.raises(Invalid):
        parse_role(1)


# --- usage ---------------------------------------------------------------------------------

def test_usage_validation() -> None:
    u = Usage.of("search", JUNE, SEPARATE, node_seconds={"frontend": 5, "backend": 7})
    assert (u.node_seconds("frontend"), u.node_seconds(Role.BACKEND)) == (5, 7)
    with pytest.raises(Invalid, match="unknown role"):
        Usage.of("search", JUNE, SEPARATE, node_seconds={"gpu": 5})
    for field, bad in (("bytes_in", -1), ("connections", 1.0), ("requests", True),
                       ("backend_node_seconds", MAX_COUNT + 1), ("bytes_out", "5")):
        with pytest.raises(Invalid, match=field):
            usage(**{field: bad})  # type: ignore[arg-type]
    with pytest.raises(Invalid):
        Usage("Search!", JUNE, SEPARATE)
    with pytest.raises(Invalid):
        Usage("search", "june", SEPARATE)  # type: ignore[arg-type]
    # any two parties may be one account (tests/unit/test_billing_internal.py)
    assert Parties("acme", "acme", "acme", "op").internal
    assert not Parties("op", "seekr", "seekr", "op").internal
    with pytest.raises(Invalid, match="parties.frontend_provider"):
        Parties("acme", "seekr", "", "op")
    with pytest.raises(Invalid, match="parties.customer"):
        Parties("Acme!", "seekr", "seekr", "op")


def test_model_names() -> None:
    assert parse_model("provider-bills") is Model.PROVIDER_BILLS
    assert parse_model(Model.OPERATOR_BILLS) is Model.OPERATOR_BILLS
    with pytest.raises(Invalid, match="billing model"):
        parse_model("customer-bills")
    with pytest.raises(Invalid):
        charges(usage(), PRICES, "free")
    with pytest.raises(Invalid):
        charges("usage", PRICES, Model.PROVIDER_BILLS)  # type: ignore[arg-type]
    with pytest.raises(Invalid):
        charges(usage(), SHEET, Model.PROVIDER_BILLS)  # type: ignore[arg-type]


# --- model 1: the provider bills ------------------------------------------------------------

def test_provider_bills_with_separate_front_end_provider() -> None:
    txs = charges(usage(), PRICES, Model.PROVIDER_BILLS)
    assert flows(txs) == Counter({("acme", "seekr"): 4, ("seekr", "op"): 1,
                                  ("seekr", "lbco"): 1, ("lbco", "op"): 1})
    # 720 h x 0.10 + 2160 h x 0.40 + 2000 GB x 0.0123456 (24.6912) + 1e6 x 0.00002
    assert total(txs, "acme", "seekr") == Money("72.00") + Money("864.00") + Money("24.69") \
        + Money("20.00")
    assert total(txs, "seekr", "op") == Money("432.00")   # 2160 h x 0.20
    assert total(txs, "seekr", "lbco") == Money("57.60")  # 720 h x 0.08
    assert total(txs, "lbco", "op") == Money("36.00")     # 720 h x 0.05
    assert all(tx.at == JUNE.start for tx in txs)


def test_provider_bills_and_runs_its_own_front_end() -> None:
    txs = charges(usage(SAME_FE), PRICES, Model.PROVIDER_BILLS)
    assert flows(txs) == Counter({("acme", "seekr"): 4, ("seekr", "op"): 2})
    assert total(txs, "seekr", "op") == Money("432.00") + Money("36.00")


# --- model 2: the operator bills -----------------------------------------------------------

def test_operator_bills_and_pays_shares() -> None:
    txs = charges(usage(), PRICES, Model.OPERATOR_BILLS)
    assert flows(txs) == Counter({("acme", "op"): 4, ("op", "seekr"): 1, ("op", "lbco"): 1})
    assert total(txs, "acme") == Money("980.69")
    assert total(txs, "op", "seekr") == Money("980.69") - Money("432.00") - Money("57.60")
    assert total(txs, "op", "lbco") == Money("57.60") - Money("36.00")
    share = next(tx for tx in txs if ln(tx).payee == "seekr")
    assert "980.69" in ln(share).description and "432.00" in ln(share).description


def test_operator_bills_with_provider_front_end() -> None:
    txs = charges(usage(SAME_FE), PRICES, Model.OPERATOR_BILLS)
    assert flows(txs) == Counter({("acme", "op"): 4, ("op", "seekr"): 1})
    assert total(txs, "op", "seekr") == Money("980.69") - Money("432.00") - Money("36.00")


def test_a_negative_share_is_a_shortfall_charge_the_other_way() -> None:
    cheap = PriceSheet(ServicePrices(Money("0.01"), Money("0.01"), Money(0), Money(0)),
                       PRICES.instances, FrontEndPrices(Money("0.01")))
    txs = charges(usage(), cheap, Model.OPERATOR_BILLS)
    assert all(not tx.amount.is_negative for tx in txs)
    short = [tx for tx in txs if "shortfall" in tx.id]
    assert {(ln(tx).payer, ln(tx).payee) for tx in short} == {("seekr", "op"), ("lbco", "op")}
    assert positions(txs, SEPARATE) == positions(
        charges(usage(), cheap, Model.PROVIDER_BILLS), SEPARATE)


def test_operator_as_front_end_or_provider_posts_no_self_charges() -> None:
    for parties in (Parties("acme", "seekr", "op", "op"), Parties("acme", "op", "lbco", "op"),
                    Parties("acme", "op", "op", "op")):
        for model in Model:
            txs = charges(usage(parties), PRICES, model)
            assert all(ln(tx).payer != ln(tx).payee for tx in txs)
            assert total(txs, "acme") == Money("980.69")
        assert positions(charges(usage(parties), PRICES, Model.PROVIDER_BILLS), parties) == \
            positions(charges(usage(parties), PRICES, Model.OPERATOR_BILLS), parties)


def test_zero_usage_bills_nothing_and_zero_prices_still_show() -> None:
    zero = usage(frontend_node_seconds=0, backend_node_seconds=0, bytes_in=0, bytes_out=0,
                 connections=0)
    for model in Model:
        assert charges(zero, PRICES, model) == []
    free = PriceSheet(ServicePrices(Money(0), Money(0), Money(0), Money(0)),
                      InstancePrices(Money(0), Money(0)), FrontEndPrices(Money(0)))
    txs = charges(usage(requests=5), free, Model.PROVIDER_BILLS)
    assert txs and all(tx.amount == Money(0) for tx in txs)
    assert any(ln(tx).unit == "1000 requests" and ln(tx).quantity == Decimal("0.005")
               for tx in txs)


def test_billing_the_same_period_twice_is_a_conflict() -> None:
    ledger = Ledger(charges(usage(), PRICES, Model.PROVIDER_BILLS))
    with pytest.raises(Conflict):
        ledger.extend(charges(usage(), PRICES, Model.PROVIDER_BILLS))
    nxt = Usage("search", Period(JUNE.end, JUNE.end + timedelta(days=31)), SEPARATE,
                backend_node_seconds=HOUR)
    ledger.extend(charges(nxt, PRICES, Model.PROVIDER_BILLS))


def test_node_hour_quantity_is_shown_to_six_places_amount_is_exact() -> None:
    txs = charges(usage(frontend_node_seconds=1, backend_node_seconds=0, bytes_in=0,
                        bytes_out=0, connections=0), PRICES, Model.PROVIDER_BILLS)
    line = next(ln(tx) for tx in txs if ln(tx).payer == "acme")
    assert line.quantity == Decimal("0.000278")  # 1/3600 h
    assert txs[0].amount == Money("0.00")


# --- properties ----------------------------------------------------------------------------

NAMES = st.sampled_from(["seekr", "lbco", "op"])
CUSTOMERS = st.one_of(st.just("acme"), st.sampled_from(["acme", "seekr", "lbco", "op"]))
counts = st.one_of(st.just(0), st.integers(0, 10**6), st.integers(0, MAX_COUNT))
prices = st.decimals(min_value=0, max_value=Decimal("999999999.9999999999"), places=10,
                     allow_nan=False, allow_infinity=False)
small_prices = st.decimals(min_value=0, max_value=5, places=7)
any_price = st.one_of(st.just(Decimal(0)), small_prices, prices)


@st.composite
def sheets(draw: st.DrawFn) -> PriceSheet:
    m = [Money(draw(any_price)) for _ in range(5)]
    return PriceSheet(
        ServicePrices(m[0], m[1], m[2], m[3], m[4]),
        InstancePrices(Money(draw(any_price)), Money(draw(any_price))),
        FrontEndPrices(Money(draw(any_price))))


@st.composite
def usages(draw: st.DrawFn) -> Usage:
    provider = draw(NAMES)
    fe = draw(st.sampled_from([provider, "lbco", "op"]))
    customer = draw(CUSTOMERS)  # usually a customer of its own, else also another party
    parties = Parties(customer, draw(st.sampled_from([customer, provider])) if customer == "acme"
                      else provider, fe, "op")
    start = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(hours=draw(st.integers(0, 24 * 365)))
    period = Period(start, start + timedelta(seconds=draw(st.integers(1, 10**8))))
    return Usage("app", period, parties, *(draw(counts) for _ in range(6)))


@PROPS
@given(usages(), sheets())
def test_every_period_balances_and_both_models_agree(u: Usage, p: PriceSheet) -> None:
    by_model = {m: charges(u, p, m) for m in Model}
    for txs in by_model.values():
        ledger = Ledger(txs)
        assert ledger.trial_balance() == Money(0)
        assert ledger.trial_balance(u.period) == Money(0)
        for tx in txs:
            assert tx.at in u.period
            assert all(not q.amount.is_negative and q.amount.is_cents for q in tx.postings)
            assert tx.line is not None and ln(tx).payer != ln(tx).payee
            assert not ln(tx).quantity.is_signed() and not ln(tx).unit_price.is_negative
    one, two = by_model[Model.PROVIDER_BILLS], by_model[Model.OPERATOR_BILLS]
    who = u.parties
    if who.customer not in (who.provider, who.frontend_provider, who.operator) or (
            who.internal and who.customer != who.operator):
        # a customer of its own pays exactly the same, line for line, under both models; so
        # does an internal appliance's account (its costs), unless it is the operator
        assert total(one, who.customer) == total(two, who.customer)
        assert sorted(tx.amount.amount for tx in one if ln(tx).payer == who.customer) == \
            sorted(tx.amount.amount for tx in two if ln(tx).payer == who.customer)
    if who.customer not in (who.provider, who.frontend_provider, who.operator):
        assert all(ln(tx).payee != who.customer for tx in one + two)
    if who.internal:  # no service price and no provider's share between a party and itself
        assert not [tx.id for tx in one + two if ":service-" in tx.id or "provider-share" in tx.id]
    # and every party ends up in the same net position
    assert positions(one, u.parties) == positions(two, u.parties)
    assert sum(positions(one, u.parties).values(), Money.zero()) == Money(0)


@PROPS
@given(usages(), sheets(), st.sampled_from(list(Model)))
def test_invoices_add_up_and_match_the_ledger(u: Usage, p: PriceSheet, model: Model) -> None:
    ledger = Ledger(charges(u, p, model))
    for party in {u.parties.customer, u.parties.provider, u.parties.frontend_provider, "op"}:
        inv, stm = invoice(ledger, party, u.period), statement(ledger, party, u.period)
        assert inv.total == sum((ln.amount for ln in inv.lines), Money.zero())
        assert stm.total == sum((ln.amount for ln in stm.lines), Money.zero())
        assert inv.total == ledger.debits(receivable(party), u.period) \
            == ledger.balance(receivable(party), u.period)
        assert stm.total == ledger.credits(payable(party), u.period) \
            == -ledger.balance(payable(party), u.period)
        assert stm.total - inv.total == ledger.position(party, u.period)
    # every debit on a receivable is one line of exactly one invoice
    lines = sum(len(invoice(ledger, n, u.period).lines)
                for n in {u.parties.customer, u.parties.provider, u.parties.frontend_provider,
                          "op"})
    assert lines == sum(1 for tx in ledger for q in tx.postings
                        if q.side is Side.DEBIT and q.account.startswith("receivable:"))


@PROPS
@given(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(range(6)))
def test_floats_are_refused_everywhere(value: float, where: int) -> None:
    with pytest.raises(Invalid):
        if where == 0:
            ServicePrices(value, Money(0), Money(0), Money(0))  # type: ignore[arg-type]
        elif where == 1:
            InstancePrices(Money(0), value)  # type: ignore[arg-type]
        elif where == 2:
            FrontEndPrices(value)  # type: ignore[arg-type]
        elif where == 3:
            Usage("app", JUNE, SEPARATE, bytes_in=value)  # type: ignore[arg-type]
        elif where == 4:
            PriceSheet.parse({**SHEET, "frontend": {"node_hour": value}})
        else:
            Money(value)


# --- the worked example of docs/billing.md ---------------------------------------------------

def worked_example() -> str:
    """docs/billing.md's example, rendered by the code: print it with
    `.venv/bin/python -c 'from tests.unit.test_billing import worked_example as w; print(w())'`."""
    month = Period.days(datetime(2025, 6, 1, tzinfo=UTC), 30)
    u = Usage.of("search", month, SEPARATE,
                 node_seconds={"frontend": 1 * 30 * 24 * HOUR, "backend": 3 * 30 * 24 * HOUR},
                 bytes_in=10**12, bytes_out=10**12, connections=10**6)
    out = []
    for model in Model:
        ledger = Ledger(charges(u, PRICES, model))
        out.append(f"=== model {model.value}: trial balance {ledger.trial_balance(month)} ===")
        for party in ("acme", "seekr", "lbco", "op"):
            for doc in (invoice(ledger, party, month), statement(ledger, party, month)):
                if doc.lines:
                    out.append(doc.render())
        out.append("net positions: " + ", ".join(
            f"{p} {ledger.position(p, month).cents_str()}" for p in ("acme", "seekr", "lbco", "op")))
    return "\n".join(out)


def test_worked_example_is_what_docs_billing_md_shows() -> None:
    from pathlib import Path

    text = worked_example()
    assert "trial balance USD 0.00" in text
    totals = [t for t in text.splitlines() if t.startswith("  TOTAL")]
    assert sum(t.endswith("USD  980.69") for t in totals) == 4  # acme's invoice + payee's, x2
    doc = Path(__file__).resolve().parents[2] / "docs" / "billing.md"
    assert text in doc.read_text(), "docs/billing.md is stale: paste worked_example() again"
