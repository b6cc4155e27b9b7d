"""Billing runs in the service layer, without the API or a controller: a property test of the
stored ledger (random usage, late usage, periods of one or two days) and the service layer's
refusals (the same through the API: tests/service/test_billing_runs.py)."""

from __future__ import annotations

import datetime as dt
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from facade.dataplane.fake import FakeDataPlane
from facade.domain.errors import Conflict, Forbidden
from facade.domain.metering import to_ms
from facade.service import accounts, catalog, networks
from facade.service.billing import price_lists, runs, statements
from facade.service.context import Caller, Context
from facade.store.models import PriceList, UsageRecord
from tests.stores import open_context
from tests.unit.test_billing import SHEET

HOUR_MS = 3_600_000
JUNE = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
SERVICE_PRICES = {"node_hour": SHEET["service"]["node_hour"], "per_gb": "0.0123456",
                  "per_connection": "0.00002", "per_1000_requests": "0.001"}
INSTANCE_PRICES = {"node_hour": {"frontend": "0.05", "backend": "0.20"}}


def hour_of(at: dt.datetime) -> int:
    return to_ms(at) // HOUR_MS


def backdate_prices(ctx: Context) -> None:
    """Move every price list ten years back, as if set long before the usage the tests bill
    (a period is priced with the lists set before it ended)."""
    with ctx.write() as s:
        s.execute(update(PriceList).values(from_hour=PriceList.from_hour - 24 * 3650))


def service_body(name: str, model: str, **over: Any) -> dict[str, Any]:
    return {"name": name, "account": "seekr", "workload": "http-echo", "port": 80,
            "backend_subnet": "seekr-vpc/backend", "management_subnet": "seekr-vpc/mgmt",
            "prices": SERVICE_PRICES, "billing_model": model, **over}


# --- the stored ledger, for random usage ---------------------------------------------------------

# Twins: each random usage row is metered for both appliances of a pair, one under each billing
# model, each for another customer; so acme and beta must be billed exactly the same.
PAIRS = [(("a1", 1, "acme", "search"), ("a2", 2, "beta", "search2")),
         (("a3", 3, "acme", "search2"), ("a4", 4, "beta", "search"))]
DAYS = [JUNE + dt.timedelta(days=d) for d in range(4)]
rows = st.lists(st.tuples(
    st.integers(0, len(PAIRS) - 1), st.integers(0, 4 * 24 - 1),
    st.sampled_from([("frontend", "node_ms"), ("backend", "node_ms"), ("backend", "bytes_in"),
                     ("backend", "bytes_out"), ("backend", "connections"),
                     ("backend", "requests")]),
    st.one_of(st.integers(1, HOUR_MS), st.integers(1, 10**13))), max_size=40)


def _iso(at: dt.datetime) -> str:
    return f"{at:%Y-%m-%dT%H:%MZ}"


def _world() -> tuple[tempfile.TemporaryDirectory[str], Context]:
    tmp = tempfile.TemporaryDirectory()
    ctx = open_context(Path(tmp.name) / "home", FakeDataPlane())
    accounts.bootstrap_operator(ctx)
    op = Caller(1, "operator", operator=True)
    with ctx.write() as s:
        for name in ("acme", "beta", "seekr"):
            accounts.new_account(ctx, s, op, name)
        networks.new_network(ctx, s, op, "seekr-vpc", "seekr", "10.0.0.0/16",
                             [{"name": "backend", "cidr": "10.0.1.0/24"},
                              {"name": "mgmt", "cidr": "10.0.200.0/24"}])
    price_lists.set_instance_prices(ctx, op, INSTANCE_PRICES)
    for name, model in (("search", "provider-bills"), ("search2", "operator-bills")):
        body = service_body(name, model)
        catalog.create(ctx, op, name=name, account="seekr", workload_name="http-echo",
                       command=None, port=80, backend_subnet=body["backend_subnet"],
                       management_subnet=body["management_subnet"], prices=SERVICE_PRICES,
                       billing_model=model)
    backdate_prices(ctx)
    return tmp, ctx


@settings(max_examples=25, deadline=None, derandomize=True)
@given(rows, st.sampled_from([1, 2]))
def test_stored_ledger_balances_and_invoices_add_up(usage: list[Any], days_per_period: int
                                                    ) -> None:
    """Random usage of two pairs of twin appliances over four days, billed per day or per two
    days, half of it arriving after the first runs (late usage): every period's trial balance
    is zero, the invoices of all parties add up to the ledger's receivables, and the customers
    of twins (one under each model) pay exactly the same in every period."""
    tmp, ctx = _world()
    op = Caller(1, "operator", operator=True)
    try:
        periods = [f"{_iso(d)}/{_iso(d + dt.timedelta(days=days_per_period))}"
                   for d in DAYS[::days_per_period]]
        half = len(usage) // 2
        for batch in (usage[:half], usage[half:]):  # the second batch arrives after billing
            records: dict[tuple[int, int, str, str], dict[str, Any]] = {}
            for pair, hour, (role, metric), qty in batch:
                for app, app_id, customer, service in PAIRS[pair]:
                    node = f"{app}-{'fe' if role == 'frontend' else 'b1'}"
                    key = (hour_of(JUNE) + hour, app_id, node, metric)
                    row = records.setdefault(key, {
                        "hour": key[0], "appliance": app, "appliance_id": app_id,
                        "customer": customer, "service": service, "node": node, "role": role,
                        "metric": metric, "quantity": 0})
                    row["quantity"] += qty
            with ctx.write() as s:  # metering adds to an hour's record, or makes it
                for r in records.values():
                    have = s.scalar(select(UsageRecord).where(
                        UsageRecord.hour == r["hour"], UsageRecord.appliance_id == r[
                            "appliance_id"], UsageRecord.node == r["node"],
                        UsageRecord.metric == r["metric"]))
                    if have is None:
                        s.add(UsageRecord(provider="seekr", owner="seekr", **r))
                    else:
                        have.quantity += r["quantity"]
            for p in periods:
                runs.run(ctx, op, p)
        for p in periods:
            book = statements.ledger_view(ctx, op, p)
            assert book.trial_balance == "0.00" and book.unbilled == []
            debits = sum((Decimal(a.debits) for a in book.accounts
                          if a.account.startswith("receivable:")), Decimal(0))
            docs = {who: statements.invoice(ctx, op, who, p)
                    for who in ("acme", "beta", "seekr", "operator")}
            assert all(d.status == "billed" for d in docs.values())
            assert sum((Decimal(d.invoice.total) for d in docs.values()), Decimal(0)) == debits
            assert sum((Decimal(d.position) for d in docs.values()), Decimal(0)) == 0
            assert docs["acme"].invoice.total == docs["beta"].invoice.total
            assert docs["acme"].statement.total == "0.00"
        whole = f"{_iso(DAYS[0])}/{_iso(DAYS[0] + dt.timedelta(days=4))}"
        assert statements.ledger_view(ctx, op, whole).trial_balance == "0.00"
    finally:
        ctx.engine.dispose()
        tmp.cleanup()


def test_service_layer_refuses_non_operators() -> None:
    tmp, ctx = _world()
    try:
        acme = Caller(2, "acme")
        with pytest.raises(Forbidden):
            runs.run(ctx, acme, "2025-06")
        with pytest.raises(Forbidden):
            statements.ledger_view(ctx, acme, "2025-06")
        with pytest.raises(Conflict):
            runs.run(ctx, Caller(1, "operator", operator=True), "2025-06",
                        now=dt.datetime(2025, 6, 30, 23, tzinfo=dt.UTC))
    finally:
        ctx.engine.dispose()
        tmp.cleanup()


# --- scenario files ------------------------------------------------------------------------------

