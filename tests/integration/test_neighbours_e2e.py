"""Facade's own paths resolve without ARP (dataplane/linux/neighbours.py): the router knows every
leg that has it as gateway, every node its gateways, a front-end its rotation and a backend its
front-end, as permanent neighbour entries that the kernel's shared 1024-entry limit does not
count. Checked against the kernel: the entries and their MACs (read from the peers' own links),
the appliance serving and managed with ARP dropped on the provider's segments, the rotation's
entries following a scale-down, and nothing left in the routers once the appliance is gone."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration import nsclient
from tests.integration.controlplane import ControlPlane

pytestmark = pytest.mark.root
EXAMPLE = "examples/search.yaml"
AGENT_PORT = 9700
DROP_TABLE = "fcdtestarp"


@pytest.fixture(scope="module")
def docs(cp: ControlPlane) -> dict[str, Any]:
    cp.cli("apply", "-f", EXAMPLE)
    return dict(json.loads(cp.cli("appliance", "show", "docs", "--json").stdout))


def _permanent(netns: str) -> dict[tuple[str, str], str]:
    """(ifname, address) -> MAC of the permanent entries, from `ip -j neigh`."""
    out = json.loads(nsclient.run("ip", "-n", netns, "-j", "neigh", "show", "nud", "permanent"))
    return {(n["dev"], n["dst"]): n["lladdr"] for n in out}


def _mac(netns: str, ifname: str) -> str:
    """The MAC of a link, read inside its namespace (`ip -j link`)."""
    return str(json.loads(nsclient.run("ip", "-n", netns, "-j", "link", "show", ifname))[0][
        "address"])


def _network(cp: ControlPlane, name: str) -> dict[str, Any]:
    return next(n for n in cp.items("/v1/networks") if n["name"] == name)


def _leg(node: dict[str, Any], subnet: str) -> tuple[str, str]:
    """(ifname, address) of a node's leg in a subnet."""
    return next((i["name"], i["ip"]) for i in node["interfaces"] if i["subnet"] == subnet)


def _ip(node: dict[str, Any], subnet: str) -> str:
    return _leg(node, subnet)[1]


def _router_leg(net: dict[str, Any], subnet: str) -> tuple[str, str, str]:
    """(ifname, gateway, MAC) of a router's leg in a subnet; its ifname is s<id>, the bridge's
    number (domain/names.py)."""
    sub = next(s for s in net["subnets"] if s["name"] == subnet)
    ifname = "s" + sub["bridge"].removeprefix("fcdb")
    return ifname, sub["gateway"], _mac(net["router"], ifname)


def test_the_appliance_paths_are_permanent_entries_with_the_peers_real_macs(
        cp: ControlPlane, docs: dict[str, Any]) -> None:
    fe, backends = docs["frontend"], docs["backends"]
    acme, search = _network(cp, "acme-vpc"), _network(cp, "search-vpc")
    app, mgmt = _router_leg(acme, "acme-vpc/app"), _router_leg(search, "search-vpc/mgmt")
    # the routers: the endpoint, and every node's management leg, with the node's real MAC
    in_acme, in_search = _permanent(acme["router"]), _permanent(search["router"])
    assert in_acme[(app[0], docs["endpoint"]["ip"])] == _mac(fe["netns"], "eth0")
    for node in [fe, *backends]:
        ifname, ip = _leg(node, "search-vpc/mgmt")
        assert in_search[(mgmt[0], ip)] == _mac(node["netns"], ifname), node["name"]
    # the front-end: its gateways and its rotation, on the right legs
    fe_seen = _permanent(fe["netns"])
    assert fe_seen[("eth0", app[1])] == app[2]
    assert fe_seen[("eth2", mgmt[1])] == mgmt[2]
    fe_back = _ip(fe, "search-vpc/backend")
    for b in backends:
        ip = _ip(b, "search-vpc/backend")
        assert fe_seen[("eth1", ip)] == _mac(b["netns"], "eth0")
        # the backend: its front-end and its gateways; not its fellow backends (ARP's)
        b_seen = _permanent(b["netns"])
        assert b_seen[("eth0", fe_back)] == _mac(fe["netns"], "eth1")
        assert b_seen[("eth1", mgmt[1])] == mgmt[2]
        others = {_ip(o, "search-vpc/backend") for o in backends if o is not b}
        assert not others & {ip for dev, ip in b_seen if dev == "eth0"}


@pytest.fixture
def arp_dropped(cp: ControlPlane) -> Iterator[None]:
    """No ARP enters the provider's backend and management segments from any of their ports
    (an nft table of the test's own in the fabric namespace), and every dynamic entry is
    flushed. The customer's segment keeps ARP: its instances resolve the endpoint as usual."""
    ports = sorted(f'"{link["ifname"]}"' for s in _network(cp, "search-vpc")["subnets"]
                   for link in json.loads(nsclient.run("ip", "-n", "fcd-fabric", "-j", "link",
                                                       "show", "master", s["bridge"])))
    nsclient.run("ip", "netns", "exec", "fcd-fabric", "nft",
                 f"add table bridge {DROP_TABLE}; add chain bridge {DROP_TABLE} noarp"
                 " { type filter hook forward priority 0; };"
                 f" add rule bridge {DROP_TABLE} noarp ether type arp"
                 f" iifname {{ {', '.join(ports)} }} drop")
    try:
        for netns in nsclient.facade_netns() - {"fcd-fabric"}:
            nsclient.run("ip", "-n", netns, "neigh", "flush", "all", check=False)
        yield
    finally:
        nsclient.run("ip", "netns", "exec", "fcd-fabric", "nft", "delete", "table", "bridge",
                     DROP_TABLE, check=False)


def test_with_no_arp_on_the_provider_segments_the_appliance_serves_and_is_managed(
        cp: ControlPlane, docs: dict[str, Any], arp_dropped: None) -> None:
    fe, backends = docs["frontend"], docs["backends"]
    search = _network(cp, "search-vpc")
    # the control: two backends, which resolve each other by ARP, no longer can
    a, b = backends[0], backends[1]
    assert nsclient.connect_outcome(a["netns"], _ip(b, "search-vpc/backend"), 80,
                                    timeout=1.5) != "connected"
    for node in [fe, *backends]:  # the router to every agent listener, and back
        assert nsclient.can_connect(search["router"], _ip(node, "search-vpc/mgmt"), AGENT_PORT,
                                    timeout=2), node["name"]
    client = json.loads(cp.cli("instance", "show", "client", "--json").stdout)["netns"]
    for _ in range(6):  # through the endpoint, over every backend (the rotation is in turn)
        status, _h, _body = nsclient.http(client, docs["endpoint"]["ip"], 80,
                                          path="/search?q=facade")
        assert status == 200
    time.sleep(3)  # a round of health checks and management polls, without ARP
    assert cp.get("/v1/appliances/docs")["status"] == "ready"


def test_a_router_made_again_learns_the_legs_already_on_its_segments(
        cp: ControlPlane, docs: dict[str, Any]) -> None:
    search = _network(cp, "search-vpc")
    before = _permanent(search["router"])
    assert len(before) >= 1 + 2 * len(docs["backends"])  # management legs, backend legs
    nsclient.run("ip", "netns", "del", search["router"])  # drift: the router is gone
    assert search["router"] not in nsclient.facade_netns()
    # the resync (every 2 s in these tests) makes it again, and its new legs learn from the
    # fabric which ports are on their segments: the same entries as before, none by ARP
    cp.wait_for(lambda: search["router"] in nsclient.facade_netns()
                and _permanent(search["router"]) == before, timeout=20,
                what="the router made again, with its permanent entries")
    cp.wait_for(lambda: cp.get("/v1/appliances/docs")["status"] == "ready", timeout=20,
                what="docs ready again")


def test_the_rotation_entries_follow_the_rotation_and_go_with_the_appliance(
        cp: ControlPlane, docs: dict[str, Any]) -> None:
    cp.cli("appliance", "scale", "docs", "2")
    now = cp.get("/v1/appliances/docs")
    fe = now["frontend"]
    kept = {_ip(b, "search-vpc/backend") for b in now["backends"]}
    assert len(kept) == 2
    assert {ip for dev, ip in _permanent(fe["netns"]) if dev == "eth1"} == kept
    acme, search = _network(cp, "acme-vpc"), _network(cp, "search-vpc")
    gone = {_ip(b, "search-vpc/mgmt") for b in docs["backends"]} - {
        _ip(b, "search-vpc/mgmt") for b in now["backends"]}
    assert len(gone) == 1
    assert not gone & {ip for _dev, ip in _permanent(search["router"])}
    cp.cli("appliance", "delete", "docs")
    nodes = [docs["frontend"], *docs["backends"]]
    in_acme = {ip for _dev, ip in _permanent(acme["router"])}
    in_search = {ip for _dev, ip in _permanent(search["router"])}
    assert docs["endpoint"]["ip"] not in in_acme
    assert not in_search & {i["ip"] for n in nodes for i in n["interfaces"]
                            if i["subnet"].startswith("search-vpc/")}
    # the client instance's own announcement stays
    client = json.loads(cp.cli("instance", "show", "client", "--json").stdout)
    assert client["interfaces"][0]["ip"] in in_acme
