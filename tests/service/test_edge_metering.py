"""Metering and billing at the edge through the API, on the fake data plane (docs/metering.md
and docs/billing.md, "The edge"): a public address's gateway bytes follow it through remaps
(inside a network, to another network's gateway, a router made again) and stay its holder's;
its hours run from allocation to release; the edge prices on the operator's price list; a
month's billing run, its invoice and statement, a second run, late bytes (the pure arithmetic:
tests/unit/test_edge_billing.py; the kernel: tests/integration/test_edge_e2e.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from facade.domain import names
from facade.domain.metering import to_ms
from facade.service import edge_metering
from facade.store.models import EdgeHolding, EdgeUsage, PriceList
from tests import prom
from tests.service.helpers import err, ok

H = 3_600_000


def _usage(api: Any, address: str, token: str | None = "op") -> dict[str, Any]:
    rows = ok(api.req("GET", f"/v1/usage/public-ips?address={address}", token=token))["items"]
    assert len(rows) == 1, rows
    return dict(rows[0])


def _stem(api: Any, router: str) -> str:
    (stem,) = {name.rsplit("_", 1)[0] for name in api.dp.counters[router]}
    return stem


def test_gateway_bytes_follow_an_address_through_remaps_and_stay_its_holders(
        world: Any) -> None:
    api = world
    api.changed = True
    nets = {}
    for name, cidr in (("one", "10.1.0.0/16"), ("two", "10.2.0.0/16")):
        nets[name] = ok(api.req("POST", "/v1/networks", json={
            "name": name, "account": "acme", "cidr": cidr, "public_gateway": True,
            "subnets": [{"name": "app", "cidr": cidr.replace("0.0/16", "1.0/24")}]}), 201)
    for vm, net in (("vm-a", "one"), ("vm-b", "one"), ("vm-c", "two")):
        ok(api.req("POST", "/v1/instances", json={
            "name": vm, "account": "acme", "interfaces": [{"subnet": f"{net}/app"}]}), 201)
    one, two = nets["one"]["router"], nets["two"]["router"]
    one_id, two_id = names.router_id(one), names.router_id(two)
    assert one_id is not None and two_id is not None
    address = ok(api.req("POST", "/v1/public-ips", json={}, token=api.acme), 201)["address"]
    assert api.dp.counters.get(one, {}) == {}  # held, not associated: nothing to count yet
    ok(api.req("POST", f"/v1/public-ips/{address}/associate", json={"instance": "vm-a"},
               token=api.acme))
    stem = _stem(api, one)
    api.dp.count_bytes(one, f"{stem}_in", 1000)
    api.dp.count_bytes(one, f"{stem}_out", 300)
    edge_metering.last_read(api.ctx, one_id)
    use = _usage(api, address, api.acme)
    assert (use["bytes_in"], use["bytes_out"], use["account"], use["kind"]) == \
        (1000, 300, "acme", "customer")
    assert use["held_until"] is None and use["held_from"] is not None
    edge_metering.last_read(api.ctx, one_id)  # read again: nothing counted twice
    assert _usage(api, address)["bytes_in"] == 1000
    # a remap inside the network: the same counters, still counting
    ok(api.req("POST", f"/v1/public-ips/{address}/associate", json={"instance": "vm-b"},
               token=api.acme))
    api.dp.count_bytes(one, f"{stem}_in", 500)
    edge_metering.last_read(api.ctx, one_id)
    assert _usage(api, address)["bytes_in"] == 1500
    # a remap to another network's gateway: what the old one counted since the last read is
    # read by its reconcile before its counters go (no read of ours in between)
    api.dp.count_bytes(one, f"{stem}_in", 200)
    ok(api.req("POST", f"/v1/public-ips/{address}/associate", json={"instance": "vm-c"},
               token=api.acme))
    assert api.dp.counters[one] == {} and _stem(api, two) == stem
    assert _usage(api, address)["bytes_in"] == 1700
    api.dp.count_bytes(two, f"{stem}_in", 50)
    edge_metering.last_read(api.ctx, two_id)
    assert _usage(api, address)["bytes_in"] == 1750
    # the router made again: its counters start from 0 under a new epoch, counted whole
    api.dp.counters[two][f"{stem}_in"] = [999, 25]
    edge_metering.last_read(api.ctx, two_id)
    assert _usage(api, address)["bytes_in"] == 1775
    # the engine's reader writes nothing when no counter moved
    meter = edge_metering.GatewayMeter()
    gws = [edge_metering.Gateway(two_id, two)]
    assert meter.round(api.ctx, gws) == 0
    generation = api.ctx.generation
    api.dp.count_bytes(two, f"{stem}_out", 7)
    assert meter.round(api.ctx, gws) == 7 and meter.round(api.ctx, gws) == 0
    assert api.ctx.generation == generation  # usage writes wake no reconciler's view
    # another account sees none of it, and may not ask for acme's
    assert ok(api.req("GET", "/v1/usage/public-ips", token=api.searchco))["items"] == []
    err(api.req("GET", "/v1/usage/public-ips?account=acme", token=api.searchco), 403,
        where="account")
    err(api.req("GET", "/v1/usage/public-ips?period=2026-13", token=api.acme), 400,
        where="period")
    err(api.req("GET", "/v1/usage/public-ips?address=nope", token=api.acme), 400,
        where="address")
    # released: its hours stop, its usage stays
    ok(api.req("POST", f"/v1/public-ips/{address}/disassociate", token=api.acme))
    assert api.req("DELETE", f"/v1/public-ips/{address}", token=api.acme).status_code == 204
    use = _usage(api, address, api.acme)
    assert use["held_until"] is not None and (use["bytes_in"], use["bytes_out"]) == (1775, 307)


def test_a_standard_address_is_held_while_its_instance_has_it(world: Any) -> None:
    api = world
    api.changed = True
    ok(api.req("POST", "/v1/networks", json={
        "name": "one", "account": "acme", "cidr": "10.1.0.0/16", "public_gateway": True,
        "subnets": [{"name": "app", "cidr": "10.1.1.0/24"}]}), 201)
    vm = ok(api.req("POST", "/v1/instances", json={
        "name": "web", "account": "acme", "interfaces": [{"subnet": "one/app"}],
        "public_ip": True}), 201)
    (address,) = vm["public_ips"]
    use = _usage(api, address, api.acme)
    assert use["kind"] == "standard" and use["held_until"] is None
    assert api.req("DELETE", "/v1/instances/web").status_code in (200, 202, 204)
    assert _usage(api, address)["held_until"] is not None


def test_the_edge_prices_are_on_the_operators_price_list(world: Any) -> None:
    api = world
    api.changed = True
    body = {"public_ip_hour": "0.005", "gateway_per_gb": "0.09"}
    got = ok(api.req("PUT", "/v1/prices/edge", json=body))
    body["channel_hour"] = "0"  # left out: 0
    assert got["edge"] == body and got["node_hour"] == {"frontend": "0", "backend": "0"}
    assert ok(api.req("GET", "/v1/prices", token=api.acme))["edge"] == body
    # instance prices set after: the edge prices stay
    ok(api.req("PUT", "/v1/prices", json={"node_hour": {"backend": "0.20"}}))
    assert ok(api.req("GET", "/v1/prices"))["edge"] == body
    before = ok(api.req("GET", "/v1/prices"))
    err(api.req("PUT", "/v1/prices/edge", json=body, token=api.acme), 403, code="forbidden")
    err(api.req("PUT", "/v1/prices/edge", json={"public_ip_hour": "-1"}), 400, "negative",
        where="prices.public_ip_hour")
    err(api.req("PUT", "/v1/prices/edge", json={"gateway_per_gb": 0.09}), 422,
        where="gateway_per_gb")
    err(api.req("PUT", "/v1/prices/edge", json={"per_ip": "1"}), 422, where="per_ip")
    err(api.req("PUT", "/v1/prices/edge", json={"currency": "EUR"}), 400,
        where="prices.currency")
    assert ok(api.req("GET", "/v1/prices")) == before


def _hour(text: str) -> int:
    return to_ms(dt.datetime.fromisoformat(text)) // H


def test_a_months_addresses_are_billed_to_their_holders_once_and_late_bytes_after(
        world: Any) -> None:
    """October 2026: acme held a customer address 10.5 days (allocated and released inside
    the month) and a standard one all month (allocated in September, still held); searchco
    one for an hour; the operator one (charged to no one)."""
    api = world
    api.changed = True
    with api.ctx.write() as s:
        s.add(PriceList(kind="edge", subject="", from_hour=0, currency="USD",
                        public_ip_hour="0.005", per_gb="0.09"))
        for sid, subject, account, detail, start, end in (
                (901, "203.0.113.201", "acme", "customer", "2026-10-10T00:00Z",
                 "2026-10-20T12:00Z"),
                (902, "203.0.113.202", "acme", "standard", "2026-09-25T00:00Z", None),
                (903, "203.0.113.203", "searchco", "customer", "2026-10-31T23:00Z",
                 "2026-11-01T05:00Z"),
                (904, "203.0.113.204", "operator", "customer", "2026-10-01T00:00Z", None)):
            s.add(EdgeHolding(kind="public-ip", subject_id=sid, subject=subject,
                              account=account, detail=detail,
                              start_ms=_hour(start) * H,
                              end_ms=None if end is None else _hour(end) * H))
        for sid, subject, metric, quantity, hour in (
                (901, "203.0.113.201", "bytes_in", 2 * 10**9, "2026-10-11T05:00Z"),
                (901, "203.0.113.201", "bytes_out", 10**9, "2026-10-12T05:00Z"),
                (902, "203.0.113.202", "bytes_in", 10**9, "2026-10-03T00:00Z"),
                (902, "203.0.113.202", "bytes_out", 5 * 10**8, "2026-10-03T00:00Z"),
                (902, "203.0.113.202", "bytes_in", 10**12, "2026-11-03T00:00Z")):  # November
            s.add(EdgeUsage(hour=_hour(hour), kind="public-ip", subject_id=sid,
                            subject=subject, account="acme", metric=metric, quantity=quantity))
    draft = ok(api.req("GET", "/v1/accounts/acme/invoice?period=2026-10", token=api.acme))
    assert draft["status"] == "draft"
    lines = [(ln["description"], ln["quantity"], ln["unit_price"], ln["amount"],
              ln["counterparty"]) for ln in draft["invoice"]["lines"]]
    assert lines == [
        ("public IP 203.0.113.201: address-hours", "252", "0.005", "1.26", "operator"),
        ("public IP 203.0.113.201: data through the public gateway (in + out)", "3", "0.09",
         "0.27", "operator"),
        ("public IP 203.0.113.202 (standard): address-hours", "744", "0.005", "3.72",
         "operator"),
        ("public IP 203.0.113.202 (standard): data through the public gateway (in + out)",
         "1.5", "0.09", "0.14", "operator")]  # 0.135, half-even
    assert draft["invoice"]["total"] == "5.39" and draft["position"] == "-5.39"
    ledger = ok(api.req("GET", "/v1/billing/ledger?period=2026-10"))
    assert {u["address"] for u in ledger["unbilled_public_ips"]} == {
        "203.0.113.201", "203.0.113.202", "203.0.113.203", "203.0.113.204"}
    run = ok(api.req("POST", "/v1/billing/runs", json={"period": "2026-10"}))
    assert run["run"] == 1 and run["trial_balance"] == "0.00"
    assert run["public_ips"] == ["203.0.113.201", "203.0.113.202", "203.0.113.203"]
    billed = ok(api.req("GET", "/v1/accounts/acme/invoice?period=2026-10", token=api.acme))
    assert billed["status"] == "billed" and billed["invoice"] == draft["invoice"]
    searchco = ok(api.req("GET", "/v1/accounts/searchco/invoice?period=2026-10"))
    # its one hour of October: 0.005, half-even to the cent, is 0.00 (shown, free)
    assert [(ln["quantity"], ln["amount"]) for ln in searchco["invoice"]["lines"]] == \
        [("1", "0.00")]
    statement = ok(api.req("GET", "/v1/accounts/operator/invoice?period=2026-10"))
    assert statement["statement"]["total"] == "5.39"
    assert statement["invoice"]["lines"] == []  # its own address: charged to no one
    again = ok(api.req("POST", "/v1/billing/runs", json={"period": "2026-10"}))
    assert (again["run"], again["posted"]) == (None, 0)
    # bytes read late into October (metering was stopped across its end): an adjustment
    with api.ctx.write() as s:
        s.add(EdgeUsage(hour=_hour("2026-10-31T23:00Z"), kind="public-ip", subject_id=902,
                        subject="203.0.113.202", account="acme", metric="bytes_out",
                        quantity=10**9))
    late = ok(api.req("GET", "/v1/billing/ledger?period=2026-10"))["unbilled_public_ips"]
    assert late == [{"period": "2026-10-01T00:00:00+00:00/2026-11-01T00:00:00+00:00",
                     "address": "203.0.113.202", "account": "acme", "held_ms": 0,
                     "bytes_in": 0, "bytes_out": 10**9}]
    adjusted = ok(api.req("POST", "/v1/billing/runs", json={"period": "2026-10"}))
    assert (adjusted["run"], adjusted["posted"]) == (2, 1)
    final = ok(api.req("GET", "/v1/accounts/acme/invoice?period=2026-10", token=api.acme))
    assert final["invoice"]["lines"][-1]["description"] == (
        "public IP 203.0.113.202 (standard): data through the public gateway (in + out) "
        "(late usage, run 2)")
    assert final["invoice"]["total"] == "5.48"


def test_two_readers_that_overlap_count_nothing_twice(world: Any) -> None:
    """The engine's round and a reconcile's last read may write in either order: an older
    snapshot (same epoch, smaller value) adds nothing and moves no reading back; a new epoch
    is counted whole; a counter gone is forgotten only when its reader saw it go."""
    api = world
    api.changed = True
    with api.ctx.write() as s:
        edge_metering.hold(s, "public-ip", 77, "203.0.113.77", "acme", "customer")

    def rec(value: int, epoch: str = "e1", stale: frozenset[str] = frozenset()) -> int:
        read = edge_metering.GatewayRead(5, {"pip77_in": (epoch, value)})
        with api.ctx.write() as s:
            return edge_metering.record(s, [read], edge_metering.now_ms(), stale)

    assert rec(150) == 150  # the reconcile's last read, taken later, written first
    assert rec(100) == 0  # the round's older snapshot, written after it
    assert rec(160) == 10
    assert rec(40, epoch="e2") == 40  # the counter made again
    assert rec(40, epoch="e2", stale=frozenset({"gw:n5:pip77_out"})) == 0
    assert _usage(api, "203.0.113.77")["bytes_in"] == 200


def test_the_edge_prices_from_a_scenario_file(world: Any) -> None:
    api = world
    api.changed = True
    text = 'prices: {edge: {public_ip_hour: "0.005", gateway_per_gb: "0.09"}}\n'
    err(api.req("POST", "/v1/apply", json={"yaml": text}, token=api.acme), 403)
    got = ok(api.req("POST", "/v1/apply", json={"yaml": text}))
    assert [c["action"] for c in got["changes"]] == ["updated"]
    assert ok(api.req("GET", "/v1/prices"))["edge"] == {"public_ip_hour": "0.005",
                                                        "gateway_per_gb": "0.09",
                                                        "channel_hour": "0"}
    again = ok(api.req("POST", "/v1/apply", json={"yaml": text}))
    assert [c["action"] for c in again["changes"]] == ["unchanged"]
    bad = err(api.req("POST", "/v1/apply", json={
        "yaml": 'prices:\n  edge: {public_ip_hour: "-1"}\n'}), 400, "negative")
    assert bad["where"] == "<scenario>:2" and "edge.public_ip_hour" in bad["message"]


def test_addresses_held_now_are_in_the_prometheus_text(world: Any) -> None:
    api = world
    api.changed = True
    with api.ctx.write() as s:
        edge_metering.hold(s, "public-ip", 51, "203.0.113.51", "acme", "customer", at_ms=0)
        edge_metering.hold(s, "public-ip", 52, "203.0.113.52", "acme", "standard", at_ms=0)
        edge_metering.let_go(s, "public-ip", 52, at_ms=H)
        s.add(EdgeUsage(hour=1, kind="public-ip", subject_id=51, subject="203.0.113.51",
                        account="acme", metric="bytes_in", quantity=4321))
    text = api.req("GET", "/metrics", token=api.acme).text
    labels = {"address": "203.0.113.51", "account": "acme", "kind": "customer"}
    assert prom.value(text, "facade_public_ip_bytes_total", **labels, direction="in") == 4321
    assert prom.value(text, "facade_public_ip_bytes_total", **labels, direction="out") == 0
    assert prom.value(text, "facade_public_ip_held_seconds_total", **labels) is not None
    assert "203.0.113.52" not in text  # released
    assert "203.0.113.51" not in api.req("GET", "/metrics", token=api.searchco).text


def test_public_ip_usage_pages_oldest_allocation_first(world: Any) -> None:
    api = world
    held = [ok(api.req("POST", "/v1/public-ips", json={}, token=api.acme), 201)["address"]
            for _ in range(3)]
    assert api.req("DELETE", f"/v1/public-ips/{held[1]}", token=api.acme).status_code == 204
    whole = ok(api.req("GET", "/v1/usage/public-ips?limit=1000", token=api.acme))
    assert [r["address"] for r in whole["items"]] == held and whole["next_cursor"] is None
    first = ok(api.req("GET", "/v1/usage/public-ips?limit=2", token=api.acme))
    assert [r["address"] for r in first["items"]] == held[:2]
    assert all(r["period"] == "all time" for r in first["items"])
    rest = ok(api.req("GET", f"/v1/usage/public-ips?limit=2&cursor={first['next_cursor']}",
                      token=api.acme))
    assert [r["address"] for r in rest["items"]] == held[2:] and rest["next_cursor"] is None
    err(api.req("GET", "/v1/usage/channels?cursor=" + first["next_cursor"], token=api.acme),
        400, "cursor")  # a cursor of another list
