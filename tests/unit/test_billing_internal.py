"""Internal appliances in billing (docs/billing.md, "Internal appliances"): an account that is
both the customer and the provider of an appliance, or the operator using an appliance.

The pure domain: who pays whom, under both models, with figures computed by hand from the
worked example's prices (a billing run through the API: tests/service/test_billing_internal.py)."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest

from facade.domain.billing import Model, Parties, Usage, charges
from facade.domain.invoices import invoice, statement
from facade.domain.ledger import Ledger, Transaction
from facade.domain.money import Money
from tests.unit.test_billing import HOUR, JUNE, PRICES, flows, ln, positions, total, usage

pytestmark = pytest.mark.no_store  # tests/conftest.py

# the worked example's usage (720 front-end and 2,160 backend node-hours, 2,000 GB, 10^6
# connections) at its prices: service 980.69; backend instances 2160 x 0.20 = 432.00, front-end
# instances 720 x 0.05 = 36.00, front-end fee 720 x 0.08 = 57.60
INST_BE, INST_FE, FEE = Money("432.00"), Money("36.00"), Money("57.60")


def _amounts(txs: list[Transaction]) -> Counter[tuple[str, str, str]]:
    return Counter((ln(tx).payer, ln(tx).payee, tx.amount.cents_str()) for tx in txs)


def _no_service_and_no_self(txs: list[Transaction]) -> None:
    assert all(ln(tx).payer != ln(tx).payee for tx in txs)
    assert not [tx.id for tx in txs if ":service-" in tx.id or "provider-share" in tx.id]
    ledger = Ledger(txs)
    assert ledger.trial_balance() == Money(0) and ledger.trial_balance(JUNE) == Money(0)


# --- the domain ------------------------------------------------------------------------------

def test_customer_is_provider_and_runs_its_front_end_pays_only_the_instances() -> None:
    mine = Parties("acme", "acme", "acme", "op")
    assert mine.internal and not mine.separate_frontend
    by_model = {m: charges(usage(mine), PRICES, m) for m in Model}
    for txs in by_model.values():
        _no_service_and_no_self(txs)
        assert _amounts(txs) == Counter({("acme", "op", "432.00"): 1,
                                         ("acme", "op", "36.00"): 1})
        assert positions(txs, mine) == {"acme": -(INST_BE + INST_FE), "op": INST_BE + INST_FE}
        ledger = Ledger(txs)
        inv, stm = invoice(ledger, "acme", JUNE), statement(ledger, "acme", JUNE)
        assert inv.total == Money("468.00") and stm.lines == ()
        assert {line.counterparty for line in inv.lines} == {"op"}
        assert [line.description for line in inv.lines] == [
            "search: backend instance node-hours", "search: front-end instance node-hours"]
        assert "to acme" not in inv.render()


def test_internal_appliance_with_a_third_party_front_end() -> None:
    """The front-end comes from lbco: its fee is still owed, to lbco (provider-bills) or to the
    operator, who pays lbco its share (operator-bills); positions are the same."""
    mine = Parties("acme", "acme", "lbco", "op")
    pb = charges(usage(mine), PRICES, Model.PROVIDER_BILLS)
    ob = charges(usage(mine), PRICES, Model.OPERATOR_BILLS)
    for txs in (pb, ob):
        _no_service_and_no_self(txs)
    assert _amounts(pb) == Counter({("acme", "op", "432.00"): 1, ("acme", "lbco", "57.60"): 1,
                                    ("lbco", "op", "36.00"): 1})
    assert _amounts(ob) == Counter({("acme", "op", "432.00"): 1, ("acme", "op", "57.60"): 1,
                                    ("op", "lbco", "21.60"): 1})
    fee = next(ln(tx) for tx in ob if tx.amount == FEE)
    assert (fee.quantity, fee.unit, fee.unit_price) == (Decimal(720), "node-hour",
                                                        Money("0.08"))
    want = {"acme": -(INST_BE + FEE), "lbco": FEE - INST_FE, "op": INST_BE + INST_FE}
    assert positions(pb, mine) == positions(ob, mine) == want
    # the account pays the same amounts under both models
    assert sorted(tx.amount.amount for tx in pb if ln(tx).payer == "acme") == \
        sorted(tx.amount.amount for tx in ob if ln(tx).payer == "acme")


def test_the_operators_own_internal_appliance_owes_nothing_to_itself() -> None:
    alone = Parties("op", "op", "op", "op")
    for model in Model:
        assert charges(usage(alone), PRICES, model) == []
    # with lbco's front-end, only lbco's part moves
    with_lb = Parties("op", "op", "lbco", "op")
    pb = charges(usage(with_lb), PRICES, Model.PROVIDER_BILLS)
    ob = charges(usage(with_lb), PRICES, Model.OPERATOR_BILLS)
    assert _amounts(pb) == Counter({("op", "lbco", "57.60"): 1, ("lbco", "op", "36.00"): 1})
    assert _amounts(ob) == Counter({("op", "lbco", "21.60"): 1})
    for txs in (pb, ob):
        _no_service_and_no_self(txs)
        assert positions(txs, with_lb) == {"op": INST_FE - FEE, "lbco": FEE - INST_FE}


def test_the_operator_as_customer_of_another_provider_pays_it() -> None:
    """customer == operator but not provider: not internal, the service price is owed to seekr
    (provider-bills) or is what the operator collects from itself (operator-bills)."""
    who = Parties("op", "seekr", "seekr", "op")
    assert not who.internal
    pb = charges(usage(who), PRICES, Model.PROVIDER_BILLS)
    ob = charges(usage(who), PRICES, Model.OPERATOR_BILLS)
    assert flows(pb) == Counter({("op", "seekr"): 4, ("seekr", "op"): 2})
    assert total(pb, "op") == Money("980.69")
    assert flows(ob) == Counter({("op", "seekr"): 1})  # the provider's share only
    assert total(ob, "op") == Money("980.69") - INST_BE - INST_FE
    assert positions(pb, who) == positions(ob, who) == {"op": Money("-512.69"),
                                                        "seekr": Money("512.69")}
    assert all(ln(tx).payer != ln(tx).payee for tx in pb + ob)


def test_an_internal_appliance_billed_twice_is_a_conflict_and_late_usage_adds() -> None:
    mine = Parties("acme", "acme", "acme", "op")
    ledger = Ledger(charges(usage(mine), PRICES, Model.OPERATOR_BILLS))
    with pytest.raises(Exception, match="already in the ledger"):
        ledger.extend(charges(usage(mine), PRICES, Model.OPERATOR_BILLS))
    assert len(ledger) == 2
    late = Usage("search", JUNE, mine, backend_node_seconds=10 * HOUR)
    extra = charges(late, PRICES, Model.PROVIDER_BILLS)  # another model's ids: no clash
    ledger.extend(extra)
    assert invoice(ledger, "acme", JUNE).total == Money("470.00")  # + 10 h x 0.20
