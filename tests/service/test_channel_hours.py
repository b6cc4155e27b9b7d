"""Channel hours through the API on the fake data plane (docs/metering.md and docs/billing.md,
"The edge"): a private channel (a VPN) is held by its owner from its creation to its
deletion, its price is on the operator's price list, and a billing run puts one channel-hour
line per channel on its owner's invoice, payable to the operator, under both billing models
(the pure arithmetic: tests/unit/test_edge_billing.py)."""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from facade.domain.metering import to_ms
from facade.store.models import EdgeHolding
from tests.service.helpers import err, ok
from tests.service.test_billing_runs import (
    INSTANCE_PRICES,
    JUNE,
    add_usage,
    backdate_prices,
    invoice,
    ledger,
    month_usage,
    service_body,
)

H = 3_600_000
JUNE_PERIOD = "2025-06-01T00:00:00+00:00/2025-07-01T00:00:00+00:00"


@pytest.fixture
def market(api: Any) -> Any:
    """test_billing_runs.py's market: customers acme (of the provider-bills service `search`)
    and beta (of the operator-bills `search2`), provider seekr, the instance prices set."""
    for name in ("acme", "beta", "seekr"):
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


def _channel(api: Any, account: str, second: int) -> None:
    """`account`'s network, site and channel `<account>-link` (through the API)."""
    cidr = f"10.{second}.0.0/16"
    ok(api.req("POST", "/v1/networks", json={
        "name": f"{account}-net", "account": account, "cidr": cidr,
        "subnets": [{"name": "app", "cidr": f"10.{second}.1.0/24"}]}), 201)
    ok(api.req("POST", "/v1/sites", json={"name": f"{account}-hq", "account": account,
                                          "cidr": f"192.168.{second}.0/24"}), 201)
    ok(api.req("POST", "/v1/vpns", json={"name": f"{account}-link", "network": f"{account}-net",
                                         "site": f"{account}-hq"}), 201)


def _holding(api: Any, name: str) -> EdgeHolding:
    with api.ctx.read() as s:
        rows = list(s.scalars(select(EdgeHolding).where(EdgeHolding.kind == "vpn",
                                                        EdgeHolding.subject == name)))
    assert len(rows) == 1, rows
    return rows[0]


def _retime(api: Any, name: str, start: dt.datetime, end: dt.datetime | None) -> None:
    """Move a channel's holding into the past (a billing run bills only ended periods)."""
    with api.ctx.write() as s:
        row = s.scalar(select(EdgeHolding).where(EdgeHolding.kind == "vpn",
                                                 EdgeHolding.subject == name))
        assert row is not None
        row.start_ms, row.end_ms = to_ms(start), None if end is None else to_ms(end)


def _usage(api: Any, token: str, query: str = "") -> list[dict[str, Any]]:
    return list(ok(api.req("GET", f"/v1/usage/channels{query}", token=token))["items"])


def test_a_channel_is_held_by_its_owner_from_creation_to_deletion(market: Any) -> None:
    api = market
    before = to_ms(dt.datetime.now(dt.UTC))
    _channel(api, "acme", 1)
    held = _holding(api, "acme-link")
    assert (held.account, held.detail, held.end_ms) == ("acme", "", None)
    assert before <= held.start_ms <= to_ms(dt.datetime.now(dt.UTC))
    (row,) = _usage(api, api.acme)
    assert (row["channel"], row["account"], row["held_until"]) == ("acme-link", "acme", None)
    assert row["held_from"] is not None and Decimal(row["channel_hours"]) >= 0
    # another account sees none of it and may not ask for acme's; bad input names its field
    assert _usage(api, api.beta) == []
    err(api.req("GET", "/v1/usage/channels?account=acme", token=api.beta), 403,
        where="account")
    err(api.req("GET", "/v1/usage/channels?period=2026-13", token=api.acme), 400,
        where="period")
    err(api.req("GET", "/v1/usage/channels?channel=Bad!", token=api.acme), 400,
        where="channel")
    # no public address is billed for it: the public-IP usage stays empty
    assert ok(api.req("GET", "/v1/usage/public-ips", token=api.acme))["items"] == []
    ok(api.req("DELETE", "/v1/vpns/acme-link"), 204)
    gone = _holding(api, "acme-link")
    assert gone.end_ms is not None and gone.end_ms >= gone.start_ms
    (row,) = _usage(api, api.acme, "?channel=acme-link")
    assert row["held_until"] is not None
    time.sleep(0.01)
    assert _usage(api, api.acme, "?channel=acme-link") == [row]  # no longer accrues
    # made again under the same name: another channel, another holding
    ok(api.req("POST", "/v1/vpns", json={"name": "acme-link", "network": "acme-net",
                                         "site": "acme-hq"}), 201)
    rows = _usage(api, "op", "?account=acme")
    assert [r["held_until"] is None for r in rows] == [False, True]


def test_the_channel_price_is_on_the_operators_price_list(market: Any) -> None:
    api = market
    got = ok(api.req("PUT", "/v1/prices/edge", json={"channel_hour": "0.05"}))
    edge = {"public_ip_hour": "0", "gateway_per_gb": "0", "channel_hour": "0.05"}
    assert got["edge"] == edge
    assert ok(api.req("GET", "/v1/prices", token=api.acme))["edge"] == edge
    # the instance prices set after: the edge prices stay
    ok(api.req("PUT", "/v1/prices", json={"node_hour": {"backend": "0.30"}}))
    assert ok(api.req("GET", "/v1/prices"))["edge"] == edge
    before = ok(api.req("GET", "/v1/prices"))
    err(api.req("PUT", "/v1/prices/edge", json={"channel_hour": "1"}, token=api.acme), 403,
        code="forbidden")
    err(api.req("PUT", "/v1/prices/edge", json={"channel_hour": "-0.05"}), 400, "negative",
        where="prices.channel_hour")
    err(api.req("PUT", "/v1/prices/edge", json={"channel_hour": "0.12345678901"}), 400,
        where="prices.channel_hour")
    err(api.req("PUT", "/v1/prices/edge", json={"channel_hour": "cheap"}), 400,
        where="prices.channel_hour")
    err(api.req("PUT", "/v1/prices/edge", json={"channel_hour": 0.05}), 422,
        where="channel_hour")
    assert ok(api.req("GET", "/v1/prices")) == before


def test_the_channel_price_from_a_scenario_file(market: Any) -> None:
    api = market
    text = 'prices:\n  edge: {channel_hour: "0.05"}\n'
    got = ok(api.req("POST", "/v1/apply", json={"yaml": text}))
    assert [c["action"] for c in got["changes"]] == ["updated"]
    assert ok(api.req("GET", "/v1/prices"))["edge"]["channel_hour"] == "0.05"
    again = ok(api.req("POST", "/v1/apply", json={"yaml": text}))
    assert [c["action"] for c in again["changes"]] == ["unchanged"]
    bad = err(api.req("POST", "/v1/apply", json={
        "yaml": 'prices:\n  edge: {channel_hour: "-1"}\n'}), 400, "negative")
    assert bad["where"] == "<scenario>:2" and "edge.channel_hour" in bad["message"]


def test_channel_hours_on_invoices_under_both_billing_models(market: Any) -> None:
    """June 2025: acme uses the provider-bills service `search` and held its channel all
    month (made in May, still there); beta uses the operator-bills `search2` and held its
    channel 10.5 days (made and deleted inside June). 0.05 per channel-hour."""
    api = market
    add_usage(api.ctx, month_usage())
    add_usage(api.ctx, month_usage("docs2", 2, customer="beta", service="search2"))
    ok(api.req("PUT", "/v1/prices/edge", json={"channel_hour": "0.05"}))
    backdate_prices(api.ctx)
    _channel(api, "acme", 1)
    _channel(api, "beta", 2)
    ok(api.req("DELETE", "/v1/vpns/beta-link"), 204)
    _retime(api, "acme-link", JUNE - dt.timedelta(days=12), None)
    _retime(api, "beta-link", JUNE + dt.timedelta(days=9),
            JUNE + dt.timedelta(days=19, hours=12))
    draft = invoice(api, "acme", "2025-06", token=api.acme)
    assert draft["status"] == "draft"
    book = ledger(api, "2025-06")
    assert [(u["channel"], u["account"], u["held_ms"]) for u in book["unbilled_channels"]] == [
        ("acme-link", "acme", 720 * H), ("beta-link", "beta", 252 * H)]
    assert book["unbilled_public_ips"] == []
    run = ok(api.req("POST", "/v1/billing/runs", json={"period": "2025-06"}))
    assert run["run"] == 1 and run["trial_balance"] == "0.00"
    assert run["channels"] == ["acme-link", "beta-link"] and run["public_ips"] == []
    assert run["appliances"] == ["docs", "docs2"]
    for account, model_payee, hours, amount, total in (
            ("acme", "seekr", "720", "36.00", "1016.69"),  # provider-bills: 980.69 + 36.00
            ("beta", "operator", "252", "12.60", "993.29")):  # operator-bills: 980.69 + 12.60
        got = invoice(api, account, "2025-06")
        assert got["status"] == "billed"
        chan = [ln for ln in got["invoice"]["lines"] if "VPN channel" in ln["description"]]
        assert [(ln["description"], ln["quantity"], ln["unit"], ln["unit_price"], ln["amount"],
                 ln["counterparty"]) for ln in chan] == [
            (f"VPN channel {account}-link: channel-hours", hours, "channel-hour", "0.05",
             amount, "operator")]  # and no data line: a channel has no gateway bytes
        others = {ln["counterparty"] for ln in got["invoice"]["lines"] if ln not in chan}
        assert others == {model_payee}
        assert got["invoice"]["total"] == total
    assert invoice(api, "acme", "2025-06", token=api.acme)["invoice"] == draft["invoice"]
    op = invoice(api, "operator", "2025-06")
    # 2 x 468.00 of instance node-hours + 48.60 of channel-hours (+ search2's service lines,
    # which the operator bills beta and owes seekr)
    chan_in = [ln for ln in op["statement"]["lines"] if "VPN channel" in ln["description"]]
    assert sorted(ln["amount"] for ln in chan_in) == ["12.60", "36.00"]
    assert Decimal(op["position"]) == 2 * Decimal("468.00") + Decimal("48.60")
    after = ledger(api, "2025-06")
    assert after["trial_balance"] == "0.00" and after["unbilled_channels"] == []
    again = ok(api.req("POST", "/v1/billing/runs", json={"period": "2025-06"}))
    assert (again["run"], again["posted"], again["channels"]) == (None, 0, [])
    # July: acme's channel still held (up to the period's end), beta's gone: nothing of beta
    july = ok(api.req("POST", "/v1/billing/runs", json={"period": "2025-07"}))
    assert july["channels"] == ["acme-link"]
    assert invoice(api, "beta", "2025-07")["invoice"]["lines"] == []


SCENARIO = """\
networks:
  - {name: acme-net, account: acme, cidr: 10.1.0.0/16,
     subnets: [{name: app, cidr: 10.1.1.0/24}]}
sites:
  - {name: acme-hq, account: acme, cidr: 192.168.1.0/24}
vpns:
  - {name: acme-link, network: acme-net, site: acme-hq}
"""


def test_a_channel_from_a_scenario_file_is_held_until_destroyed(market: Any) -> None:
    api = market
    ok(api.req("POST", "/v1/apply", json={"yaml": SCENARIO}))
    held = _holding(api, "acme-link")
    assert (held.account, held.end_ms) == ("acme", None)
    ok(api.req("POST", "/v1/apply", json={"yaml": SCENARIO}))  # unchanged: the same holding
    assert _holding(api, "acme-link").id == held.id
    ok(api.req("POST", "/v1/destroy", json={"yaml": SCENARIO}))
    assert _holding(api, "acme-link").end_ms is not None
    # the network and site went after the channel; the account can go now (its ended
    # channel's row with it) and what it held stays to be billed
    assert api.req("DELETE", "/v1/accounts/acme").status_code == 204
    assert [(r["channel"], r["account"]) for r in _usage(api, "op")] == [("acme-link", "acme")]
