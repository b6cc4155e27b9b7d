"""Customer sites and private channels, the pure parts (docs/edge.md): WireGuard keys, tunnel
names and ports, the routers' rules at both ends of a channel, the checks of a tunnel spec,
the plan seeing a channel's interface gone, and the scenario file's `sites` and `vpns` (the
service: tests/service/test_edge_sites.py; the kernel: tests/integration/
test_edge_sites_e2e.py)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from facade.dataplane.fake import FakeDataPlane
from facade.dataplane.linux import router_rules
from facade.domain import edge, names, wgkeys
from facade.domain.errors import Conflict, Invalid
from facade.domain.specs import GatewaySpec, NodeSpec, ObservedNode, PortSpec, TunnelSpec
from facade.reconcile.plan import plan_node
from tests.unit.test_edge import _m
from tests.unit.test_placement import _listing

pytestmark = pytest.mark.no_store  # tests/conftest.py


def test_keys_are_x25519_as_rfc_7748_and_wg_write_them() -> None:
    alice = bytes.fromhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
    public = bytes.fromhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
    assert wgkeys.public_key(wgkeys.private_key(alice)) == wgkeys.encode(public)
    key = wgkeys.private_key(bytes(range(32)))
    raw = __import__("base64").b64decode(key)
    assert raw[0] & 7 == 0 and raw[31] & 0xC0 == 0x40  # clamped
    with pytest.raises(ValueError):
        wgkeys.private_key(b"short")


def test_tunnel_names_fit_and_say_their_side() -> None:
    assert names.tunnel(7, "n") == "fcdw7n" and names.tunnel(7, "s") == "fcdw7s"
    assert names.TUNNEL.fullmatch(names.tunnel(123456789, "s"))
    with pytest.raises(ValueError):
        names.tunnel(1, "x")
    assert edge.channel_port(1) == 20001 and edge.channel_port(40001) == 20001


def test_a_site_may_not_overlap_its_network_nor_the_intermediate_range() -> None:
    with pytest.raises(Conflict, match="site hq .* overlaps network vpc"):
        edge.check_site_cidr("10.0.0.0/8", "vpc", "10.1.0.0/16", site="hq")
    edge.check_site_cidr("192.168.0.0/16", "vpc", "10.1.0.0/16", site="hq")
    with pytest.raises(Conflict, match="intermediate"):
        edge.check_site_range("198.19.0.0/16")


def _tunnel(**kw: Any) -> TunnelSpec:
    base: dict[str, Any] = {
        "ifname": "fcdw1n", "private_key": "k", "listen_port": 20001, "peer_key": "p",
        "preshared_key": "s", "endpoint": "198.19.255.253:20001",
        "allowed": ("192.168.0.0/16",)}
    return TunnelSpec(**{**base, **kw})


def _router(tunnel: TunnelSpec, public: bool = True) -> NodeSpec:
    ports = (PortSpec(host="fcdg1", bridge="fcdb1", ifname="s1", address="10.0.1.1/24"),
             PortSpec(host="fcdg2", bridge="fcdb2", ifname="s2", address="10.0.2.1/24"),
             PortSpec(host="fcdp1", bridge="fcdb9", ifname="inet0",
                      address="198.19.255.254/15"))
    return NodeSpec(netns="fcd-r1", role="router", ports=ports, tunnels=(tunnel,),
                    gateway=GatewaySpec("inet0", "198.18.0.1", public=public))


def test_the_networks_end_admits_its_peer_and_cuts_subnets_kept_off_the_sites() -> None:
    spec = _router(_tunnel(legs_out=("s2",), snat="10.0.1.1"))
    rules = router_rules.chain_rules(spec)
    udp = {"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}},
                     "right": 20001}}
    accept = [_m("iifname", "inet0"), _m("saddr", "198.19.255.253"), udp, {"accept": None}]
    assert rules["input"].index(accept) < rules["input"].index(
        [_m("iifname", "inet0"), {"drop": None}])
    forward = rules["forward"]
    for rule in ([_m("iifname", "s2"), _m("oifname", "fcdw1n"), {"drop": None}],
                 [_m("iifname", "fcdw1n"), _m("oifname", "s2"), {"drop": None}],
                 [_m("iifname", "fcdw1n"), _m("oifname", "inet0"), {"drop": None}]):
        assert rule in forward
    assert rules["postrouting"][0] == [
        _m("oifname", "fcdw1n"),
        {"match": {"op": "in", "left": {"ct": {"key": "status"}}, "right": "dnat"}},
        {"snat": {"addr": "10.0.1.1"}}]
    assert router_rules.is_current(_listing(spec), spec)


def test_one_site_is_no_path_to_another_of_the_same_network() -> None:
    spec = _router(_tunnel())
    spec = dataclasses.replace(spec, tunnels=(*spec.tunnels, _tunnel(
        ifname="fcdw2n", endpoint="198.19.255.252:20002", allowed=("172.16.0.0/16",))))
    forward = router_rules.chain_rules(spec)["forward"]
    assert [_m("iifname", "fcdw1n"), _m("oifname", "fcdw2n"), {"drop": None}] in forward
    assert [_m("iifname", "fcdw2n"), _m("oifname", "fcdw1n"), {"drop": None}] in forward


def test_the_sites_end_passes_nothing_between_the_tunnel_and_the_internet() -> None:
    forward = router_rules.chain_rules(_router(_tunnel(site=True)))["forward"]
    assert forward[:2] == [[_m("iifname", "fcdw1n"), _m("oifname", "inet0"), {"drop": None}],
                           [_m("iifname", "inet0"), _m("oifname", "fcdw1n"), {"drop": None}]]


def test_a_tunnel_spec_is_checked_where_the_driver_checks_it() -> None:
    dp = FakeDataPlane()
    spec = _router(_tunnel())
    with pytest.raises(Exception, match="needs a leg"):
        dp.ensure_node(dataclasses.replace(spec, gateway=None))
    with pytest.raises(Exception, match="tunnel fcdw1n"):
        dp.ensure_node(_router(_tunnel(endpoint="nowhere:1")))
    with pytest.raises(Exception, match="also a port"):
        dp.ensure_node(_router(_tunnel(ifname="s1")))


def test_a_channels_interface_gone_is_drift_the_plan_repairs() -> None:
    spec = _router(_tunnel())
    seen = ObservedNode(netns=spec.netns, fingerprint=spec.fingerprint(),
                        addresses=frozenset((p.ifname, p.address) for p in spec.ports),
                        tunnels=frozenset())
    actions = plan_node(spec.netns, spec, seen, (), {})
    assert [(a.verb, a.reason) for a in actions] == [("ensure_node", "tunnels differ")]
    same = dataclasses.replace(seen, tunnels=frozenset({"fcdw1n"}))
    assert plan_node(spec.netns, spec, same, (), {}) == []


def test_a_gateway_without_channels_keeps_its_fingerprint() -> None:
    spec = _router(_tunnel())
    plain = dataclasses.replace(spec, tunnels=())
    assert "tunnels" not in str(plain.fingerprint())
    assert plain.fingerprint() != spec.fingerprint()
    private = dataclasses.replace(plain, gateway=GatewaySpec("inet0", "198.18.0.1",
                                                             public=False))
    assert private.fingerprint() != plain.fingerprint()


# --------------------------------------------------------------------------- the scenario file


def test_sites_and_vpns_are_read_and_checked_at_their_lines() -> None:
    from facade.scenario import parse_scenario

    sc = parse_scenario(
        "sites:\n  - {name: hq, account: a, cidr: 192.168.0.0/16,\n"
        "     hosts: [{name: desk, ip: 192.168.1.10}, {name: pc}]}\n"
        "vpns: [{name: link, network: vpc, site: hq}]\n"
        "public_ips: [{account: a, site: hq, address: 192.168.1.10}]\n", "s.yaml")
    assert [s.name for s in sc.sites] == ["hq"]
    assert [(h.name, h.site, h.ip) for h in sc.site_hosts] == [
        ("desk", "hq", "192.168.1.10"), ("pc", "hq", None)]
    assert sc.vpns[0].network == "vpc" and sc.public_ips[0].label == "site hq host 192.168.1.10"
    cases = {
        "sites: [{name: hq, account: a, cidr: 192.168.0.1/16}]": "host bits",
        "sites: [{name: hq, account: a}]": "cidr",
        "sites: [{name: hq, account: a, cidr: 10.0.0.0/8, hosts: [{name: x, ip: no}]}]": "IPv4",
        "instances: [{name: x, account: a, interfaces: [n/s]}]\n"
        "sites: [{name: hq, account: a, cidr: 10.0.0.0/8, hosts: [{name: x}]}]":
            "share their names",
        "vpns:\n  - {name: a, network: n, site: hq}\n  - {name: b, network: m, site: hq}":
            "has a channel already",
        "vpns: [{name: a, network: n}]": "site",
        "public_ips: [{account: a, site: hq}]": "site and address",
        "networks: [{name: n, account: a, cidr: 10.0.0.0/16, subnets: "
        "[{name: s, cidr: 10.0.1.0/24, sites: maybe}]}]": "true or false",
    }
    for text, words in cases.items():
        with pytest.raises(Invalid, match=words) as exc:
            parse_scenario(text, "edge.yaml")
        assert (exc.value.where or "").startswith("edge.yaml:"), exc.value.where
