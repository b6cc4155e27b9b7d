"""The edge's pure parts (docs/edge.md): pools and which address comes next (domain.edge), a
public gateway's nftables rules as data (router_rules: its NAT and its per-address byte
counters), what the fake driver refuses and how it keeps the counters, and the
edge's keys of a scenario file checked at their lines (through the API:
tests/service/test_edge.py)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from facade.dataplane.fake import FakeDataPlane
from facade.dataplane.linux import router_rules
from facade.domain import edge
from facade.domain.errors import Conflict, Invalid
from facade.domain.specs import GatewaySpec, NodeSpec, PortSpec, SubnetSpec
from tests.unit.test_placement import _listing

pytestmark = pytest.mark.no_store  # tests/conftest.py

# --------------------------------------------------------------------------- domain.edge


def test_pools_are_checked_against_each_other_and_the_intermediate_network() -> None:
    assert edge.check_pool("198.51.100.0/24", [edge.DEFAULT_POOL]) == "198.51.100.0/24"
    with pytest.raises(Conflict, match="overlaps pool 203.0.113.0/24"):
        edge.check_pool("203.0.113.128/25", [edge.DEFAULT_POOL])
    with pytest.raises(Conflict, match="intermediate network"):
        edge.check_pool("198.19.0.0/24", [])
    for bad in ("203.0.113.1/24", "10.0.0.0/8", "10.0.0.0/31", "nope", 7):
        with pytest.raises(Invalid):
            edge.check_pool(bad, [])


def test_addresses_come_from_the_pools_in_order_until_none_is_left() -> None:
    pools = ["192.0.2.0/30", "198.51.100.0/30"]  # two usable addresses each
    taken: set[str] = set()
    for want in ("192.0.2.1", "192.0.2.2", "198.51.100.1", "198.51.100.2"):
        got = edge.next_public(pools, taken)
        assert got == want
        taken.add(got)
    with pytest.raises(Conflict, match="every public address is in use"):
        edge.next_public(pools, taken)
    taken.discard("192.0.2.2")  # released: handed out again
    assert edge.next_public(pools, taken) == "192.0.2.2"


def test_gateways_are_numbered_from_the_top_of_the_intermediate_network() -> None:
    assert edge.core_address() == "198.18.0.1"
    assert edge.next_gateway(edge.INTERMEDIATE_CIDR, set()) == "198.19.255.254"
    assert edge.next_gateway(edge.INTERMEDIATE_CIDR, {"198.19.255.254"}) == "198.19.255.253"
    with pytest.raises(Conflict):
        edge.next_gateway("198.18.0.0/30", {"198.18.0.2"})


def test_public_addresses_are_plain_ipv4() -> None:
    assert edge.check_public("203.0.113.9") == "203.0.113.9"
    for bad in ("203.0.113.300", "::1", "", None, "a.b.c.d"):
        with pytest.raises(Invalid):
            edge.check_public(bad)


# --------------------------------------------------------------------------- router_rules


def _gateway(nat: tuple[tuple[str, str], ...] = (), outbound: bool = False,
             isolated: tuple[str, ...] = ()) -> NodeSpec:
    ports = (PortSpec(host="fcdg1", bridge="fcdb1", ifname="s1", address="10.0.1.1/24"),
             PortSpec(host="fcdg2", bridge="fcdb2", ifname="s2", address="10.0.2.1/24"),
             PortSpec(host="fcdp1", bridge="fcdb9", ifname="inet0",
                      address="198.19.255.254/15"))
    return NodeSpec(netns="fcd-r1", role="router", ports=ports, isolated=isolated,
                    gateway=GatewaySpec("inet0", "198.18.0.1", nat, outbound))


def _m(key: str, value: Any, op: str = "==") -> dict[str, Any]:
    left = {"meta": {"key": key}} if key.endswith("ifname") else \
        {"payload": {"protocol": "ip", "field": key}}
    return {"match": {"op": op, "left": left, "right": value}}


def test_a_gateway_translates_each_pair_and_lets_in_only_what_it_translates() -> None:
    rules = router_rules.chain_rules(_gateway(nat=(("203.0.113.5", "10.0.1.5"),)))
    assert rules["prerouting"] == [
        [_m("iifname", "inet0"), _m("daddr", "203.0.113.5"), {"dnat": {"addr": "10.0.1.5"}}]]
    assert rules["postrouting"] == [
        [_m("oifname", "inet0"), _m("saddr", "10.0.1.5"), {"snat": {"addr": "203.0.113.5"}}]]
    forward = rules["forward"]
    assert forward[-1] == [_m("oifname", "inet0"), {"drop": None}]  # no outbound NAT
    assert [_m("iifname", "inet0"), {"drop": None}] in forward
    assert [_m("oifname", "inet0"), _m("saddr", "10.0.1.5"), {"accept": None}] in forward
    assert rules["input"][-1] == [_m("iifname", "inet0"), {"drop": None}]


def test_outbound_nat_masquerades_the_rest_and_isolated_legs_still_win() -> None:
    rules = router_rules.chain_rules(_gateway(outbound=True, isolated=("s2",)))
    assert rules["postrouting"] == [[_m("oifname", "inet0"), {"masquerade": None}]]
    forward = rules["forward"]
    assert forward[-1] == [_m("oifname", "inet0"), {"accept": None}]
    drops = forward.index([_m("iifname", "s2"), {"drop": None}])
    assert drops < forward.index([_m("oifname", "inet0"), {"accept": None}])


def test_a_private_subnets_leg_never_passes_to_or_from_the_internet() -> None:
    spec = _gateway(outbound=True)
    spec = dataclasses.replace(spec, gateway=dataclasses.replace(spec.gateway, private=("s2",)))
    forward = router_rules.chain_rules(spec)["forward"]
    out = [_m("iifname", "s2"), _m("oifname", "inet0"), {"drop": None}]
    back = [_m("iifname", "inet0"), _m("oifname", "s2"), {"drop": None}]
    first_accept = next(i for i, r in enumerate(forward) if r[-1] == {"accept": None})
    assert forward.index(out) < first_accept and forward.index(back) < first_accept


def test_the_gateways_table_is_compared_and_its_nat_chains_go_with_the_gateway() -> None:
    spec = _gateway(nat=(("203.0.113.5", "10.0.1.5"),))
    listing = _listing(spec)
    assert router_rules.is_current(listing, spec)
    remapped = _gateway(nat=(("203.0.113.5", "10.0.1.6"),))
    assert not router_rules.is_current(listing, remapped)
    assert router_rules.digest(_listing(remapped)) != router_rules.digest(listing)
    plain = dataclasses.replace(spec, gateway=None, isolated=("s2",))
    assert not router_rules.is_current(listing, plain)
    cmds = router_rules.table_commands(plain, present={"prerouting": {}, "postrouting": {}})
    deleted = [c["delete"]["chain"]["name"] for c in cmds if "delete" in c]
    assert deleted == ["prerouting", "postrouting"]
    assert router_rules.wanted(spec) and router_rules.wanted(plain)
    assert not router_rules.wanted(dataclasses.replace(plain, isolated=()))


def _metered(*pairs: tuple[str, str, str]) -> NodeSpec:
    spec = _gateway(nat=tuple((public, private) for public, private, _ in pairs))
    assert spec.gateway is not None
    return dataclasses.replace(spec, gateway=dataclasses.replace(
        spec.gateway, meters=tuple((public, stem) for public, _, stem in pairs)))


def test_a_gateway_counts_each_addresss_bytes_in_named_counters_around_the_nat() -> None:
    spec = _metered(("203.0.113.5", "10.0.1.5", "pip7"))
    rules = router_rules.chain_rules(spec)
    # in: before the DNAT (prerouting at -150 < -100), the public address is the destination
    assert rules["meter_in"] == [[_m("iifname", "inet0"), _m("daddr", "203.0.113.5"),
                                  {"counter": "pip7_in"}]]
    # out: after the SNAT (postrouting at 150 > 100), the public address is the source
    assert rules["meter_out"] == [[_m("oifname", "inet0"), _m("saddr", "203.0.113.5"),
                                   {"counter": "pip7_out"}]]
    chains = router_rules.chains(spec)
    assert chains["meter_in"][1:3] == ("prerouting", -150) and chains["prerouting"][2] == -100
    assert chains["meter_out"][1:3] == ("postrouting", 150) and chains["postrouting"][2] == 100
    assert router_rules.counters(spec) == ["pip7_in", "pip7_out"]
    cmds = router_rules.table_commands(spec)
    added = [c["add"]["counter"]["name"] for c in cmds if "counter" in c.get("add", {})]
    first_rule = next(i for i, c in enumerate(cmds) if "rule" in c.get("add", {}))
    assert added == ["pip7_in", "pip7_out"]
    assert all(i < first_rule for i, c in enumerate(cmds) if "counter" in c.get("add", {}))


def test_a_remap_keeps_the_counters_and_an_address_leaving_takes_its_own() -> None:
    one = _metered(("203.0.113.5", "10.0.1.5", "pip7"))
    listing = _listing(one)
    assert router_rules.is_current(listing, one)
    assert router_rules.counters_of(listing) == {"pip7_in": (1, 0), "pip7_out": (2, 0)}
    # a remap inside the network: other rules, the same counters, none deleted
    remapped = _metered(("203.0.113.5", "10.0.1.6", "pip7"))
    assert not router_rules.is_current(listing, remapped)
    cmds = router_rules.table_commands(remapped, {"meter_in": {}}, ["pip7_in", "pip7_out"])
    assert not [c for c in cmds if "counter" in c.get("delete", {})]
    # the address leaves, another comes: its counters go, after the rules that used them
    other = _metered(("203.0.113.9", "10.0.1.5", "pip8"))
    assert not router_rules.is_current(listing, other)
    cmds = router_rules.table_commands(other, {"meter_in": {}}, ["pip7_in", "pip7_out"])
    deleted = [i for i, c in enumerate(cmds) if "counter" in c.get("delete", {})]
    assert [cmds[i]["delete"]["counter"]["name"] for i in deleted] == ["pip7_in", "pip7_out"]
    last_rule = max(i for i, c in enumerate(cmds) if "rule" in c.get("add", {}))
    assert min(deleted) > last_rule
    # a counter deleted by hand is drift; its values are not (the digest ignores them)
    assert router_rules.digest(listing[:-1]) != router_rules.digest(listing)
    counted = [{"counter": {**o["counter"], "bytes": 99}} if "counter" in o else o
               for o in listing]
    assert router_rules.digest(counted) == router_rules.digest(listing)
    assert not router_rules.is_current([o for o in listing if "counter" not in o], one)
    # no longer a gateway: its chains and counters go
    plain = dataclasses.replace(one, gateway=None, isolated=("s2",))
    cmds = router_rules.table_commands(plain, router_rules.parse_table(listing)[0],
                                       router_rules.counters_of(listing))
    assert {c["delete"].get("counter", {}).get("name") or c["delete"]["chain"]["name"]
            for c in cmds if "delete" in c} == {"prerouting", "postrouting", "meter_in",
                                                "meter_out", "pip7_in", "pip7_out"}


def test_the_fake_keeps_a_gateways_counters_as_the_kernel_does() -> None:
    dp = FakeDataPlane()
    dp.ensure_subnet(SubnetSpec(bridge="fcdb1", cidr="10.0.1.0/24"))
    for bridge in ("fcdb2", "fcdb9"):
        dp.ensure_subnet(SubnetSpec(bridge=bridge, cidr="10.9.0.0/24"))
    dp.ensure_node(_metered(("203.0.113.5", "10.0.1.5", "pip7")))
    dp.count_bytes("fcd-r1", "pip7_in", 1000)
    first = dp.gateway_counters("fcd-r1")
    assert first is not None and first["pip7_in"][1] == 1000 and first["pip7_out"][1] == 0
    dp.ensure_node(_metered(("203.0.113.5", "10.0.1.6", "pip7")))  # a remap: kept
    assert dp.gateway_counters("fcd-r1") == first
    dp.ensure_node(_metered(("203.0.113.9", "10.0.1.5", "pip8")))  # gone, and a new one
    assert set(dp.gateway_counters("fcd-r1") or {}) == {"pip8_in", "pip8_out"}
    dp.ensure_node(_metered(("203.0.113.5", "10.0.1.5", "pip7")))  # back: a new epoch, at 0
    again = dp.gateway_counters("fcd-r1") or {}
    assert again["pip7_in"][1] == 0 and again["pip7_in"][0] != first["pip7_in"][0]
    dp.delete_node("fcd-r1")
    assert dp.gateway_counters("fcd-r1") is None


def test_the_fake_refuses_edge_fields_where_the_driver_does() -> None:
    dp = FakeDataPlane()
    spec = _gateway()
    with pytest.raises(Exception, match="only a router"):
        dp.ensure_node(dataclasses.replace(spec, role="instance"))
    with pytest.raises(Exception, match="is not a port"):
        dp.ensure_node(dataclasses.replace(spec, gateway=GatewaySpec("eth9", "198.18.0.1")))
    with pytest.raises(Exception, match="not permitted"):
        dp.ensure_node(dataclasses.replace(spec, routes=(("203.0.113.300/32", "198.18.0.9"),)))


# --------------------------------------------------------------------------- the scenario file


def test_the_edge_keys_are_checked_at_their_lines() -> None:
    from facade.scenario import parse_scenario

    cases = {
        "networks: [{name: n, account: a, cidr: 10.0.0.0/16, outbound_nat: true}]":
            "outbound_nat needs public_gateway",
        "networks: [{name: n, account: a, cidr: 10.0.0.0/16, public_gateway: yes please}]":
            "must be true or false",
        "public_ips: [{account: a}]": "names the instance, the appliance or the site",
        "public_ips: [{account: a, instance: w, appliance: d}]": "one of them",
        "public_ips: [{account: a, instance: w, iface: wlan0}]": "ethN",
        "public_ips:\n  - {account: a, instance: w}\n  - {account: a, instance: w}": "twice",
        "external_hosts: [{name: x, account: a, ip: nope}]": "IPv4",
        "instances: [{name: x, account: a, interfaces: [n/s]}]\n"
        "external_hosts: [{name: x, account: a}]": "share their names",
    }
    for text, words in cases.items():
        with pytest.raises(Invalid, match=words) as exc:
            parse_scenario(text, "edge.yaml")
        assert (exc.value.where or "").startswith("edge.yaml:"), exc.value.where
