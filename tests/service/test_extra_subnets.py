"""Backends with extra interfaces (docs/composition.md, "Backends with extra interfaces"): a
service names extra subnets; every backend, now and after scaling or replacement, gets a leg in
each (eth2, eth3...) after its management leg; the management agent still talks to eth1; the
data plane is asked for connected secondary ports; an upstream may sit in an extra subnet; bad
names, overlaps, management subnets and a revoked grant are refused with nothing changed."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from facade.service import desired
from facade.store.models import Network
from tests.service.helpers import err, ok, service_body, snapshot

STORAGE = "search-vpc/storage"


@pytest.fixture
def w(world: Any) -> Any:
    ok(world.req("POST", "/v1/networks/search-vpc/subnets",
                 json={"name": "storage", "cidr": "10.0.5.0/24"}), 201)
    ok(world.req("POST", "/v1/networks/search-vpc/subnets",
                 json={"name": "uplink", "cidr": "10.0.6.0/24"}), 201)
    world.changed = True  # the fixture's own additions
    return world


def _legs(node: dict[str, Any]) -> list[tuple[str, str]]:
    return [(i["name"], i["subnet"]) for i in node["interfaces"]]


def _make(w: Any, **over: Any) -> Any:
    return w.req("POST", "/v1/services", token=w.searchco,
                 json=service_body(extra_subnets=[STORAGE, "search-vpc/uplink"], **over))


def test_every_backend_gets_a_leg_in_each_extra_subnet(w: Any) -> None:
    svc = ok(_make(w), 201)
    assert svc["extra_subnets"] == [STORAGE, "search-vpc/uplink"]
    # the provider's business: others see the offer without it
    assert ok(w.req("GET", "/v1/services/svc2", token=w.acme))["extra_subnets"] is None
    ok(w.req("POST", "/v1/appliances", token=w.acme, json={
        "name": "docs", "service": "svc2", "subnet": "acme-vpc/app", "backends": 2}), 202)
    app = ok(w.req("GET", "/v1/appliances/docs", token=w.searchco))
    for b in app["backends"]:
        assert _legs(b) == [("eth0", "search-vpc/backend"), ("eth1", "search-vpc/mgmt"),
                            ("eth2", STORAGE), ("eth3", "search-vpc/uplink")]
    # the front-end is as before: three legs, no extra one
    assert [s for _, s in _legs(app["frontend"])] == ["acme-vpc/app", "search-vpc/backend",
                                                      "search-vpc/mgmt"]
    # the customer never sees the backends, so never their extra legs
    assert ok(w.req("GET", "/v1/appliances/docs", token=w.acme))["backends"] == []
    # the data plane is asked for connected extra ports, on the extra subnets' bridges
    bridges = {s["name"]: s["bridge"] for s in w.items("/v1/subnets")}
    with w.ctx.read() as session:
        want = desired.build(session, w.ctx.home)
        net = session.scalar(select(Network).where(Network.name == "search-vpc"))
        assert net is not None
        net_id = net.id
    specs = {s.netns: s for s in want.state.nodes}
    for b in app["backends"]:
        ports = specs[b["netns"]].ports
        assert [p.bridge for p in ports] == [bridges["search-vpc/backend"],
                                             bridges["search-vpc/mgmt"], bridges[STORAGE],
                                             bridges["search-vpc/uplink"]]
        assert [p.connected for p in ports] == [False, False, True, True]
        assert all(p.gateway for p in ports)  # replies to routed peers go back by their leg
    fe_spec = specs[app["frontend"]["netns"]]
    assert not any(p.connected for p in fe_spec.ports)
    # the agent reaches every backend on its management leg (eth1), not on its last one
    agent = next(a for a in want.agents if a.network_id == net_id)
    mgmt_ips = {b["name"]: b["interfaces"][1]["ip"] for b in app["backends"]}
    mgmt_ips[app["frontend"]["name"]] = app["frontend"]["interfaces"][2]["ip"]
    # an agent knows each node by its namespace's name, fcd-i<id>-<name>
    assert {n.name.split("-", 2)[2]: n.mgmt_ip for n in agent.nodes} == mgmt_ips
    # the router of the provider's network keeps routing the extra subnets (they are the
    # provider's ordinary subnets), and isolates the backend and management subnets
    router = next(s for s in want.state.nodes if s.role == "router"
                  and any(p.bridge == bridges[STORAGE] for p in s.ports))
    isolated = {p.bridge for p in router.ports if p.ifname in router.isolated}
    assert isolated == {bridges["search-vpc/backend"], bridges["search-vpc/mgmt"]}
    # scaling adds backends with the same legs
    ok(w.req("PATCH", "/v1/appliances/docs", token=w.acme, json={"backends": 3}), 202)
    b3 = next(b for b in ok(w.req("GET", "/v1/appliances/docs"))["backends"]
              if b["name"] == "docs-b3")
    assert [s for _, s in _legs(b3)][2:] == [STORAGE, "search-vpc/uplink"]
    # the subnets cannot be deleted while a service names them
    err(w.req("DELETE", f"/v1/subnets/{STORAGE}"), 409, "svc2")


@pytest.mark.parametrize(("extra", "status", "words", "where"), [
    (["search-vpc/nope"], 404, ("search-vpc/nope",), "extra_subnets[0]"),
    (["acme-vpc/app"], 404, ("acme-vpc/app",), "extra_subnets[0]"),  # not granted: unseen
    (["search-vpc/backend"], 400, ("backend subnet",), "extra_subnets[0]"),
    (["search-vpc/mgmt"], 400, ("management subnet",), "extra_subnets[0]"),
    ([STORAGE, STORAGE], 400, ("twice",), "extra_subnets[1]"),
])
def test_bad_extra_subnets_are_refused_and_change_nothing(w: Any, extra: list[str], status: int,
                                                          words: tuple[str, ...],
                                                          where: str) -> None:
    before = snapshot(w)
    err(w.req("POST", "/v1/services", token=w.searchco, json=service_body(extra_subnets=extra)),
        status, *words, where=where)
    assert snapshot(w) == before


def test_overlaps_and_other_management_subnets_are_refused(w: Any) -> None:
    ok(w.req("POST", "/v1/networks", json={
        "name": "far", "account": "searchco", "cidr": "10.0.0.0/16",
        "subnets": [{"name": "same", "cidr": "10.0.1.0/25"},
                    {"name": "mg", "cidr": "10.0.7.0/24"},
                    {"name": "six", "cidr": "10.0.6.0/24"}]}), 201)
    ok(w.req("POST", "/v1/services", token=w.searchco, json=service_body(
        name="other", backend_subnet=STORAGE, management_subnet="far/mg")), 201)
    before = snapshot(w)
    # overlaps the backend subnet (10.0.1.0/24): a backend reaches both directly
    err(w.req("POST", "/v1/services", token=w.searchco,
              json=service_body(extra_subnets=["far/same"])), 400, "overlaps",
        "search-vpc/backend", where="extra_subnets[0]")
    err(w.req("POST", "/v1/services", token=w.searchco,
              json=service_body(extra_subnets=["search-vpc/uplink", "far/six"])), 400,
        "overlaps", "search-vpc/uplink", where="extra_subnets[1]")
    # another service's management subnet is provider internal
    err(w.req("POST", "/v1/services", token=w.searchco,
              json=service_body(extra_subnets=["far/mg"])), 400, "management subnet of "
        "service other", where="extra_subnets[0]")
    err(w.req("POST", "/v1/services", token=w.searchco,
              json=service_body(extra_subnets=[f"far/x{k}" for k in range(7)])), 422)
    assert snapshot(w) == before
    # and the other way round: an extra subnet cannot become a management subnet
    ok(_make(w), 201)
    err(w.req("POST", "/v1/services", token=w.searchco, json=service_body(
        name="svc3", management_subnet=STORAGE)), 409, "extra subnet of service svc2")
    err(w.req("POST", "/v1/load-balancers", token=w.searchco, json={
        "name": "edge", "management_subnet": "search-vpc/uplink"}), 409,
        "extra subnet of service svc2")


def test_a_granted_extra_subnet_and_its_revocation(w: Any) -> None:
    grants = "/v1/subnets/acme-vpc/tiny/grants"
    ok(w.req("POST", grants, token=w.acme, json={"account": "searchco"}), 201)
    ok(w.req("POST", "/v1/services", token=w.searchco,
             json=service_body(extra_subnets=["acme-vpc/tiny"])), 201)
    ok(w.req("POST", "/v1/appliances", token=w.acme, json={
        "name": "docs", "service": "svc2", "subnet": "acme-vpc/app", "backends": 1}), 202)
    out = ok(w.req("DELETE", f"{grants}/searchco", token=w.acme))
    assert out["still_used_by"] == ["docs-b1"]
    before = snapshot(w)
    # no new backend without the grant: scaling is refused, naming the grant, nothing changes
    err(w.req("PATCH", "/v1/appliances/docs", token=w.acme, json={"backends": 2}), 403,
        "revoked", "acme-vpc/tiny", "docs")
    assert snapshot(w) == before
    # the existing backend keeps its leg
    b1 = ok(w.req("GET", "/v1/appliances/docs"))["backends"][0]
    assert [s for _, s in _legs(b1)] == ["search-vpc/backend", "search-vpc/mgmt", "acme-vpc/tiny"]


def test_an_upstream_may_sit_in_an_extra_subnet(w: Any) -> None:
    ok(_make(w, upstream="idx"), 201)
    ok(w.req("POST", "/v1/appliances", token=w.acme, json={
        "name": "docs", "service": "svc2", "subnet": "acme-vpc/app", "backends": 1}), 202)
    # the provider consumes "search" in its uplink subnet: that is docs' upstream
    ok(w.req("POST", "/v1/appliances", token=w.searchco, json={
        "name": "idx", "service": "search", "subnet": "search-vpc/uplink", "backends": 1}), 202)
    docs = ok(w.req("GET", "/v1/appliances/docs", token=w.searchco))
    assert docs["uses"] == ["idx"]
    assert ok(w.req("GET", "/v1/appliances/idx", token=w.searchco))["used_by"] == ["docs"]
    err(w.req("DELETE", "/v1/appliances/idx", token=w.searchco), 409, "used by docs")
    # a service whose backends are not on idx's subnet cannot name it
    err(w.req("POST", "/v1/services", token=w.searchco,
              json=service_body(name="svc3", upstream="idx", extra_subnets=[STORAGE])), 400,
        "search-vpc/uplink", where="upstream")


YAML = """\
accounts: [{name: webco}]
networks:
  - {name: web-vpc, account: webco, cidr: 10.8.0.0/16,
     subnets: [{name: backend, cidr: 10.8.1.0/24}, {name: mgmt, cidr: 10.8.200.0/24},
               {name: storage, cidr: 10.8.5.0/24}, {name: uplink, cidr: 10.8.6.0/24}]}
services:
  - {name: web, account: webco, workload: http-echo, port: 80,
     backend_subnet: web-vpc/backend, management_subnet: web-vpc/mgmt,
     extra_subnets: [web-vpc/storage, web-vpc/uplink]}
"""


def test_extra_subnets_in_yaml(api: Any) -> None:
    def apply(text: str) -> Any:
        return api.req("POST", "/v1/apply", json={"yaml": text, "filename": "web.yaml"})

    ok(apply(YAML))
    assert ok(api.req("GET", "/v1/services/web"))["extra_subnets"] == [
        "web-vpc/storage", "web-vpc/uplink"]
    again = ok(apply(YAML))
    assert all(c["action"] == "unchanged" for c in again["changes"]), again
    # a different list is a change the file cannot make to an existing service: named, at
    # the service's line, nothing changed
    e = err(apply(YAML.replace("[web-vpc/storage, web-vpc/uplink]", "[web-vpc/uplink]")),
            409, "extra_subnets")
    assert e["where"].startswith("web.yaml:7"), e
    assert ok(api.req("GET", "/v1/services/web"))["extra_subnets"] == [
        "web-vpc/storage", "web-vpc/uplink"]
    # a bad entry is refused where it is written
    e = err(apply(YAML.replace("web-vpc/uplink]", "uplink]").replace("name: web,", "name: w2,")),
            400, "network/subnet")
    assert e["where"].startswith("web.yaml:"), e
