"""Billing wired to metering (service/billing/) through the API: prices on services and the
operator's instance prices, billing runs over usage rows inserted straight into the store,
the stored ledger, invoices, drafts, late usage, the CLI and scenario files (the property test
of the stored ledger: tests/unit/test_billing_runs.py).

The expected figures are computed by hand (the worked example of docs/billing.md), not by the
code under test; the ledger is checked through its own API answer and the invoices of every
party."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import strategies as st
from sqlalchemy import func, select, update

from facade.domain.metering import to_ms
from facade.service.context import Context
from facade.store.models import LedgerPosting, LedgerTransaction, PriceList, UsageRecord
from tests.service.helpers import err, ok
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


def add_usage(ctx: Context, rows: list[dict[str, Any]]) -> None:
    """Insert usage records as metering would (one metric of one node in one hour)."""
    with ctx.write() as s:
        for r in rows:
            base = {"owner": r.get("provider", "seekr"), "customer": "acme", "provider": "seekr",
                    "service": "search", "appliance_id": 1, "appliance": "docs",
                    "node": "docs-fe", "role": "frontend"}
            s.add(UsageRecord(**{**base, **r}))


def month_usage(appliance: str = "docs", appliance_id: int = 1, customer: str = "acme",
                service: str = "search", provider: str = "seekr",
                start: dt.datetime = JUNE, hours: int = 720) -> list[dict[str, Any]]:
    """1 front-end and 3 backends for `hours` hours, 1 TB in + 1 TB out, 10^6 connections:
    for 720 hours, docs/billing.md's worked example."""
    who = {"appliance": appliance, "appliance_id": appliance_id, "customer": customer,
           "service": service, "provider": provider, "owner": provider}
    rows = []
    first = hour_of(start)
    for h in range(first, first + hours):
        rows.append({**who, "hour": h, "node": f"{appliance}-fe", "role": "frontend",
                     "metric": "node_ms", "quantity": HOUR_MS})
        for b in (1, 2, 3):
            rows.append({**who, "hour": h, "node": f"{appliance}-b{b}", "role": "backend",
                         "metric": "node_ms", "quantity": HOUR_MS})
    rows.append({**who, "hour": first + 5, "node": f"{appliance}-b1", "role": "backend",
                 "metric": "bytes_in", "quantity": 10**12})
    rows.append({**who, "hour": first + 6, "node": f"{appliance}-b2", "role": "backend",
                 "metric": "bytes_out", "quantity": 10**12})
    rows.append({**who, "hour": first + 7, "node": f"{appliance}-b3", "role": "backend",
                 "metric": "connections", "quantity": 10**6})
    return rows


def service_body(name: str, model: str, **over: Any) -> dict[str, Any]:
    return {"name": name, "account": "seekr", "workload": "http-echo", "port": 80,
            "backend_subnet": "seekr-vpc/backend", "management_subnet": "seekr-vpc/mgmt",
            "prices": SERVICE_PRICES, "billing_model": model, **over}


@pytest.fixture
def market(api: Any) -> Any:
    """Customers acme and beta, provider seekr with a provider-bills service `search` and an
    operator-bills service `search2` at the same prices; the operator's instance prices set."""
    for name in ("acme", "beta", "seekr", "eve"):
        ok(api.req("POST", "/v1/accounts", json={"name": name}), 201)
        setattr(api, name, ok(api.req("POST", f"/v1/accounts/{name}/tokens"), 201)["token"])
    ok(api.req("POST", "/v1/networks", json={
        "name": "seekr-vpc", "account": "seekr", "cidr": "10.0.0.0/16",
        "subnets": [{"name": "backend", "cidr": "10.0.1.0/24"},
                    {"name": "mgmt", "cidr": "10.0.200.0/24"}]}), 201)
    ok(api.req("PUT", "/v1/prices", json=INSTANCE_PRICES))
    ok(api.req("POST", "/v1/services", json=service_body("search", "provider-bills")), 201)
    ok(api.req("POST", "/v1/services", json=service_body("search2", "operator-bills")), 201)
    backdate_prices(api.ctx)
    return api


def invoice(api: Any, account: str, period: str, token: str = "op") -> Any:
    return ok(api.req("GET", f"/v1/accounts/{account}/invoice?period={period}", token=token))


def ledger(api: Any, period: str) -> Any:
    return ok(api.req("GET", f"/v1/billing/ledger?period={period}"))


def posted(ctx: Context) -> tuple[int, int]:
    with ctx.read() as s:
        return (s.scalar(select(func.count()).select_from(LedgerTransaction)) or 0,
                s.scalar(select(func.count()).select_from(LedgerPosting)) or 0)


# --- prices --------------------------------------------------------------------------------------


def test_prices_default_to_zero_and_only_the_operator_sets_instance_prices(api: Any) -> None:
    free_edge = {"public_ip_hour": "0", "gateway_per_gb": "0", "channel_hour": "0"}
    assert ok(api.req("GET", "/v1/prices")) == {
        "currency": "USD", "node_hour": {"frontend": "0", "backend": "0"}, "edge": free_edge}
    ok(api.req("POST", "/v1/accounts", json={"name": "acme"}), 201)
    acme = ok(api.req("POST", "/v1/accounts/acme/tokens"), 201)["token"]
    err(api.req("PUT", "/v1/prices", token=acme, json=INSTANCE_PRICES), 403, code="forbidden")
    assert ok(api.req("PUT", "/v1/prices", json={"node_hour": {"backend": "0.20"}})) == {
        "currency": "USD", "node_hour": {"frontend": "0", "backend": "0.20"}, "edge": free_edge}
    assert ok(api.req("GET", "/v1/prices", token=acme))["node_hour"]["backend"] == "0.20"
    before = ok(api.req("GET", "/v1/prices"))
    err(api.req("PUT", "/v1/prices", json={"node_hour": {"backend": "-1"}}), 400, "negative",
        where="prices.node_hour.backend")
    err(api.req("PUT", "/v1/prices", json={"node_hour": {"gpu": "1"}}), 422,
        where="node_hour.gpu")
    err(api.req("PUT", "/v1/prices", json={"node_hour": {"backend": 0.2}}), 422,
        where="node_hour.backend")
    err(api.req("PUT", "/v1/prices", json={"currency": "usd"}), 400, "three capital",
        where="prices.currency")
    assert ok(api.req("GET", "/v1/prices")) == before


def test_service_prices_are_stored_shown_and_checked(market: Any) -> None:
    svc = ok(market.req("GET", "/v1/services/search", token=market.eve))
    assert svc["billing_model"] == "provider-bills"
    assert svc["prices"] == {"currency": "USD", "node_hour": {"frontend": "0.10",
                                                              "backend": "0.40"},
                             "per_gb": "0.0123456", "per_connection": "0.00002",
                             "per_1000_requests": "0.001"}
    assert ok(market.req("GET", "/v1/services/search2"))["billing_model"] == "operator-bills"
    plain = ok(market.req("POST", "/v1/services", json=service_body(
        "free", "provider-bills", prices=None, billing_model=None)), 201)
    assert plain["billing_model"] == "provider-bills" and plain["prices"]["per_gb"] == "0"
    services = market.items("/v1/services")
    for body, status, where in (
            (service_body("x1", "customer-bills"), 400, "billing_model"),
            (service_body("x2", "provider-bills", prices={"per_gb": "0.1.2"}), 400,
             "prices.per_gb"),
            (service_body("x3", "provider-bills", prices={"per_gb": "1e12"}), 400,
             "prices.per_gb"),
            (service_body("x4", "provider-bills", prices={"currency": "EUR"}), 400,
             "prices.currency"),
            # a float is refused (money is never binary); a whole number is fine, as in a
            # scenario file
            (service_body("x5", "provider-bills", prices={"per_gb": 0.1}), 422, "per_gb"),
            (service_body("x6", "provider-bills", prices={"per_byte": "1"}), 422, "per_byte")):
        err(market.req("POST", "/v1/services", json=body), status, where=where)
    assert market.items("/v1/services") == services


def test_front_end_prices_per_account(market: Any) -> None:
    path = "/v1/accounts/seekr/frontend-prices"
    assert ok(market.req("GET", path, token=market.seekr)) == {"currency": "USD",
                                                                "node_hour": "0"}
    assert ok(market.req("PUT", path, token=market.seekr, json={"node_hour": "0.08"})) == {
        "currency": "USD", "node_hour": "0.08"}
    err(market.req("GET", path, token=market.acme), 404)
    err(market.req("PUT", path, token=market.acme, json={"node_hour": "1"}), 404)
    err(market.req("PUT", path, json={"node_hour": "1", "currency": "EUR"}), 400,
        where="prices.currency")
    assert ok(market.req("GET", path))["node_hour"] == "0.08"


def test_the_currency_cannot_change_under_existing_prices(market: Any) -> None:
    err(market.req("PUT", "/v1/prices", json={"currency": "EUR"}), 409, "search",
        where="prices.currency")
    assert ok(market.req("GET", "/v1/prices"))["currency"] == "USD"


# --- billing runs --------------------------------------------------------------------------------


def test_a_run_posts_the_worked_example_and_invoices_come_from_the_ledger(market: Any) -> None:
    add_usage(market.ctx, month_usage())
    run = ok(market.req("POST", "/v1/billing/runs", json={"period": "2025-06"}))
    assert run["run"] == 1 and run["appliances"] == ["docs"] and run["skipped"] == []
    assert run["trial_balance"] == "0.00" and run["posted"] == 6  # 4 service lines + 2 instance
    acme = invoice(market, "acme", "2025-06", token=market.acme)
    assert acme["status"] == "billed"
    # 720 h x 0.10 + 2160 h x 0.40 + 2000 GB x 0.0123456 (24.69) + 10^6 x 0.00002
    assert [ln["amount"] for ln in acme["invoice"]["lines"]] == ["72.00", "864.00", "24.69",
                                                                  "20.00"]
    assert acme["invoice"]["total"] == "980.69" and acme["position"] == "-980.69"
    assert {ln["counterparty"] for ln in acme["invoice"]["lines"]} == {"seekr"}
    seekr = invoice(market, "seekr", "2025-06", token=market.seekr)
    assert seekr["statement"]["total"] == "980.69"
    assert seekr["invoice"]["total"] == "468.00"  # 2160 h x 0.20 + 720 h x 0.05, to operator
    assert seekr["position"] == "512.69"
    op = invoice(market, "operator", "2025-06")
    assert op["statement"]["total"] == "468.00" and op["invoice"]["total"] == "0.00"
    book = ledger(market, "2025-06")
    assert book["trial_balance"] == "0.00" and book["transactions"] == 6
    balances = {a["account"]: a["balance"] for a in book["accounts"]}
    assert balances == {"receivable:acme": "980.69", "payable:seekr": "-980.69",
                        "receivable:seekr": "468.00", "payable:operator": "-468.00"}
    assert book["unbilled"] == [] and [r["run"] for r in book["runs"]] == [1]
    assert "TOTAL" in acme["text"] and "980.69" in acme["text"]


def test_a_second_run_posts_nothing_and_late_usage_is_an_adjustment(market: Any) -> None:
    add_usage(market.ctx, month_usage(hours=24))
    ok(market.req("POST", "/v1/billing/runs", json={"period": "2025-06"}))
    first = posted(market.ctx)
    before = invoice(market, "acme", "2025-06")
    again = ok(market.req("POST", "/v1/billing/runs", json={"period": "2025-06"}))
    assert again["run"] is None and again["posted"] == 0
    assert posted(market.ctx) == first and invoice(market, "acme", "2025-06") == before
    # metering adds 10 backend node-hours to a June hour after June was billed
    add_usage(market.ctx, [{"hour": hour_of(JUNE) + 100, "node": "docs-b9", "role": "backend",
                            "metric": "node_ms", "quantity": 10 * HOUR_MS}])
    assert ledger(market, "2025-06")["unbilled"] == [{
        "period": "2025-06-01T00:00:00+00:00/2025-07-01T00:00:00+00:00", "appliance": "docs",
        "frontend_node_ms": 0, "backend_node_ms": 10 * HOUR_MS, "bytes_in": 0, "bytes_out": 0,
        "connections": 0, "requests": 0}]
    late = ok(market.req("POST", "/v1/billing/runs", json={"period": "2025-06"}))
    assert late["run"] == 2 and late["posted"] == 2  # customer line + instance line
    after = invoice(market, "acme", "2025-06")
    extra = [ln for ln in after["invoice"]["lines"] if ln not in before["invoice"]["lines"]]
    assert [(ln["amount"], "late usage" in ln["description"]) for ln in extra] == [
        ("4.00", True)]  # 10 h x 0.40
    assert Decimal(after["invoice"]["total"]) == Decimal(before["invoice"]["total"]) + 4
    book = ledger(market, "2025-06")
    assert book["unbilled"] == [] and book["trial_balance"] == "0.00"
    assert ok(market.req("POST", "/v1/billing/runs", json={"period": "2025-06"}))["posted"] == 0


def test_both_models_move_the_same_total_from_the_customer(market: Any) -> None:
    add_usage(market.ctx, month_usage())
    add_usage(market.ctx, month_usage("docs2", 2, customer="beta", service="search2"))
    ok(market.req("POST", "/v1/billing/runs", json={"period": "2025-06"}))
    acme, beta = invoice(market, "acme", "2025-06"), invoice(market, "beta", "2025-06")
    assert acme["invoice"]["total"] == beta["invoice"]["total"] == "980.69"
    assert {ln["counterparty"] for ln in beta["invoice"]["lines"]} == {"operator"}
    # seekr's net position is the same for each appliance: 980.69 - 468.00, twice
    assert invoice(market, "seekr", "2025-06")["position"] == "1025.38"
    op = invoice(market, "operator", "2025-06")
    assert Decimal(op["position"]) == 2 * Decimal("468.00")
    assert ledger(market, "2025-06")["trial_balance"] == "0.00"


def test_only_ended_periods_not_overlapping_billed_ones_are_billed(market: Any) -> None:
    now = dt.datetime.now(dt.UTC)
    err(market.req("POST", "/v1/billing/runs", json={"period": f"{now:%Y-%m}"}), 409,
        "not ended", where="period")
    ok(market.req("POST", "/v1/billing/runs", json={"period": "2025-06"}))
    for overlapping in ("2025-06-15", "2025-05-31T00:00Z/2025-06-02T00:00Z"):
        err(market.req("POST", "/v1/billing/runs", json={"period": overlapping}), 409,
            "overlaps", where="period")
    ok(market.req("POST", "/v1/billing/runs", json={"period": "2025-07"}))


def test_invoices_of_unbilled_and_partly_billed_periods(market: Any) -> None:
    add_usage(market.ctx, month_usage())
    add_usage(market.ctx, month_usage(start=JUNE + dt.timedelta(days=30), hours=24))
    draft = invoice(market, "acme", "2025-06")
    assert draft["status"] == "draft" and draft["invoice"]["total"] == "980.69"
    assert posted(market.ctx) == (0, 0)  # a draft posts nothing
    ok(market.req("POST", "/v1/billing/runs", json={"period": "2025-06"}))
    assert invoice(market, "acme", "2025-06")["status"] == "billed"
    err(market.req("GET", "/v1/accounts/acme/invoice?period=2025-06-15"), 409, "partly billed",
        where="period")
    both = "2025-06-01T00:00Z/2025-08-01T00:00Z"
    err(market.req("GET", f"/v1/accounts/acme/invoice?period={both}"), 409, "partly billed")
    july = invoice(market, "acme", "2025-07")
    assert july["status"] == "draft" and july["invoice"]["total"] != "0.00"
    ok(market.req("POST", "/v1/billing/runs", json={"period": "2025-07"}))
    two = invoice(market, "acme", both)
    assert two["status"] == "billed"
    assert Decimal(two["invoice"]["total"]) == Decimal("980.69") + Decimal(
        july["invoice"]["total"])
    assert ledger(market, both)["trial_balance"] == "0.00"


def test_an_appliance_its_own_provider_uses_is_billed_its_costs(market: Any) -> None:
    """An internal appliance (customer = provider) is billed, not skipped: no service lines,
    the instances to the operator (test_billing_internal.py has the rest)."""
    add_usage(market.ctx, month_usage("mine", 3, customer="seekr", hours=2))
    run = ok(market.req("POST", "/v1/billing/runs", json={"period": "2025-06"}))
    assert run["skipped"] == [] and run["appliances"] == ["mine"] and run["posted"] == 2
    seekr = invoice(market, "seekr", "2025-06")
    assert [(ln["counterparty"], ln["amount"]) for ln in seekr["invoice"]["lines"]] == [
        ("operator", "1.20"), ("operator", "0.10")]  # 6 h x 0.20, 2 h x 0.05
    assert seekr["statement"]["lines"] == [] and seekr["position"] == "-1.30"
    assert ledger(market, "2025-06")["unbilled"] == []


def test_an_appliance_with_several_front_end_providers_is_skipped(market: Any) -> None:
    rows = month_usage(hours=2)
    # the first hour's front-end node was eve's, the second hour's (another node) seekr's
    rows[0].update(owner="eve", node="docs-fe0")
    add_usage(market.ctx, rows)
    run = ok(market.req("POST", "/v1/billing/runs", json={"period": "2025-06"}))
    assert run["posted"] == 0 and [s["appliance"] for s in run["skipped"]] == ["docs"]
    assert "eve, seekr" in run["skipped"][0]["reason"]
    assert [u["appliance"] for u in ledger(market, "2025-06")["unbilled"]] == ["docs"]


def test_a_separate_front_end_provider_is_billed_its_prices(market: Any) -> None:
    """The front-end node's owner (from usage) bills the provider its front-end prices."""
    ok(market.req("PUT", "/v1/accounts/eve/frontend-prices", token=market.eve,
                  json={"node_hour": "0.08"}))
    backdate_prices(market.ctx)
    rows = month_usage()
    for r in rows:
        if r["role"] == "frontend":
            r["owner"] = "eve"
    add_usage(market.ctx, rows)
    ok(market.req("POST", "/v1/billing/runs", json={"period": "2025-06"}))
    eve = invoice(market, "eve", "2025-06", token=market.eve)
    assert eve["statement"]["total"] == "57.60"  # 720 h x 0.08 from seekr
    assert eve["invoice"]["total"] == "36.00"  # 720 h x 0.05 to the operator
    assert invoice(market, "acme", "2025-06")["invoice"]["total"] == "980.69"


def test_prices_set_after_a_period_ended_do_not_apply_to_it(market: Any) -> None:
    add_usage(market.ctx, month_usage(hours=10))
    ok(market.req("PUT", "/v1/prices", json={"node_hour": {"backend": "99"}}))  # set now
    ok(market.req("POST", "/v1/billing/runs", json={"period": "2025-06"}))
    seekr = invoice(market, "seekr", "2025-06")
    assert seekr["invoice"]["total"] == "6.50"  # 30 h x 0.20 + 10 h x 0.05, the old prices
    assert ok(market.req("GET", "/v1/prices"))["node_hour"]["backend"] == "99"


def test_who_may_bill_and_read(market: Any) -> None:
    add_usage(market.ctx, month_usage(hours=3))
    err(market.req("POST", "/v1/billing/runs", token=market.acme, json={"period": "2025-06"}),
        403, code="forbidden")
    err(market.req("GET", "/v1/billing/ledger?period=2025-06", token=market.seekr), 403)
    assert posted(market.ctx) == (0, 0)
    ok(market.req("POST", "/v1/billing/runs", json={"period": "2025-06"}))
    invoice(market, "acme", "2025-06", token=market.acme)
    err(market.req("GET", "/v1/accounts/acme/invoice?period=2025-06", token=market.seekr), 404)
    err(market.req("GET", "/v1/accounts/acme/invoice?period=2025-06", token=market.eve), 404)
    err(market.req("GET", "/v1/accounts/acme/invoice?period=2025-06", token=None), 401)


@pytest.mark.parametrize("period", ["2025-13", "2025-06-31", "june", "2025-06-01T00:30Z/"
                                    "2025-06-02T00:00Z", "2025-06-01T00:00/2025-06-02T00:00Z",
                                    "2025-06-02T00:00Z/2025-06-01T00:00Z", "9999-12", ""])
def test_bad_periods_are_400_naming_the_period(market: Any, period: str) -> None:
    for resp in (market.req("POST", "/v1/billing/runs", json={"period": period}),
                 market.req("GET", "/v1/billing/ledger", params={"period": period}),
                 market.req("GET", "/v1/accounts/acme/invoice", params={"period": period})):
        err(resp, 400, where="period")
    err(market.req("GET", "/v1/billing/ledger"), 422, where="period")
    assert posted(market.ctx) == (0, 0)


# --- the stored ledger, for random usage ---------------------------------------------------------

# Twins: each random usage row is metered for both appliances of a pair, one under each billing
# model, each for another customer; so acme and beta must be billed exactly the same.
PAIRS = [(("a1", 1, "acme", "search"), ("a2", 2, "beta", "search2")),
         (("a3", 3, "acme", "search2"), ("a4", 4, "beta", "search"))]
rows = st.lists(st.tuples(
    st.integers(0, len(PAIRS) - 1), st.integers(0, 4 * 24 - 1),
    st.sampled_from([("frontend", "node_ms"), ("backend", "node_ms"), ("backend", "bytes_in"),
                     ("backend", "bytes_out"), ("backend", "connections"),
                     ("backend", "requests")]),
    st.one_of(st.integers(1, HOUR_MS), st.integers(1, 10**13))), max_size=40)


# --- the CLI, against the real API ---------------------------------------------------------------


@pytest.fixture
def cli(market: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """`facade ...` with the operator's token, its requests served by the test's control plane."""
    from facade.cli import client
    from facade.cli.main import app
    from tests.clirunner import CliRunner

    monkeypatch.setattr(client, "transport_factory", lambda: market.client._transport)
    monkeypatch.setenv("FACADE_URL", "http://testserver")
    monkeypatch.setenv("FACADE_HOME", str(tmp_path / "cli-home"))

    def run(*args: str, token: str | None = None) -> Any:
        monkeypatch.setenv("FACADE_TOKEN", token or market.token)
        return CliRunner().invoke(app, list(args))

    return run


def test_cli_sets_prices_bills_and_shows_invoices(market: Any, cli: Any) -> None:
    res = cli("service", "create", "cheap", "-a", "seekr", "--port", "80", "--workload",
              "http-echo", "--backend-subnet", "seekr-vpc/backend", "--management-subnet",
              "seekr-vpc/mgmt", "--price-backend-hour", "0.12", "--price-gb", "0.01",
              "--billing-model", "operator-bills")
    assert res.exit_code == 0, res.output
    svc = ok(market.req("GET", "/v1/services/cheap"))
    assert svc["billing_model"] == "operator-bills"
    assert svc["prices"]["node_hour"] == {"frontend": "0", "backend": "0.12"}
    assert svc["prices"]["per_gb"] == "0.01"
    res = cli("service", "create", "bad", "-a", "seekr", "--port", "80", "--workload",
              "http-echo", "--backend-subnet", "seekr-vpc/backend", "--management-subnet",
              "seekr-vpc/mgmt", "--price-gb", "cheap")
    assert res.exit_code != 0 and "prices.per_gb" in res.output
    assert cli("prices", "set", "--backend-hour", "0.3").exit_code == 0
    assert ok(market.req("GET", "/v1/prices"))["node_hour"]["backend"] == "0.3"
    res = cli("prices", "set", "--backend-hour", "1", token=market.acme)
    assert res.exit_code != 0 and "operator" in res.output
    assert "0.3" in cli("prices", "show").output
    res = cli("prices", "frontend", "eve", "--node-hour", "0.07", token=market.eve)
    assert res.exit_code == 0 and "0.07" in res.output

    add_usage(market.ctx, month_usage())
    res = cli("invoice", "acme", "--period", "2025-06")
    assert res.exit_code == 0 and "DRAFT" in res.output and "980.69" in res.output
    res = cli("bill", "--period", "2025-06", token=market.acme)
    assert res.exit_code != 0 and "operator" in res.output
    res = cli("bill", "--period", "2025-06")
    assert res.exit_code == 0, res.output
    assert "run 1 posted 6" in res.output and "trial balance USD 0.00" in res.output
    assert "nothing new" in cli("bill", "--period", "2025-06").output
    res = cli("invoice", "acme", "--period", "2025-06", token=market.acme)
    assert res.exit_code == 0 and "billed" in res.output and "TOTAL" in res.output
    assert "net position USD -980.69" in res.output
    res = cli("ledger", "--period", "2025-06")
    assert res.exit_code == 0 and "receivable:acme" in res.output and "980.69" in res.output
    res = cli("ledger", "--period", "2025-06-31")
    assert res.exit_code != 0 and "period" in res.output
    data = json.loads(cli("invoice", "seekr", "--period", "2025-06", "--json").output)
    assert data["statement"]["total"] == "980.69"


# --- scenario files ------------------------------------------------------------------------------

SCENARIO = """\
accounts:
  - name: seekr
  - name: lbco
prices:
  currency: USD
  instances: {node_hour: {frontend: "0.05", backend: "0.20"}}
  frontend: {lbco: "0.08"}
networks:
  - {name: seekr-vpc, account: seekr, cidr: 10.0.0.0/16,
     subnets: [{name: backend, cidr: 10.0.1.0/24}, {name: mgmt, cidr: 10.0.200.0/24}]}
services:
  - name: search
    account: seekr
    workload: http-echo
    port: 80
    backend_subnet: seekr-vpc/backend
    management_subnet: seekr-vpc/mgmt
    billing_model: operator-bills
    prices:
      node_hour: {frontend: "0.10", backend: "0.40"}
      per_gb: "0.0123456"
"""


def apply(api: Any, text: str, token: str = "op") -> Any:
    return api.req("POST", "/v1/apply", token=token, json={"yaml": text, "filename": "b.yaml"})


def test_a_scenario_sets_prices_and_service_prices(api: Any) -> None:
    changes = ok(apply(api, SCENARIO))["changes"]
    assert {"action": "updated", "kind": "prices", "name": "instances"} in changes
    assert ok(api.req("GET", "/v1/prices"))["node_hour"] == {"frontend": "0.05",
                                                             "backend": "0.20"}
    assert ok(api.req("GET", "/v1/accounts/lbco/frontend-prices"))["node_hour"] == "0.08"
    svc = ok(api.req("GET", "/v1/services/search"))
    assert svc["billing_model"] == "operator-bills"
    assert svc["prices"]["node_hour"]["backend"] == "0.40"
    assert svc["prices"]["per_gb"] == "0.0123456" and svc["prices"]["per_connection"] == "0"
    again = ok(apply(api, SCENARIO))["changes"]
    assert all(c["action"] == "unchanged" for c in again), again
    # a service's prices are fixed once it exists: another price is a conflict at its line
    e = err(apply(api, SCENARIO.replace('per_gb: "0.0123456"', 'per_gb: "0.02"')), 409,
            "prices")
    assert e["where"].startswith("b.yaml:12")
    err(apply(api, SCENARIO.replace("operator-bills", "provider-bills")), 409, "billing_model")
    # new instance prices in a file are a new price list
    changed = ok(apply(api, SCENARIO.replace('backend: "0.20"', 'backend: "0.25"')))["changes"]
    assert {"action": "updated", "kind": "prices", "name": "instances"} in changed
    assert ok(api.req("GET", "/v1/prices"))["node_hour"]["backend"] == "0.25"


@pytest.mark.parametrize(("old", "new", "line", "words"), [
    ('per_gb: "0.0123456"', "per_gb: 0.0123456", 21, "float"),
    ('backend: "0.40"}', 'gpu: "0.40"}', 20, "unknown role"),
    ("operator-bills", "customer-bills", 18, "billing model"),
    ('lbco: "0.08"', 'lbco: "-0.08"', 7, "negative"),
    ("currency: USD", "currency: dollars", 5, "three capital"),
    ('{node_hour: {frontend: "0.05"', '{node_hours: {frontend: "0.05"', 6, "unknown key"),
])
def test_bad_prices_in_a_scenario_name_the_line(api: Any, old: str, new: str, line: int,
                                                words: str) -> None:
    text = SCENARIO.replace(old, new)
    assert text != SCENARIO
    e = err(apply(api, text), 400, words)
    assert e["where"] == f"b.yaml:{line}", e
    assert api.items("/v1/services") == []
    assert ok(api.req("GET", "/v1/prices"))["node_hour"]["backend"] == "0"


def test_only_the_operator_sets_instance_prices_from_a_file(market: Any) -> None:
    text = 'prices: {instances: {node_hour: {backend: "9"}}}\n'
    err(apply(market, text, token=market.seekr), 403)
    assert ok(market.req("GET", "/v1/prices"))["node_hour"]["backend"] == "0.20"
    mine = 'prices: {frontend: {seekr: "0.09"}}\n'
    assert ok(apply(market, mine, token=market.seekr))["changes"][0]["action"] == "updated"
    err(apply(market, 'prices: {frontend: {acme: "0.09"}}\n', token=market.seekr), 404)
