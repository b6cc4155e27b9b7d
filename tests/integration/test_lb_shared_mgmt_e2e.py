"""One load-balancer provider manages two chained front-ends from one management subnet, on the
kernel (docs/composition.md: chaining with a shared management subnet, third-party
front-ends). Four accounts: acme (the customer), webco (provider of `web`, whose backends call
the appliance `site-index`), searchco (provider of `search`, an http-echo service) and lbco
(one load-balancer offer, `edge`, managed from lb-vpc/mgmt). Both services take their
front-ends from `edge`, so `site` (acme's, of web) and `site-index` (webco's, of search, in
web's backend subnet) both have a front-end owned by lbco with its management leg in
lb-vpc/mgmt.

Checked through independent paths: a real request from acme's instance through site's endpoint
that reaches site-index's backend (the web workload reports the path); both front-ends'
management addresses read from the kernel, answering lbco's agent secret from lbco's router
and unreachable from the appliance providers' routers; each provider's own view; what the
customer cannot reach; and deleting `site` leaving `site-index` working for a webco instance in
web's backend subnet.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

import pytest

from tests.integration import nsclient
from tests.integration.controlplane import ControlPlane
from tests.integration.mgmt_agent import AGENT_PORT, agent_status, secret, token

pytestmark = pytest.mark.root

# Distinct CIDRs, so that an address the customer must not reach is nowhere on its side.
NETWORKS = """\
accounts: [{name: acme}, {name: webco}, {name: searchco}, {name: lbco}]
networks:
  - {name: acme-vpc, account: acme, cidr: 10.0.0.0/16, subnets: [{name: app, cidr: 10.0.1.0/24}]}
  - {name: web-vpc, account: webco, cidr: 10.20.0.0/16,
     subnets: [{name: backend, cidr: 10.20.1.0/24}, {name: mgmt, cidr: 10.20.200.0/24}]}
  - {name: search-vpc, account: searchco, cidr: 10.30.0.0/16,
     subnets: [{name: backend, cidr: 10.30.1.0/24}, {name: mgmt, cidr: 10.30.200.0/24}]}
  - {name: lb-vpc, account: lbco, cidr: 10.50.0.0/16,
     subnets: [{name: mgmt, cidr: 10.50.200.0/24}]}
instances:
  - {name: client, account: acme, interfaces: [acme-vpc/app]}
  - {name: probe, account: webco, interfaces: [web-vpc/backend]}
"""
APPLIANCES = NETWORKS + """\
services:
  - {name: search, account: searchco, workload: http-echo, port: 80, frontend: edge,
     backend_subnet: search-vpc/backend, management_subnet: search-vpc/mgmt}
  - {name: web, account: webco, workload: web, port: 80, frontend: edge,
     backend_subnet: web-vpc/backend, management_subnet: web-vpc/mgmt, upstream: site-index}
appliances:
  - {name: site, account: acme, service: web, subnet: acme-vpc/app, backends: 1}
  - {name: site-index, account: webco, service: search, subnet: web-vpc/backend, backends: 1}
"""
LB_MGMT = ipaddress.ip_network("10.50.200.0/24")


@pytest.fixture(scope="module")
def world(cp: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("lbshared")
    (folder / "networks.yaml").write_text(NETWORKS)
    (folder / "appliances.yaml").write_text(APPLIANCES)
    cp.cli("apply", "-f", str(folder / "networks.yaml"))
    tokens = {a: token(cp, a) for a in ("acme", "webco", "searchco", "lbco")}
    out = cp.cli("lb", "create", "edge", "--account", "lbco", "--management-subnet",
                 "lb-vpc/mgmt", token=tokens["lbco"]).stdout
    assert "created load-balancer offer edge" in out
    res = cp.cli("apply", "-f", str(folder / "appliances.yaml"), timeout=120)
    assert "site ready" in res.stdout and "site-index ready" in res.stdout, res.stdout
    instances = {n: json.loads(cp.cli("instance", "show", n, "--json").stdout)
                 for n in ("client", "probe")}
    return {"site": cp.get("/v1/appliances/site"), "index": cp.get("/v1/appliances/site-index"),
            "tokens": tokens, "instances": instances,
            "routers": {n["name"]: n["router"] for n in cp.items("/v1/networks")}}


def _ep(app: dict[str, Any]) -> tuple[str, int]:
    return app["endpoint"]["ip"], app["endpoint"]["port"]


def test_both_front_ends_are_lbcos_in_one_management_subnet(world: dict[str, Any]) -> None:
    site, index = world["site"], world["index"]
    assert [i["subnet"] for i in site["frontend"]["interfaces"]] == [
        "acme-vpc/app", "web-vpc/backend", "lb-vpc/mgmt"]
    assert [i["subnet"] for i in index["frontend"]["interfaces"]] == [
        "web-vpc/backend", "search-vpc/backend", "lb-vpc/mgmt"]
    for app in (site, index):
        fe = app["frontend"]
        assert fe["account"] == "lbco" and app["backends"][0]["account"] == app["provider"]
        kernel = nsclient.addresses(fe["netns"])  # independent read: ip -j addr
        mgmt = fe["interfaces"][2]
        assert ipaddress.ip_address(mgmt["ip"]) in LB_MGMT
        assert any(a == f"{mgmt['ip']}/24" for a in kernel[mgmt["name"]]), kernel
    # B's front-end faces A's backends: it sits in web-vpc/backend, where site-b1 is
    assert site["backends"][0]["interfaces"][0]["subnet"] == index["subnet"]


def test_a_request_through_a_reaches_bs_backend(world: dict[str, Any]) -> None:
    client = world["instances"]["client"]
    ip, port = _ep(world["site"])
    status, _, body = nsclient.http(client["netns"], ip, port, "GET", "/search?q=lb")
    answer = json.loads(body)
    assert status == 200, answer
    assert answer["path"] == ["site-b1", "site-index-b1"], answer
    ip, port = _ep(world["index"])
    assert answer["endpoint"] == f"{ip}:{port}" and answer["status"] == 200
    assert answer["answer"] == "site-index-b1\n"  # http-echo's own answer: its node name


def test_lbcos_agent_manages_both_front_ends(cp: ControlPlane, world: dict[str, Any]) -> None:
    routers = world["routers"]
    lb_router = routers["lb-vpc"]
    lb_key = secret(cp, lb_router)
    providers = [routers["web-vpc"], routers["search-vpc"]]
    for app in (world["site"], world["index"]):
        fe = app["frontend"]
        ip = fe["interfaces"][2]["ip"]
        assert agent_status(lb_router, ip, fe["netns"], lb_key) == 200
        for other in providers:  # neither appliance provider's secret nor path works
            assert agent_status(lb_router, ip, fe["netns"], secret(cp, other)) == 401
            assert not nsclient.can_connect(other, ip, AGENT_PORT)
        provider_router = routers[app["backends"][0]["interfaces"][1]["subnet"].split("/")[0]]
        backend = app["backends"][0]  # the backends stay their provider's
        b_ip = backend["interfaces"][1]["ip"]
        assert agent_status(provider_router, b_ip, backend["netns"],
                            secret(cp, provider_router)) == 200
        assert not nsclient.can_connect(lb_router, b_ip, AGENT_PORT)
    lb = world["tokens"]["lbco"]

    def checked() -> Any:
        fes = cp.get("/v1/load-balancers/edge", token=lb)["frontends"]
        states = {f["name"]: f["management"] or {} for f in fes}
        ok = set(states) == {"site-fe", "site-index-fe"} and all(
            s.get("reachable") and s.get("checked") for s in states.values())
        return fes if ok else None

    fes = cp.wait_for(checked, timeout=20, what="lbco's agent to report both front-ends")
    assert {i["subnet"] for f in fes for i in f["interfaces"]} >= {"lb-vpc/mgmt"}


def test_each_provider_sees_only_its_own_nodes(cp: ControlPlane, world: dict[str, Any]) -> None:
    t = world["tokens"]

    def status(path: str, who: str) -> int:
        return cp.api("GET", path, token=t[who]).status_code

    # lbco: its two front-ends (every leg, management state), no appliance, no backend
    lb = cp.get("/v1/load-balancers/edge", token=t["lbco"])
    assert sorted(lb["services"]) == ["search", "web"]
    assert {f["name"]: f["account"] for f in lb["frontends"]} == {
        "site-fe": "lbco", "site-index-fe": "lbco"}
    assert cp.items("/v1/appliances", token=t["lbco"]) == []
    assert status("/v1/instances/site-fe", "lbco") == 200
    for node in ("site-b1", "site-index-b1"):
        assert status(f"/v1/instances/{node}", "lbco") == 404
    # webco: site's backend; site-index as its customer; no management leg of either front-end
    site = cp.get("/v1/appliances/site", token=t["webco"])
    assert [b["name"] for b in site["backends"]] == ["site-b1"]
    assert site["frontend"]["management"] is None
    assert "lb-vpc/mgmt" not in json.dumps(site)
    index = cp.get("/v1/appliances/site-index", token=t["webco"])
    assert index["backends"] == [] and "lb-vpc/mgmt" not in json.dumps(index)
    assert status("/v1/instances/site-index-b1", "webco") == 404
    # searchco: site-index's backend, nothing of site
    index = cp.get("/v1/appliances/site-index", token=t["searchco"])
    assert [b["name"] for b in index["backends"]] == ["site-index-b1"]
    assert index["frontend"]["management"] is None and "lb-vpc/mgmt" not in json.dumps(index)
    assert status("/v1/appliances/site", "searchco") == 404
    assert status("/v1/instances/site-b1", "searchco") == 404
    # neither appliance provider sees the offer's management subnet or its front-ends
    for who in ("webco", "searchco", "acme"):
        other = cp.get("/v1/load-balancers/edge", token=t[who])
        assert other["frontends"] == [] and other["management_subnet"] is None
    # the topology: backends each provider sees are its own; lb-vpc is lbco's alone
    for who, mine in (("webco", {"site-b1"}), ("searchco", {"site-index-b1"}), ("lbco", set())):
        topo = json.loads(cp.cli("topology", "--json", token=t[who]).stdout)
        nodes = [n for net in topo["networks"] for s in net["subnets"] for n in s["nodes"]]
        assert {n["name"] for n in nodes if n["role"] == "backend"} == mine, (who, nodes)
        assert ("lb-vpc" in {net["name"] for net in topo["networks"]}) == (who == "lbco")


def test_the_customer_reaches_only_as_endpoint(world: dict[str, Any]) -> None:
    site, index = world["site"], world["index"]
    client, probe = world["instances"]["client"], world["instances"]["probe"]
    ns = client["netns"]
    assert nsclient.can_connect(ns, *_ep(site))
    # every target listens where it should, so a refusal below is isolation, not a dead target
    lb_router = world["routers"]["lb-vpc"]
    mgmt = [(app["frontend"]["interfaces"][2]["ip"], AGENT_PORT) for app in (site, index)]
    for ip, port in mgmt:
        assert nsclient.can_connect(lb_router, ip, port), ip
    assert nsclient.can_connect(probe["netns"], *_ep(index))
    for ip, port in [*mgmt, _ep(index)]:
        assert not nsclient.can_connect(ns, ip, port), f"customer reached {ip}:{port}"


def test_deleting_a_leaves_b_working(cp: ControlPlane, world: dict[str, Any]) -> None:
    site, index, probe = world["site"], world["index"], world["instances"]["probe"]
    res = cp.cli("appliance", "delete", "site", token=world["tokens"]["acme"])
    assert "deleted appliance site" in res.stdout, res.stdout
    gone = {site["frontend"]["netns"], site["backends"][0]["netns"]}
    assert not gone & nsclient.facade_netns()  # its namespaces are gone from the kernel
    assert [a["name"] for a in cp.items("/v1/appliances")] == ["site-index"]
    for _ in range(2):  # a real request from webco's instance in web's backend subnet
        status, headers, body = nsclient.http(probe["netns"], *_ep(index), "GET", "/")
        assert (status, body) == (200, b"site-index-b1\n"), (status, body)
    # B's front-end is still lbco's, still managed from the same subnet by the same agent
    fe = index["frontend"]
    lb_router = world["routers"]["lb-vpc"]
    assert agent_status(lb_router, fe["interfaces"][2]["ip"], fe["netns"],
                        secret(cp, lb_router)) == 200
    lb = cp.get("/v1/load-balancers/edge", token=world["tokens"]["lbco"])
    assert [f["name"] for f in lb["frontends"]] == ["site-index-fe"]
    assert cp.get("/v1/appliances/site-index")["status"] == "ready"
