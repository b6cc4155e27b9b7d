"""Every subnet placement on the kernel (issue 4): the customer, backend and management subnets
in one network of one account (an internal appliance), customer + backend in one network
with the management subnet in another, and customer + management in one network with the
backend subnet in another. (Backend + management in one network, the customer elsewhere, is
the usual case: test_appliance_e2e, test_isolation_property.)

For each placement, an isolation matrix of real TCP connections made from sockets the test
opens inside the namespaces: the customer's instance reaches the endpoint (a real request is
answered by a backend) and its own network's ordinary subnets, and nothing of the provider
internal subnets: not a backend, not the front-end's backend leg, not a management address,
not the router's own address there. A provider instance inside the backend subnet reaches the
backends next to it and nothing outside. The management agent (in the router namespace) still
answers for every node. The router's filter is read back with `nft -j` and repaired after a
hand edit.
"""

from __future__ import annotations

import ipaddress
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.integration import nsclient
from tests.integration.controlplane import ControlPlane

pytestmark = pytest.mark.root
PORT = 8080
AGENT_PORT = 9700
PROBE_PORT = 7000  # nothing listens there: a reset proves a host was reached
TIMEOUT = 0.4

TOPOLOGY = """\
accounts: [{name: solo}, {name: duo}, {name: trio}]
networks:
  # A: all three subnets in one network of one account (its own internal appliance)
  - {name: one, account: solo, cidr: 10.0.0.0/16,
     subnets: [{name: front, cidr: 10.0.1.0/24}, {name: back, cidr: 10.0.2.0/24},
               {name: mgmt, cidr: 10.0.3.0/24}, {name: other, cidr: 10.0.4.0/24}]}
  # B: customer + backend in one network, management in another (same CIDRs on purpose)
  - {name: two, account: duo, cidr: 10.0.0.0/16,
     subnets: [{name: front, cidr: 10.0.1.0/24}, {name: back, cidr: 10.0.2.0/24}]}
  - {name: two-mgmt, account: duo, cidr: 10.0.0.0/16,
     subnets: [{name: mgmt, cidr: 10.0.3.0/24}]}
  # C: customer + management in one network, backend in another
  - {name: three, account: trio, cidr: 10.0.0.0/16,
     subnets: [{name: front, cidr: 10.0.1.0/24}, {name: mgmt, cidr: 10.0.3.0/24}]}
  - {name: three-back, account: trio, cidr: 10.0.0.0/16,
     subnets: [{name: back, cidr: 10.0.2.0/24}]}
services:
  - {name: echo-a, account: solo, workload: http-echo, port: 8080,
     backend_subnet: one/back, management_subnet: one/mgmt}
  - {name: echo-b, account: duo, workload: http-echo, port: 8080,
     backend_subnet: two/back, management_subnet: two-mgmt/mgmt}
  - {name: echo-c, account: trio, workload: http-echo, port: 8080,
     backend_subnet: three-back/back, management_subnet: three/mgmt}
instances:
  - {name: a-client, account: solo, interfaces: [one/front]}
  - {name: a-peer, account: solo, interfaces: [one/other]}
  - {name: a-ops, account: solo, interfaces: [one/back]}
  - {name: b-client, account: duo, interfaces: [two/front]}
  - {name: c-client, account: trio, interfaces: [three/front]}
appliances:
  - {name: app-a, account: solo, service: echo-a, subnet: one/front, backends: 2}
  - {name: app-b, account: duo, service: echo-b, subnet: two/front, backends: 2}
  - {name: app-c, account: trio, service: echo-c, subnet: three/front, backends: 2}
"""


def _connect(netns: str, ip: str, port: int) -> str:
    return nsclient.connect_outcome(netns, ip, port, TIMEOUT)


REACHED = ("connected", "refused")
SILENT = ("timeout", "unreachable")


def _gateway(ip: str) -> str:
    return str(ipaddress.IPv4Network(f"{ip}/24", strict=False).network_address + 1)


@pytest.fixture(scope="module")
def world(cp: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    path = tmp_path_factory.mktemp("placement") / "placement.yaml"
    path.write_text(TOPOLOGY)
    res = cp.cli("apply", "-f", str(path), "--timeout", "60", timeout=120)
    assert all(f"app-{x} ready" in res.stdout for x in "abc"), res.stdout
    insts = {i["name"]: i for i in cp.items("/v1/instances")}
    apps = {a["name"]: a for a in cp.items("/v1/appliances")}
    networks = {n["name"]: n for n in cp.items("/v1/networks")}
    return {"insts": insts, "apps": apps, "networks": networks}


def _ip(inst: dict[str, Any]) -> str:
    return str(inst["interfaces"][0]["ip"])


def _hidden(app: dict[str, Any]) -> list[tuple[str, str, int]]:
    """(what, ip, port) of every provider-internal address of an appliance."""
    fe = app["frontend"]["interfaces"]
    out = [("front-end backend leg", fe[1]["ip"], PORT), ("front-end mgmt", fe[2]["ip"],
                                                          AGENT_PORT)]
    for b in app["backends"]:
        out += [(f"{b['name']}", b["interfaces"][0]["ip"], PORT),
                (f"{b['name']} mgmt", b["interfaces"][1]["ip"], AGENT_PORT)]
    return out


def _matrix(checks: list[tuple[str, str, str, int, tuple[str, ...]]]) -> None:
    """Run (who, netns, ip, port, allowed outcomes) checks in parallel; all must hold."""
    with ThreadPoolExecutor(max_workers=16) as pool:
        got = list(pool.map(lambda c: _connect(c[1], c[2], c[3]), checks))
    wrong = [f"{c[0]} -> {c[2]}:{c[3]}: {g} (expected {'/'.join(c[4])})"
             for c, g in zip(checks, got, strict=True) if g not in c[4]]
    assert not wrong, "\n".join(wrong)


def _whoami(netns: str, ip: str) -> str:
    status, _, body = nsclient.http(netns, ip, PORT, path="/whoami")
    assert status == 200, body
    return str(json.loads(body)["node"])


def _request_through_endpoint(netns: str, app: dict[str, Any]) -> None:
    endpoint = app["endpoint"]["ip"]
    names = {b["name"] for b in app["backends"]}
    seen = {_whoami(netns, endpoint) for _ in range(12)}
    assert seen == names, f"round robin over {names}, got {seen}"


def test_all_three_in_one_network(cp: ControlPlane, world: dict[str, Any]) -> None:
    insts, app = world["insts"], world["apps"]["app-a"]
    client, peer, ops = insts["a-client"], insts["a-peer"], insts["a-ops"]
    assert {i["subnet"] for n in [app["frontend"], *app["backends"]]
            for i in n["interfaces"]} == {"one/front", "one/back", "one/mgmt"}
    _request_through_endpoint(client["netns"], app)
    backend_ips = [b["interfaces"][0]["ip"] for b in app["backends"]]
    checks: list[tuple[str, str, str, int, tuple[str, ...]]] = []
    c = ("a-client", client["netns"])
    checks += [(*c, app["endpoint"]["ip"], PORT, ("connected",)),
               (*c, app["endpoint"]["ip"], PROBE_PORT, SILENT),  # only the service port
               # the router still routes the network's ordinary subnets: these negatives mean
               (*c, _ip(peer), PROBE_PORT, REACHED),
               (*c, _gateway(_ip(client)), PROBE_PORT, REACHED)]
    checks += [(*c, ip, port, SILENT) for _, ip, port in _hidden(app)]
    checks += [(*c, _gateway(ip), port, SILENT) for ip, port in
               ((backend_ips[0], PROBE_PORT), (app["backends"][0]["interfaces"][1]["ip"],
                                               AGENT_PORT))]
    checks += [(*c, _ip(ops), PROBE_PORT, SILENT)]
    # the instance in the ordinary subnet sees no more than the customer
    p = ("a-peer", peer["netns"])
    checks += [(*p, ip, port, SILENT) for _, ip, port in _hidden(app)]
    checks += [(*p, _ip(client), PROBE_PORT, REACHED)]
    # the provider's own instance inside the backend subnet: the backends next to it, nothing
    # routed out (not the customer, not the management subnet)
    o = ("a-ops", ops["netns"])
    checks += [(*o, ip, PORT, ("connected",)) for ip in backend_ips]
    checks += [(*o, _ip(client), PROBE_PORT, SILENT), (*o, _ip(peer), PROBE_PORT, SILENT),
               (*o, app["endpoint"]["ip"], PORT, SILENT)]
    checks += [(*o, app["backends"][0]["interfaces"][1]["ip"], AGENT_PORT, SILENT)]
    # and the backends cannot call out of their subnet either
    b1 = app["backends"][0]
    checks += [("backend", b1["netns"], _ip(client), PROBE_PORT, SILENT),
               ("backend", b1["netns"], _ip(peer), PROBE_PORT, SILENT)]
    _matrix(checks)


def test_customer_and_backend_in_one_network(cp: ControlPlane, world: dict[str, Any]) -> None:
    insts, app = world["insts"], world["apps"]["app-b"]
    client = insts["b-client"]
    assert app["frontend"]["interfaces"][2]["subnet"] == "two-mgmt/mgmt"
    _request_through_endpoint(client["netns"], app)
    c = ("b-client", client["netns"])
    checks = [(*c, app["endpoint"]["ip"], PORT, ("connected",)),
              (*c, _gateway(_ip(client)), PROBE_PORT, REACHED)]
    checks += [(*c, ip, port, SILENT) for _, ip, port in _hidden(app)]
    checks += [(*c, _gateway(app["backends"][0]["interfaces"][0]["ip"]), PROBE_PORT, SILENT)]
    # app-a lives at the same addresses in another network: nothing of it answers either
    checks += [(*c, ip, port, SILENT) for _, ip, port in _hidden(world["apps"]["app-a"])
               if ip not in {a["interfaces"][0]["ip"] for a in app["backends"]}]
    _matrix(checks)


def test_customer_and_management_in_one_network(cp: ControlPlane,
                                                world: dict[str, Any]) -> None:
    """The management subnet sits next to the customer's: every node's management address
    (and the router's leg there) is one hop away through the customer's own router, and none
    of them may answer; the agent still reaches every node (next test)."""
    insts, app = world["insts"], world["apps"]["app-c"]
    client = insts["c-client"]
    assert app["frontend"]["interfaces"][2]["subnet"] == "three/mgmt"
    assert {b["interfaces"][0]["subnet"] for b in app["backends"]} == {"three-back/back"}
    _request_through_endpoint(client["netns"], app)
    c = ("c-client", client["netns"])
    mgmt_ip = app["backends"][0]["interfaces"][1]["ip"]
    checks = [(*c, app["endpoint"]["ip"], PORT, ("connected",)),
              (*c, _gateway(_ip(client)), PROBE_PORT, REACHED),
              (*c, _gateway(mgmt_ip), AGENT_PORT, SILENT), (*c, _gateway(mgmt_ip), PROBE_PORT,
                                                            SILENT)]
    checks += [(*c, ip, port, SILENT) for _, ip, port in _hidden(app)]
    _matrix(checks)


def test_the_management_agent_still_answers_for_every_node(cp: ControlPlane,
                                                           world: dict[str, Any]) -> None:
    def all_reached() -> bool:
        apps = [cp.get(f"/v1/appliances/{n}") for n in ("app-a", "app-b", "app-c")]
        nodes = [n for a in apps for n in (a["frontend"], *a["backends"])]
        return all((n["management"] or {}).get("reachable") for n in nodes) and all(
            n["management"]["workload"]["ok"] is True for a in apps for n in a["backends"])

    cp.wait_for(all_reached, timeout=15, what="the agents to answer for every node")


def _router_table(netns: str) -> list[dict[str, Any]]:
    return [o for o in nsclient.nft_ruleset(netns)["nftables"]
            if (o.get("rule") or o.get("chain") or {}).get("table") == "fcd_rt"]


def test_the_router_filter_is_in_the_kernel_and_repaired(cp: ControlPlane,
                                                         world: dict[str, Any]) -> None:
    one = world["networks"]["one"]
    router = one["router"]
    rules = [o["rule"] for o in _router_table(router) if "rule" in o]
    forward = [r for r in rules if r["chain"] == "forward"]
    named = {e["match"]["right"] for r in forward for e in r["expr"] if "match" in e}
    assert len(forward) == 4 and len(named) == 2, forward  # back and mgmt, in and out
    # the customer's own network of placement B: only the backend leg is isolated
    two = [o["rule"] for o in _router_table(world["networks"]["two"]["router"]) if "rule" in o]
    assert len([r for r in two if r["chain"] == "forward"]) == 2
    # and of placement C: only the management leg
    three = [o["rule"] for o in _router_table(world["networks"]["three"]["router"])
             if "rule" in o]
    assert len([r for r in three if r["chain"] == "forward"]) == 2
    nsclient.run("ip", "netns", "exec", router, "nft", "flush", "chain", "ip", "fcd_rt",
                 "forward")
    client = world["insts"]["a-client"]
    backend = world["apps"]["app-a"]["backends"][0]["interfaces"][0]["ip"]
    assert _connect(client["netns"], backend, PORT) == "connected"  # the hole, by hand
    cp.wait_for(lambda: len([o for o in _router_table(router) if "rule" in o
                             and o["rule"]["chain"] == "forward"]) == 4,
                timeout=15, what="the reconciler to repair the router's filter")
    assert _connect(client["netns"], backend, PORT) in SILENT
