"""Third-party front-ends on the kernel (docs/composition.md): three accounts — acme (the
customer), searchco (the appliance provider), lbco (the load-balancer provider, offer `edge`).
searchco's service takes its front-ends from `edge`, so the appliance's front-end node is
lbco's, managed from lbco's management subnet by lbco's management network's agent.

Checked through independent paths: a real request from the customer's namespace through the
endpoint; the front-end's agent answering a request signed with lbco's management secret from
lbco's router namespace (and not reachable from searchco's, nor with searchco's secret); no
management address reachable from the customer; and the usage records of the front-end node
owned by lbco.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration import nsclient
from tests.integration.controlplane import ControlPlane
from tests.integration.mgmt_agent import AGENT_PORT
from tests.integration.mgmt_agent import agent_status as _agent
from tests.integration.mgmt_agent import secret as _secret
from tests.integration.mgmt_agent import token as _token

pytestmark = pytest.mark.root

NETWORKS = """\
accounts: [{name: acme}, {name: searchco}, {name: lbco}]
networks:
  - {name: acme-vpc, account: acme, cidr: 10.0.0.0/16, subnets: [{name: app, cidr: 10.0.1.0/24}]}
  - {name: search-vpc, account: searchco, cidr: 10.0.0.0/16,
     subnets: [{name: backend, cidr: 10.0.1.0/24}, {name: mgmt, cidr: 10.0.200.0/24}]}
  - {name: lb-vpc, account: lbco, cidr: 10.50.0.0/16,
     subnets: [{name: mgmt, cidr: 10.50.200.0/24}]}
instances:
  - {name: client, account: acme, interfaces: [acme-vpc/app]}
"""
APPLIANCE = NETWORKS + """\
services:
  - {name: search, account: searchco, workload: http-echo, port: 8080, frontend: edge,
     backend_subnet: search-vpc/backend, management_subnet: search-vpc/mgmt}
appliances:
  - {name: docs, account: acme, service: search, subnet: acme-vpc/app, backends: 2}
"""


@pytest.fixture(scope="module")
def world(cp: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("lb")
    (folder / "networks.yaml").write_text(NETWORKS)
    (folder / "appliance.yaml").write_text(APPLIANCE)
    cp.cli("apply", "-f", str(folder / "networks.yaml"))
    tokens = {a: _token(cp, a) for a in ("acme", "searchco", "lbco")}
    out = cp.cli("lb", "create", "edge", "--account", "lbco", "--management-subnet",
                 "lb-vpc/mgmt", token=tokens["lbco"]).stdout
    assert "created load-balancer offer edge" in out
    res = cp.cli("apply", "-f", str(folder / "appliance.yaml"), timeout=90)
    assert "docs ready" in res.stdout, res.stdout
    return {"app": cp.get("/v1/appliances/docs"), "tokens": tokens,
            "client": json.loads(cp.cli("instance", "show", "client", "--json").stdout),
            "routers": {n["name"]: n["router"] for n in cp.items("/v1/networks")},
            "networks": {n["name"]: n for n in cp.items("/v1/networks")}}


def test_a_request_through_the_endpoint_works(world: dict[str, Any]) -> None:
    app, client = world["app"], world["client"]
    fe = app["frontend"]
    assert fe["account"] == "lbco"
    assert [i["subnet"] for i in fe["interfaces"]] == [
        "acme-vpc/app", "search-vpc/backend", "lb-vpc/mgmt"]
    kernel = nsclient.addresses(fe["netns"])  # independent read: ip -j addr
    for iface in fe["interfaces"]:
        assert any(a.startswith(iface["ip"] + "/") for a in kernel[iface["name"]])
    seen = set()
    for _ in range(20):  # round robin (shared with the worker's probes)
        status, _, body = nsclient.http(client["netns"], app["endpoint"]["ip"], 8080, "GET", "/")
        assert status == 200
        seen.add(body.decode().strip())  # http-echo answers with its node's name
        if len(seen) == 2:
            break
    assert seen == {"docs-b1", "docs-b2"}


def test_the_front_end_is_managed_from_the_lb_providers_subnet(
        cp: ControlPlane, world: dict[str, Any]) -> None:
    fe, routers = world["app"]["frontend"], world["routers"]
    fe_mgmt = fe["interfaces"][2]["ip"]
    lb_router, search_router = routers["lb-vpc"], routers["search-vpc"]
    lb_secret, search_secret = _secret(cp, lb_router), _secret(cp, search_router)
    assert _agent(lb_router, fe_mgmt, fe["netns"], lb_secret) == 200
    assert _agent(lb_router, fe_mgmt, fe["netns"], search_secret) == 401  # not searchco's agent
    assert not nsclient.can_connect(search_router, fe_mgmt, AGENT_PORT)
    # the backends stay searchco's: its agent answers for them, lbco's network has no path
    for b in world["app"]["backends"]:
        ip = b["interfaces"][1]["ip"]
        assert _agent(search_router, ip, b["netns"], search_secret) == 200
        assert not nsclient.can_connect(lb_router, ip, AGENT_PORT)
    # lbco's view of its offer carries what its agent last said of the front-end
    lb = world["tokens"]["lbco"]
    cp.wait_for(lambda: (cp.get("/v1/load-balancers/edge", token=lb)["frontends"][0]
                         .get("management") or {}).get("reachable"), timeout=15,
                what="lbco's agent to report the front-end")


def test_the_customer_reaches_no_management_address(world: dict[str, Any]) -> None:
    app, client = world["app"], world["client"]
    ns = client["netns"]
    assert nsclient.can_connect(ns, app["endpoint"]["ip"], 8080)
    targets = {app["frontend"]["interfaces"][2]["ip"],
               *(b["interfaces"][1]["ip"] for b in app["backends"])}
    assert len(targets) == 3
    for ip in sorted(targets):
        assert not nsclient.can_connect(ns, ip, AGENT_PORT), f"customer reached {ip}"


def test_each_provider_sees_its_own_nodes(cp: ControlPlane, world: dict[str, Any]) -> None:
    tokens = world["tokens"]
    searchco = cp.get("/v1/appliances/docs", token=tokens["searchco"])
    assert [i["subnet"] for i in searchco["frontend"]["interfaces"]] == [
        "acme-vpc/app", "search-vpc/backend"] and len(searchco["backends"]) == 2
    assert cp.api("GET", "/v1/appliances/docs", token=tokens["lbco"]).status_code == 404
    out = cp.cli("lb", "show", "edge", token=tokens["lbco"]).stdout
    assert "docs-fe" in out and "lb-vpc/mgmt" in out and "docs-b1" not in out


def test_metering_records_the_front_end_as_the_lb_providers(
        cp: ControlPlane, world: dict[str, Any]) -> None:
    lb = world["tokens"]["lbco"]

    def rows() -> Any:
        got = cp.items("/v1/usage", params={"by": "node"}, token=lb)
        return got if got and float(got[0]["frontend_node_seconds"]) > 0 else None

    (row,) = cp.wait_for(rows, timeout=15, what="a usage record of the front-end")
    assert (row["node"], row["role"], row["owner"], row["provider"], row["customer"]) == (
        "docs-fe", "frontend", "lbco", "searchco", "acme")
    mine = cp.items("/v1/usage", params={"by": "node"}, token=world["tokens"]["searchco"])
    owners = {r["node"]: r["owner"] for r in mine}
    assert owners["docs-b1"] == owners["docs-b2"] == "searchco"
    assert owners.get("docs-fe") in (None, "lbco")
