"""Internal appliances in billing (docs/billing.md, "Internal appliances"), through the API: a
billing run of a real internal appliance whose usage rows carry the parties metering sees
(`desired.build`), checked in the stored ledger rows (not the code's own view), the invoices,
re-runs and late usage (the pure domain: tests/unit/test_billing_internal.py)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from facade.service import desired
from facade.store.models import LedgerTransaction, PriceList, UsageRecord
from tests.service.helpers import ok, settle
from tests.unit.test_billing_runs import HOUR_MS, hour_of
from tests.unit.test_billing_runs import JUNE as JUNE_AT

# the worked example's usage (720 front-end and 2,160 backend node-hours, 2,000 GB, 10^6
# connections) at its prices: service 980.69; backend instances 2160 x 0.20 = 432.00, front-end
# instances 720 x 0.05 = 36.00, front-end fee 720 x 0.08 = 57.60


# --- a billing run through the API ---------------------------------------------------------------

WORLD = """
accounts: [{name: acme}, {name: beta}]
prices:
  instances: {node_hour: {frontend: "0.05", backend: "0.20"}}
networks:
  - {name: vpc, account: acme, cidr: 10.0.0.0/16,
     subnets: [{name: front, cidr: 10.0.1.0/24}, {name: back, cidr: 10.0.2.0/24},
               {name: mgmt, cidr: 10.0.3.0/24}]}
  - {name: bvpc, account: beta, cidr: 10.1.0.0/16, subnets: [{name: front, cidr: 10.1.1.0/24}]}
services:
  - name: echo
    account: acme
    workload: http-echo
    port: 8080
    backend_subnet: vpc/back
    management_subnet: vpc/mgmt
    billing_model: MODEL
    prices:
      node_hour: {frontend: "0.10", backend: "0.40"}
      per_gb: "0.0123456"
      per_connection: "0.00002"
appliances:
  - {name: app, account: acme, service: echo, subnet: vpc/front, backends: 2}
  - {name: bapp, account: beta, service: echo, subnet: bvpc/front, backends: 2}
"""
HOURS = 100  # per node: 100 front-end and 200 backend node-hours per appliance


def _metered_usage(api: Any, appliance: str, start_hour: int, hours: int) -> list[UsageRecord]:
    """Usage rows for `appliance` as metering writes them: its nodes, parties and owners from
    the desired state the worker meters (`desired.build`), node time for every hour, plus
    1 TB in, 1 TB out and 10^6 connections on one backend."""
    with api.ctx.read() as s:
        nodes = [n for n in desired.build(s, api.ctx.home).metered if n.appliance == appliance]
    assert sorted(n.role for n in nodes) == ["backend", "backend", "frontend"]
    rows = []
    for n in nodes:
        who = {"customer": n.customer, "provider": n.provider, "owner": n.owner,
               "service": n.service, "appliance_id": n.appliance_id,
               "appliance": n.appliance, "node": n.name, "role": n.role}
        rows += [UsageRecord(**who, hour=h, metric="node_ms", quantity=HOUR_MS)
                 for h in range(start_hour, start_hour + hours)]
    b1 = {"customer": nodes[0].customer, "provider": nodes[0].provider,
          "service": nodes[0].service, "appliance_id": nodes[0].appliance_id,
          "appliance": appliance}
    be = next(n for n in nodes if n.role == "backend")
    for metric, qty in (("bytes_in", 10**12), ("bytes_out", 10**12), ("connections", 10**6)):
        rows.append(UsageRecord(**b1, owner=be.owner, node=be.name, role="backend",
                                hour=start_hour + 3, metric=metric, quantity=qty))
    return rows


def _stored(api: Any) -> list[LedgerTransaction]:
    with api.ctx.read() as s:
        rows = list(s.scalars(select(LedgerTransaction)))
        for r in rows:
            _ = list(r.postings)
        return rows


@pytest.mark.parametrize("model", ["provider-bills", "operator-bills"])
def test_a_billing_run_bills_an_internal_appliance_its_costs(api: Any, model: str) -> None:
    ok(api.req("POST", "/v1/apply", json={"yaml": WORLD.replace("MODEL", model),
                                           "filename": "internal.yaml"}))
    settle(api)
    app = ok(api.req("GET", "/v1/appliances/app"))
    assert app["account"] == app["provider"] == "acme"
    with api.ctx.write() as s:  # prices in force long before June 2025
        for row in s.scalars(select(PriceList)):
            row.from_hour -= 24 * 3650
        start = hour_of(JUNE_AT)
        rows = _metered_usage(api, "app", start, HOURS) + _metered_usage(api, "bapp", start,
                                                                         HOURS)
        # the operator's own internal appliance (made by hand: nothing is owed to itself)
        rows += [UsageRecord(customer="operator", provider="operator", owner="operator",
                             service="opsvc", appliance_id=999, appliance="opapp",
                             node="opapp-b1", role="backend", hour=start + h,
                             metric="node_ms", quantity=HOUR_MS) for h in range(5)]
        s.add_all(rows)
    assert {r.customer for r in rows if r.appliance == "app"} == {"acme"}
    assert {r.provider for r in rows if r.appliance == "app"} == {"acme"}

    run = ok(api.req("POST", "/v1/billing/runs", json={"period": "2025-06"}))
    assert run["skipped"] == [] and run["run"] == 1 and run["trial_balance"] == "0.00"
    assert run["appliances"] == ["app", "bapp"]  # opapp: billed, nothing to post

    # the stored rows: nobody owes itself, no service line or share for the internal one
    txs = _stored(api)
    assert txs and all(t.payer != t.payee for t in txs)
    for t in txs:
        debit = {p.account for p in t.postings if p.side == "debit"}
        credit = {p.account for p in t.postings if p.side == "credit"}
        assert {a.split(":")[1] for a in debit} != {a.split(":")[1] for a in credit}
    app_id = next(r.appliance_id for r in rows if r.appliance == "app")
    mine = [t for t in txs if t.id.startswith(f"bill:{app_id}:")]
    assert sorted((t.payer, t.payee, t.postings[0].amount) for t in mine) == [
        ("acme", "operator", "40.00"), ("acme", "operator", "5.00")]  # 200 h x 0.20, 100 h x 0.05
    assert not [t for t in txs if "opapp" in (t.description or "")]
    assert run["posted"] == len(txs)

    # 100 h x 0.10 + 200 h x 0.40 + 2000 GB x 0.0123456 (24.69) + 10^6 x 0.00002 = 134.69
    beta = ok(api.req("GET", "/v1/accounts/beta/invoice?period=2025-06"))
    assert beta["invoice"]["total"] == "134.69"
    acme = ok(api.req("GET", "/v1/accounts/acme/invoice?period=2025-06"))
    assert acme["status"] == "billed" and acme["position"] == "44.69"  # 134.69 - 2 x 45.00
    lines = acme["invoice"]["lines"] + acme["statement"]["lines"]
    assert all(ln_["counterparty"] != "acme" for ln_ in lines)
    own = [(ln_["description"], ln_["counterparty"], ln_["amount"])
           for ln_ in acme["invoice"]["lines"] if ln_["description"].startswith("app:")]
    assert own == [("app: backend instance node-hours", "operator", "40.00"),
                   ("app: front-end instance node-hours", "operator", "5.00")]
    assert not [ln_ for ln_ in acme["statement"]["lines"] if ln_["description"].startswith("app:")]
    book = ok(api.req("GET", "/v1/billing/ledger?period=2025-06"))
    balances = {a["account"]: a["balance"] for a in book["accounts"]}
    if model == "provider-bills":
        assert acme["invoice"]["total"] == "90.00" and acme["statement"]["total"] == "134.69"
        assert balances == {"receivable:acme": "90.00", "payable:acme": "-134.69",
                            "receivable:beta": "134.69", "payable:operator": "-90.00"}
    else:
        assert acme["invoice"]["total"] == "45.00" and acme["statement"]["total"] == "89.69"
        assert balances == {"receivable:acme": "45.00", "payable:acme": "-89.69",
                            "receivable:beta": "134.69", "receivable:operator": "89.69",
                            "payable:operator": "-179.69"}
    assert book["trial_balance"] == "0.00" and book["unbilled"] == []
    op = ok(api.req("GET", "/v1/accounts/operator/invoice?period=2025-06"))
    assert op["position"] == "90.00"  # the instances of both appliances, nothing from opapp

    # idempotent: a second run posts nothing
    again = ok(api.req("POST", "/v1/billing/runs", json={"period": "2025-06"}))
    assert again["posted"] == 0 and again["run"] is None and again["skipped"] == []
    assert len(_stored(api)) == len(txs)

    # late usage of the internal appliance: 10 backend node-hours metered into June afterwards
    late = [r for r in _metered_usage(api, "app", start + 200, 10)
            if r.role == "backend" and r.metric == "node_ms"]
    with api.ctx.write() as s:
        s.add_all([r for r in late if r.node == late[0].node])
    assert [u["appliance"] for u in ok(api.req(
        "GET", "/v1/billing/ledger?period=2025-06"))["unbilled"]] == ["app"]
    adj = ok(api.req("POST", "/v1/billing/runs", json={"period": "2025-06"}))
    assert adj["run"] == 2 and adj["posted"] == 1 and adj["appliances"] == ["app"]
    after = ok(api.req("GET", "/v1/accounts/acme/invoice?period=2025-06"))
    extra = [ln_ for ln_ in after["invoice"]["lines"] if ln_ not in acme["invoice"]["lines"]]
    assert [(e["description"], e["counterparty"], e["amount"]) for e in extra] == [
        ("app: backend instance node-hours (late usage, run 2)", "operator", "2.00")]
    assert Decimal(after["position"]) == Decimal("42.69")
    book = ok(api.req("GET", "/v1/billing/ledger?period=2025-06"))
    assert book["trial_balance"] == "0.00" and book["unbilled"] == []
    assert all(t.payer != t.payee for t in _stored(api))
