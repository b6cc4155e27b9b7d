"""Third-party front-end providers (docs/composition.md): a load-balancer offer of one account
gives the front-end nodes of another account's appliance service. Who owns which node, which
agent manages it, who sees what, the YAML form, and every refused request leaving no trace."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import select

from facade.service import desired
from facade.store.models import Network
from tests.service.helpers import LB_MGMT, err, offers, ok, snapshot


def _state(api: Any) -> dict[str, Any]:
    return {**snapshot(api), "lbs": offers(api)}


def _legs(node: dict[str, Any]) -> list[str]:
    return [i["subnet"] for i in node["interfaces"]]


def test_the_front_end_belongs_to_the_lb_provider_and_is_managed_from_its_subnet(lb: Any) -> None:
    app = ok(lb.req("GET", "/v1/appliances/docs"))
    fe = app["frontend"]
    assert fe["account"] == "lbco"
    assert _legs(fe) == ["acme-vpc/app", "search-vpc/backend", LB_MGMT]
    for b in app["backends"]:
        assert b["account"] == "searchco" and _legs(b) == ["search-vpc/backend", "search-vpc/mgmt"]
    # one agent per management network: lb-vpc's serves the front-end only, search-vpc's the
    # backends only (the worker runs each in its network's router namespace)
    with lb.ctx.read() as session:
        want = desired.build(session, lb.ctx.home)
        nets = {n.name: n.id for n in session.scalars(select(Network))}
    # an agent knows each node by its namespace's name, fcd-i<id>-<name>
    agents = {a.network_id: sorted(n.name.split("-", 2)[2] for n in a.nodes)
              for a in want.agents}
    assert agents == {nets["lb-vpc"]: ["docs-fe"], nets["search-vpc"]: ["docs-b1", "docs-b2"]}
    fe_mgmt = fe["interfaces"][2]["ip"]
    lb_agent = next(a for a in want.agents if a.network_id == nets["lb-vpc"])
    assert [n.mgmt_ip for n in lb_agent.nodes] == [fe_mgmt]
    metered = {m.name: (m.owner, m.provider, m.customer) for m in want.metered}
    assert metered == {"docs-fe": ("lbco", "searchco", "acme"),
                       "docs-b1": ("searchco", "searchco", "acme"),
                       "docs-b2": ("searchco", "searchco", "acme")}
    # scaling adds backends on the provider's side only; the front-end stays the LB's
    ok(lb.req("PATCH", "/v1/appliances/docs", token=lb.acme, json={"backends": 3}), 202)
    app = ok(lb.req("GET", "/v1/appliances/docs"))
    assert app["frontend"]["account"] == "lbco"
    assert {b["account"] for b in app["backends"]} == {"searchco"}


def test_the_lb_provider_sees_only_its_front_ends(lb: Any) -> None:
    t = lb.lbco
    offer = ok(lb.req("GET", "/v1/load-balancers/edge", token=t))
    assert offer["services"] == ["search-lb"]
    (fe,) = offer["frontends"]
    assert fe["name"] == "docs-fe" and fe["appliance"] == "docs"
    assert _legs(fe) == ["acme-vpc/app", "search-vpc/backend", LB_MGMT]
    assert ok(lb.req("GET", "/v1/instances/docs-fe", token=t))["account"] == "lbco"
    for hidden in ("/v1/instances/docs-b1", "/v1/appliances/docs", "/v1/instances/client"):
        err(lb.req("GET", hidden, token=t), 404)
    assert lb.items("/v1/appliances", token=t) == []
    topo = ok(lb.req("GET", "/v1/topology", token=t))
    assert [n["name"] for n in topo["networks"]] == ["lb-vpc"]
    assert [n["name"] for n in topo["networks"][0]["subnets"][0]["nodes"]] == ["docs-fe"]
    assert "docs-b1" not in str(topo) and "search-vpc" not in str(topo["networks"])
    # a node of an appliance is managed through its appliance, by nobody else
    err(lb.req("DELETE", "/v1/instances/docs-fe", token=t), 400, "appliance")


def test_the_appliance_provider_sees_the_front_end_but_not_its_management(lb: Any) -> None:
    t = lb.searchco
    app = ok(lb.req("GET", "/v1/appliances/docs", token=t))
    assert len(app["backends"]) == 2
    fe = app["frontend"]
    assert fe["name"] == "docs-fe" and fe["account"] == "lbco"
    assert _legs(fe) == ["acme-vpc/app", "search-vpc/backend"]
    assert fe["management"] is None and app["endpoint"]["ip"] == fe["interfaces"][0]["ip"]
    full = ok(lb.req("GET", "/v1/appliances/docs"))["frontend"]["interfaces"][2]["ip"]
    assert LB_MGMT not in str(app) and "lb-vpc" not in str(app)
    assert full not in [i["ip"] for i in fe["interfaces"]]
    err(lb.req("GET", "/v1/instances/docs-fe", token=t), 404)
    offer = ok(lb.req("GET", "/v1/load-balancers/edge", token=t))
    assert offer == {"name": "edge", "account": "lbco", "management_subnet": None,
                     "services": [], "frontends": []}
    topo = ok(lb.req("GET", "/v1/topology", token=t))
    assert "lb-vpc" not in str(topo)


def test_the_customer_sees_one_appliance_as_before(lb: Any) -> None:
    app = ok(lb.req("GET", "/v1/appliances/docs", token=lb.acme))
    assert app["backends"] == [] and app["backend_count"] == 2
    assert _legs(app["frontend"]) == ["acme-vpc/app"] and app["frontend"]["management"] is None
    assert "lb-vpc" not in str(app) and "search-vpc" not in str(app)
    assert ok(lb.req("GET", "/v1/services/search-lb", token=lb.acme))["frontend"] is None
    err(lb.req("GET", "/v1/instances/docs-fe", token=lb.acme), 404)
    offer = ok(lb.req("GET", "/v1/load-balancers/edge", token=lb.acme))
    assert offer["frontends"] == [] and offer["management_subnet"] is None


def test_refused_requests_change_nothing(lb: Any) -> None:
    before = _state(lb)
    svc = {"name": "s2", "workload": "http-echo", "port": 80,
           "backend_subnet": "search-vpc/backend", "management_subnet": "search-vpc/mgmt"}
    err(lb.req("POST", "/v1/services", token=lb.searchco, json={**svc, "frontend": "nope"}),
        404, "nope", where="frontend")
    err(lb.req("POST", "/v1/services", token=lb.searchco, json={**svc, "frontend": "x" * 82}),
        422, where="frontend")
    err(lb.req("POST", "/v1/services", token=lb.searchco, json={**svc, "frontend": 7}),
        422, where="frontend")
    # an offer in somebody else's subnet, a bad name, a taken name, a missing subnet
    err(lb.req("POST", "/v1/load-balancers", token=lb.lbco, json={
        "name": "e2", "management_subnet": "search-vpc/mgmt"}), 404, where="management_subnet")
    err(lb.req("POST", "/v1/load-balancers", json={
        "name": "e2", "account": "lbco", "management_subnet": "search-vpc/mgmt"}), 403,
        "searchco", where="management_subnet")
    err(lb.req("POST", "/v1/load-balancers", token=lb.lbco, json={
        "name": "Edge!", "management_subnet": LB_MGMT}), 400, where="name")
    err(lb.req("POST", "/v1/load-balancers", token=lb.lbco, json={
        "name": "edge", "management_subnet": LB_MGMT}), 409, "exists", where="name")
    err(lb.req("POST", "/v1/load-balancers", token=lb.lbco, json={
        "name": "e2", "management_subnet": "lb-vpc"}), 400, where="management_subnet")
    # a backend subnet is no management subnet
    err(lb.req("POST", "/v1/load-balancers", token=lb.searchco, json={
        "name": "e2", "management_subnet": "search-vpc/backend"}), 409, "backend subnet",
        where="management_subnet")
    # withdrawal: not by others (404), not while named (409)
    err(lb.req("DELETE", "/v1/load-balancers/edge", token=lb.searchco), 404)
    err(lb.req("DELETE", "/v1/load-balancers/edge", token=lb.lbco), 409, "search-lb")
    err(lb.req("GET", "/v1/load-balancers/nope", token=lb.lbco), 404, "nope")
    assert _state(lb) == before


def test_an_offer_managed_from_the_backend_subnet_is_refused(lb: Any) -> None:
    ok(lb.req("POST", "/v1/load-balancers", token=lb.searchco, json={
        "name": "own", "management_subnet": "search-vpc/mgmt"}), 201)
    ok(lb.req("POST", "/v1/networks/search-vpc/subnets", token=lb.searchco,
              json={"name": "b2", "cidr": "10.0.2.0/24"}), 201)
    err(lb.req("POST", "/v1/services", token=lb.searchco, json={
        "name": "s3", "workload": "http-echo", "port": 80, "frontend": "own",
        "backend_subnet": "search-vpc/mgmt", "management_subnet": "search-vpc/b2"}), 400,
        "different subnets", where="frontend")


def test_withdrawn_after_its_services(lb: Any) -> None:
    assert lb.req("DELETE", "/v1/appliances/docs", token=lb.acme).status_code < 300
    for _ in range(200):  # the worker removes the nodes; then the service may go
        if lb.req("DELETE", "/v1/services/search-lb", token=lb.searchco).status_code == 204:
            break
        time.sleep(0.05)
    assert lb.req("DELETE", "/v1/load-balancers/edge", token=lb.lbco).status_code == 204
    assert lb.items("/v1/load-balancers") == []


YAML = """\
accounts: [{name: lbco2}]
networks:
  - {name: lb2-vpc, account: lbco2, cidr: 10.9.0.0/16,
     subnets: [{name: mgmt, cidr: 10.9.200.0/24}]}
services:
  - {name: yaml-lb, account: searchco, workload: http-echo, port: 80, frontend: edge,
     backend_subnet: search-vpc/backend, management_subnet: search-vpc/mgmt}
appliances:
  - {name: ydocs, account: acme, service: yaml-lb, subnet: acme-vpc/app, backends: 1}
"""


def _apply(api: Any, text: str) -> Any:
    return api.req("POST", "/v1/apply", json={"yaml": text, "filename": "lb.yaml"})


def test_yaml_names_the_offer(lb: Any) -> None:
    ok(_apply(lb, YAML))
    assert ok(lb.req("GET", "/v1/services/yaml-lb"))["frontend"] == "edge"
    assert ok(lb.req("GET", "/v1/appliances/ydocs"))["frontend"]["account"] == "lbco"
    again = ok(_apply(lb, YAML))
    assert {c["action"] for c in again["changes"]} == {"unchanged"}, again
    e = err(_apply(lb, YAML.replace("frontend: edge", "frontend: other")), 409, "frontend")
    assert e["where"].startswith("lb.yaml:")
    e = err(_apply(lb, YAML.replace("frontend: edge", "frontend: Edge")), 400)
    assert e["where"] == "lb.yaml:6" or e["where"].startswith("lb.yaml:")
    err(_apply(lb, YAML.replace("yaml-lb", "y2").replace("ydocs", "yd2")
               .replace("frontend: edge", "frontend: missing")), 404, "missing")
