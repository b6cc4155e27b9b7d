"""Customer sites and private channels on the kernel (docs/edge.md): a site's hosts reach their
network's subnets over a WireGuard channel and back, per-subnet routes (a subnet only through
the private gateway, another only through the public one), a public address remapped to a site
host, and what must stay apart: two customers' sites with the same range, a site and another
customer's network, a subnet kept off the sites.

One world for the module (one control plane): acme's network (public gateway; `app` reaches
everything, `vault` is private but reaches the site, `dmz` reaches the Internet but not the
site) joined to its site hq (192.168.0.0/16), and evil's network joined to evil's site with the
same range and the same host address. Every check is a real TCP connection; the far side says
who it is and which client address it saw.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration import nsclient
from tests.integration.controlplane import ControlPlane
from tests.integration.mgmt_agent import token

pytestmark = pytest.mark.root

PORT = 8080
DESK = "192.168.1.10"


def hello(netns: str, ip: str, timeout: float = 1.0) -> tuple[str, str] | None:
    said = nsclient.greeting(netns, ip, PORT, timeout)
    return said if isinstance(said, tuple) else None


NETWORKS = [
    {"name": "acme-vpc", "account": "acme", "cidr": "10.0.0.0/16", "public_gateway": True,
     "subnets": [{"name": "app", "cidr": "10.0.1.0/24"},
                 {"name": "vault", "cidr": "10.0.9.0/24", "internet": False},
                 {"name": "dmz", "cidr": "10.0.5.0/24", "sites": False}]},
    {"name": "evil-vpc", "account": "evil", "cidr": "10.0.0.0/16", "public_gateway": True,
     "subnets": [{"name": "app", "cidr": "10.0.1.0/24"}]},
]


@pytest.fixture(scope="module")
def world(cp: ControlPlane) -> Iterator[dict[str, Any]]:
    for account in ("acme", "evil"):
        assert cp.api("POST", "/v1/accounts", json={"name": account}).status_code == 201
    for body in NETWORKS:
        r = cp.api("POST", "/v1/networks", json=body)
        assert r.status_code == 201, r.text
    for name, account, subnet in (("web", "acme", "acme-vpc/app"),
                                  ("keeper", "acme", "acme-vpc/vault"),
                                  ("front", "acme", "acme-vpc/dmz"),
                                  ("evil-web", "evil", "evil-vpc/app")):
        r = cp.api("POST", "/v1/instances", json={"name": name, "account": account,
                                                  "interfaces": [{"subnet": subnet}]})
        assert r.status_code == 201, r.text
    out = cp.cli("site", "create", "hq", "--account", "acme", "--cidr", "192.168.0.0/16").stdout
    assert "created site hq" in out, out
    r = cp.api("POST", "/v1/sites", json={"name": "evil-hq", "account": "evil",
                                          "cidr": "192.168.0.0/16"})
    assert r.status_code == 201, r.text
    out = cp.cli("site", "host", "add", "hq", "desk", "--ip", DESK).stdout
    assert f"added host desk ({DESK})" in out, out
    r = cp.api("POST", "/v1/sites/evil-hq/hosts", json={"name": "evil-desk", "ip": DESK})
    assert r.status_code == 201, r.text
    out = cp.cli("vpn", "create", "acme-hq", "--network", "acme-vpc", "--site", "hq").stdout
    assert "created vpn acme-hq" in out, out
    r = cp.api("POST", "/v1/vpns", json={"name": "evil-link", "network": "evil-vpc",
                                         "site": "evil-hq"})
    assert r.status_code == 201, r.text
    r = cp.api("POST", "/v1/externals", json={"name": "laptop", "account": "acme"})
    assert r.status_code == 201, r.text
    nodes = {n: cp.get(f"/v1/instances/{n}") for n in ("web", "keeper", "front", "evil-web",
                                                       "desk", "evil-desk")}
    nodes["laptop"] = cp.get("/v1/externals/laptop")
    servers = [nsclient.Greeter(node["netns"], name, PORT) for name, node in nodes.items()]
    try:
        # a channel's first packet waits for its handshake, which starts when its second end
        # is configured (milliseconds: docs/benchmarks.md); bounded
        for desk in ("desk", "evil-desk"):
            deadline = time.monotonic() + 5
            while hello(nodes[desk]["netns"], nodes["web"]["interfaces"][0]["ip"], 0.3) is None \
                    and time.monotonic() < deadline:
                time.sleep(0.05)
        yield {"nodes": nodes, "tokens": {a: token(cp, a) for a in ("acme", "evil")}}
    finally:
        for server in servers:
            server.close()


def _ns(world: dict[str, Any], name: str) -> str:
    return str(world["nodes"][name]["netns"])


def _ip(world: dict[str, Any], name: str) -> str:
    return str(world["nodes"][name]["interfaces"][0]["ip"])


def test_a_site_host_and_the_network_reach_each_other_over_the_channel(
        world: dict[str, Any]) -> None:
    desk = _ns(world, "desk")
    # no translation on the channel: each side sees the other's own address
    assert hello(desk, _ip(world, "web")) == ("web", DESK)
    assert hello(_ns(world, "web"), DESK) == ("desk", _ip(world, "web"))
    # a private subnet (no Internet) still reaches the site: "only through the private gateway"
    assert hello(desk, _ip(world, "keeper")) == ("keeper", DESK)
    assert hello(_ns(world, "keeper"), DESK) == ("desk", _ip(world, "keeper"))
    assert hello(_ns(world, "keeper"), "198.18.0.2") is None  # not the Internet


def test_a_subnet_kept_off_the_sites_reaches_only_the_internet(world: dict[str, Any]) -> None:
    front = _ns(world, "front")
    assert hello(front, DESK, timeout=0.5) is None
    assert hello(_ns(world, "desk"), _ip(world, "front"), timeout=0.5) is None
    # its route to the Internet is there: outbound through the public gateway needs a public
    # address or outbound NAT, which it has not; the gateway's table says why, not a route
    assert hello(_ns(world, "web"), _ip(world, "front")) == ("front", _ip(world, "web"))


def test_two_customers_sites_with_the_same_range_stay_apart(world: dict[str, Any]) -> None:
    # the same 10.0.1.2 and 192.168.1.10 on both sides: each site reaches its own network
    assert _ip(world, "web") == _ip(world, "evil-web")
    assert hello(_ns(world, "desk"), _ip(world, "web")) == ("web", DESK)
    assert hello(_ns(world, "evil-desk"), _ip(world, "web")) == ("evil-web", DESK)
    assert hello(_ns(world, "evil-web"), DESK) == ("evil-desk", _ip(world, "evil-web"))
    # a site is no path to anything else: not to the Internet's hosts' other networks
    assert hello(_ns(world, "evil-desk"), _ip(world, "keeper"), timeout=0.5) is None


def test_the_channel_is_wireguard_with_its_own_keys(cp: ControlPlane,
                                                    world: dict[str, Any]) -> None:
    chans = {v["name"]: v for v in cp.items("/v1/vpns")}
    assert set(chans) == {"acme-hq", "evil-link"}
    acme, evil = chans["acme-hq"], chans["evil-link"]
    keys = {acme["network_public_key"], acme["site_public_key"], evil["network_public_key"],
            evil["site_public_key"]}
    assert len(keys) == 4  # a key pair per end, per channel
    net = cp.get("/v1/networks/acme-vpc")
    site = cp.get("/v1/sites/hq")
    assert acme["network_gateway"] == net["gateway_ip"]
    assert acme["site_gateway"] == site["gateway_ip"]
    assert acme["network_routes"] == ["192.168.0.0/16"]
    assert acme["site_routes"] == ["10.0.1.0/24", "10.0.9.0/24"]  # not dmz
    for netns, ifname, own, peer in (
            (net["router"], acme["interfaces"]["network"], acme["network_public_key"],
             acme["site_public_key"]),
            (site["router"], acme["interfaces"]["site"], acme["site_public_key"],
             acme["network_public_key"])):
        dump = nsclient.run("ip", "netns", "exec", netns, "wg", "show", ifname, "dump")
        first, second = (line.split("\t") for line in dump.strip().splitlines())
        assert first[1] == own
        assert second[0] == peer and second[1] != "(none)"  # a preshared key too
        assert int(second[4]) > 0  # a handshake happened: authenticated
    # what crosses the intermediate network is UDP between the two gateways, nothing else:
    # the gateways answer their peer's port only (nft, read back)
    rules = json.dumps(nsclient.nft_ruleset(site["router"]))
    assert f'"right": {acme["port"]}' in rules


def test_a_public_address_is_remapped_to_a_site_host(cp: ControlPlane,
                                                     world: dict[str, Any]) -> None:
    acme = world["tokens"]["acme"]
    address = cp.api("POST", "/v1/public-ips", json={}, token=acme).json()["address"]
    at = f"/v1/public-ips/{address}"
    to_desk = {"site": "hq", "site_address": DESK}
    try:
        out = cp.cli("ip", "associate", address, "--site", "hq", "--address", DESK,
                     token=acme).stdout
        assert f"site hq host {DESK}" in out, out
        # the request goes over the channel; the reply comes back over it (to the network
        # router's address in its first subnet, which the request came from) and leaves by
        # the public gateway
        assert hello(_ns(world, "laptop"), address) == ("desk", "10.0.1.1")
        # remapped to an instance and back, one call each
        r = cp.api("POST", f"{at}/associate", json={"instance": "web"}, token=acme)
        assert r.status_code == 200, r.text
        assert hello(_ns(world, "laptop"), address) == ("web", "198.18.0.2")
        r = cp.api("POST", f"{at}/associate", json=to_desk, token=acme)
        assert r.status_code == 200 and r.json()["associated"]["site"] == "hq", r.text
        assert hello(_ns(world, "laptop"), address) == ("desk", "10.0.1.1")
        # the channel carries it: it cannot go while the address is there
        r = cp.api("DELETE", "/v1/vpns/acme-hq", token=acme)
        assert r.status_code == 409 and address in r.json()["error"]["message"], r.text
        # another account's site: the same 404 as none
        r = cp.api("POST", f"{at}/associate", json={"site": "evil-hq", "site_address": DESK},
                   token=acme)
        assert r.status_code == 404 and r.json()["error"]["where"] == "site", r.text
    finally:
        cp.api("POST", f"{at}/disassociate", token=acme)
        cp.api("DELETE", at, token=acme)
    assert hello(_ns(world, "laptop"), address, timeout=0.5) is None


def test_bad_input_is_refused_and_changes_nothing(cp: ControlPlane,
                                                  world: dict[str, Any]) -> None:
    acme, evil = world["tokens"]["acme"], world["tokens"]["evil"]
    before = (cp.items("/v1/vpns"), cp.items("/v1/sites"))
    r = cp.api("POST", "/v1/sites", json={"name": "inside", "account": "acme",
                                          "cidr": "10.0.0.0/16"})
    assert r.status_code == 201, r.text
    try:
        r = cp.api("POST", "/v1/vpns", json={"name": "clash", "network": "acme-vpc",
                                             "site": "inside"})
        said = r.json()["error"]["message"]
        assert r.status_code == 409 and "inside" in said and "acme-vpc" in said, r.text
    finally:
        assert cp.api("DELETE", "/v1/sites/inside").status_code == 204
    r = cp.api("POST", "/v1/vpns", json={"name": "again", "network": "acme-vpc",
                                         "site": "hq"})
    assert r.status_code == 409 and "acme-hq" in r.json()["error"]["message"], r.text
    r = cp.api("POST", "/v1/sites", json={"name": "bad", "cidr": "192.168.0.5/16"})
    assert r.status_code in (400, 422) and r.json()["error"]["where"] == "cidr", r.text
    r = cp.api("POST", "/v1/vpns", json={"name": "steal", "network": "evil-vpc",
                                         "site": "hq"}, token=evil)
    assert r.status_code == 404 and r.json()["error"]["where"] == "site", r.text
    r = cp.api("POST", "/v1/sites/hq/hosts", json={"name": "spy"}, token=evil)
    assert r.status_code == 404, r.text
    r = cp.api("DELETE", "/v1/sites/hq", token=acme)
    assert r.status_code == 409 and "acme-hq" in r.json()["error"]["message"], r.text
    assert (cp.items("/v1/vpns"), cp.items("/v1/sites")) == before


def test_the_topology_and_events_show_sites_and_channels(cp: ControlPlane,
                                                         world: dict[str, Any]) -> None:
    out = cp.cli("topology", token=world["tokens"]["acme"]).stdout
    assert "site hq 192.168.0.0/16" in out and "vpn acme-hq" in out, out
    assert "evil-hq" not in out, out
    kinds = {e["kind"] for e in cp.items("/v1/events")}
    assert {"site.created", "vpn.created", "site.host-added"} <= kinds
    # a site host is a shell like an instance
    out = cp.cli("exec", "desk", "--", "ip", "-4", "-o", "addr", "show", "eth0",
                 token=world["tokens"]["acme"]).stdout
    assert f"inet {DESK}/16" in out, out


def test_a_channels_engine_that_dies_is_made_again(cp: ControlPlane,
                                                   world: dict[str, Any]) -> None:
    """Drift: the site end's engine killed (its interface goes with it); the resync sees the
    router's tunnel missing and makes it again, with the same keys."""
    end = cp.get("/v1/vpns/evil-link")["interfaces"]["site"]
    pids = nsclient.processes_mentioning(end)
    assert pids
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    desk, web = _ns(world, "evil-desk"), _ip(world, "evil-web")
    deadline = time.monotonic() + 10  # the resync runs every 2 s here
    while hello(desk, web, 0.3) != ("evil-web", DESK) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert hello(desk, web) == ("evil-web", DESK)
    assert set(nsclient.processes_mentioning(end)).isdisjoint(pids)


def test_deleting_the_channel_takes_both_ends_away(cp: ControlPlane,
                                                   world: dict[str, Any]) -> None:
    chan = cp.get("/v1/vpns/evil-link")
    r = cp.api("DELETE", "/v1/vpns/evil-link")
    assert r.status_code == 204, r.text
    assert hello(_ns(world, "evil-desk"), _ip(world, "evil-web"), timeout=0.5) is None
    for netns in (cp.get("/v1/networks/evil-vpc")["router"],
                  cp.get("/v1/sites/evil-hq")["router"]):
        links = nsclient.run("ip", "-n", netns, "-o", "link")
        assert chan["interfaces"]["network"] not in links
        assert chan["interfaces"]["site"] not in links
    for end in chan["interfaces"].values():  # the engines exited with their interfaces
        assert not nsclient.processes_mentioning(end)
        assert not os.path.exists(f"/run/wireguard/{end}.sock")
