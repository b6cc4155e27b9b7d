"""Subnet placement (issue 4) through the API: which subnets the desired state isolates, as the
services come and go, and which placements an appliance may take (the router's filter:
tests/unit/test_placement.py)."""

from __future__ import annotations

import time
from typing import Any

from facade.domain import names
from facade.store.models import Subnet
from tests.service.helpers import err, ok, settle

# --------------------------------------------------------------------------- desired state

ONE_NETWORK = """
accounts: [{name: acme}]
networks:
  - {name: vpc, account: acme, cidr: 10.0.0.0/16,
     subnets: [{name: front, cidr: 10.0.1.0/24}, {name: back, cidr: 10.0.2.0/24},
               {name: mgmt, cidr: 10.0.3.0/24}, {name: other, cidr: 10.0.4.0/24}]}
services:
  - {name: echo, account: acme, workload: http-echo, port: 8080,
     backend_subnet: vpc/back, management_subnet: vpc/mgmt}
instances:
  - {name: client, account: acme, interfaces: [vpc/front]}
appliances:
  - {name: app, account: acme, service: echo, subnet: vpc/front, backends: 2}
"""


def _subnet_ids(api: Any) -> dict[str, int]:
    with api.ctx.read() as session:
        return {s.name: s.id for s in session.query(Subnet)}


def test_all_three_in_one_network_isolates_backend_and_management(api: Any) -> None:
    ok(api.req("POST", "/v1/apply", json={"yaml": ONE_NETWORK, "filename": "one.yaml"}))
    settle(api)
    app = ok(api.req("GET", "/v1/appliances/app"))
    assert app["status"] == "ready"
    ids = _subnet_ids(api)
    routers = [n for n in api.dp.nodes.values() if n.role == "router"]
    assert len(routers) == 1
    assert set(routers[0].isolated) == {names.router_ifname(ids["back"]),
                                        names.router_ifname(ids["mgmt"])}
    assert len(routers[0].ports) == 4  # the legs stay: the agent and probes use them


def test_isolation_follows_the_services(api: Any) -> None:
    ok(api.req("POST", "/v1/apply", json={"yaml": ONE_NETWORK, "filename": "one.yaml"}))
    settle(api)
    ok(api.req("DELETE", "/v1/appliances/app"), 202)
    deadline = time.monotonic() + 5
    while api.items("/v1/appliances") and time.monotonic() < deadline:
        time.sleep(0.02)
    (router,) = [n for n in api.dp.nodes.values() if n.role == "router"]
    assert router.isolated  # the service still names the subnets
    resp = api.req("DELETE", "/v1/services/echo")
    assert resp.status_code in (200, 204), resp.text
    deadline = time.monotonic() + 5
    while _isolated(api) and time.monotonic() < deadline:
        api.ctx.kick()
        time.sleep(0.02)
    assert _isolated(api) == ()


def _isolated(api: Any) -> tuple[str, ...]:
    (router,) = [n for n in api.dp.nodes.values() if n.role == "router"]
    return router.isolated


def test_an_endpoint_in_a_management_subnet_is_refused(api: Any) -> None:
    ok(api.req("POST", "/v1/apply", json={"yaml": ONE_NETWORK, "filename": "one.yaml"}))
    settle(api)
    before = api.items("/v1/appliances")
    err(api.req("POST", "/v1/appliances", json={"name": "bad", "service": "echo",
                                                "subnet": "vpc/mgmt", "backends": 1,
                                                "account": "acme"}),
        400, "management subnet of service echo", "provider internal", where="subnet")
    assert api.items("/v1/appliances") == before


def test_a_load_balancer_offers_management_subnet_is_provider_internal(api: Any) -> None:
    ok(api.req("POST", "/v1/apply", json={"yaml": ONE_NETWORK, "filename": "one.yaml"}))
    settle(api)
    ok(api.req("POST", "/v1/load-balancers", json={"name": "lb", "account": "acme",
                                                   "management_subnet": "vpc/other"}), 201)
    ids = _subnet_ids(api)
    want = {names.router_ifname(ids[s]) for s in ("back", "mgmt", "other")}
    deadline = time.monotonic() + 5
    while set(_isolated(api)) != want and time.monotonic() < deadline:
        api.ctx.kick()
        time.sleep(0.02)
    assert set(_isolated(api)) == want
    err(api.req("POST", "/v1/appliances", json={"name": "bad", "service": "echo",
                                                "subnet": "vpc/other", "backends": 1,
                                                "account": "acme"}),
        400, "management subnet of load-balancer offer lb", where="subnet")
