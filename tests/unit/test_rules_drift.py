"""Drift of the security-rule tables and of a front-end's objects, without root: the rules are
read back from an `nft -j list`-shaped listing and compared rule by rule with the desired ones;
anything Facade did not write is named; plan() repairs it with a reason that says what, and a
second pass plans nothing. (The same on the kernel: tests/integration/test_rules_drift_e2e.py.)"""

from __future__ import annotations

import copy
import itertools
from dataclasses import replace
from typing import Any

import pytest

from facade.dataplane.fake import FakeDataPlane
from facade.dataplane.linux import nft_rules, port_rules
from facade.domain.specs import (
    DesiredState,
    NodeSpec,
    ObservedState,
    PortRuleSpec,
    PortSpec,
    SubnetSpec,
    port_rules_fingerprint,
)
from facade.reconcile.apply import apply
from facade.reconcile.plan import plan, rules_drift
from tests.unit.test_plan import FE, desired

pytestmark = pytest.mark.no_store  # tests/conftest.py

DENY_8080 = PortRuleSpec("ingress", "deny", "tcp", "8080", "0.0.0.0/0", 10)
ALLOW_DNS = PortRuleSpec("egress", "allow", "udp", "53-60", "10.1.2.3/32", 5)
DENY_ALL_IN = PortRuleSpec("ingress", "deny", "any", None, "0.0.0.0/0", 100)
DENY_ALL_OUT = PortRuleSpec("egress", "deny", "any", None, "0.0.0.0/0", 100)
RULES = {"fcdv1": (DENY_8080, ALLOW_DNS, DENY_ALL_IN, DENY_ALL_OUT),
         "fcdv2": (PortRuleSpec("egress", "allow", "icmp", None, "10.0.0.0/8", 1),)}
BRIDGES = {"fcdb1"}


def kernel(rules: dict[str, tuple[PortRuleSpec, ...]] = RULES,
           bridges: set[str] = BRIDGES) -> list[dict[str, Any]]:
    """What `nft -j list table ...` answers for both tables after `table_commands`: the same
    objects, with handles and a metainfo header (the shape checked on the kernel)."""
    objects = port_rules.written(port_rules.table_commands(rules, bridges))
    listing: list[dict[str, Any]] = [{"metainfo": {"json_schema_version": 1}}]
    for handle, obj in enumerate(objects, start=1):
        ((kind, body),) = obj.items()
        listing.append({kind: {**copy.deepcopy(body), "handle": handle}})
    return listing


def observe(listing: list[dict[str, Any]], bridges: set[str] = BRIDGES) -> ObservedState:
    """What the linux driver makes of a listing (and the bridges whose conntrack is on)."""
    reading = port_rules.read_back([o for o in listing
                                    if next(iter(o.values())).get("family") == "bridge"])
    drift = port_rules.differences(listing, reading.rules, bridges)
    return ObservedState(port_rules=reading.fingerprint, port_rules_seen=reading.rules,
                         port_rules_drift=tuple(drift))


def _rules_of(listing: list[dict[str, Any]], chain: str) -> list[dict[str, Any]]:
    return [o for o in listing if o.get("rule", {}).get("chain") == chain]


def _state(rules: dict[str, tuple[PortRuleSpec, ...]] = RULES) -> DesiredState:
    sub = SubnetSpec("fcdb1", "10.0.1.0/24")
    nodes = tuple(NodeSpec(f"fcd-i{i}-n", "instance",
                           (PortSpec(f"fcdv{i}", "fcdb1", "eth0", f"10.0.1.{10 + i}/24"),))
                  for i in (1, 2))
    return DesiredState(subnets=(sub,), nodes=nodes, port_rules=rules)


def _reasons(state: DesiredState, observed: ObservedState) -> list[str]:
    return [a.reason for a in plan(state, observed).actions if a.verb == "set_port_rules"]


# -- reading the rules back ----------------------------------------------------------------

def test_every_rule_reads_back_as_itself() -> None:
    count = 0
    for direction, action, protocol, ports, cidr in itertools.product(
            ("ingress", "egress"), ("allow", "deny"), ("tcp", "udp", "icmp", "any"),
            (None, "22", "8000-8100"), ("0.0.0.0/0", "10.0.0.0/8", "10.1.2.3/32",
                                        "0.0.0.0/1")):
        if ports is not None and protocol not in ("tcp", "udp"):
            continue
        rule = PortRuleSpec(direction, action, protocol, ports, cidr, 7)  # type: ignore[arg-type]
        chain = ("in_" if direction == "ingress" else "out_") + "fcdv1"
        got = port_rules.decode_rule(chain, {"comment": "p7", "expr": port_rules.rule_exprs(rule)})
        assert got == rule
        count += 1
    assert count == 128


@pytest.mark.parametrize("rule", [
    {"comment": "p7", "expr": [{"match": {"op": "==", "left": {"meta": {"key": "iifname"}},
                                          "right": "x"}}, {"accept": None}]},
    {"expr": port_rules.rule_exprs(DENY_8080)},  # no priority comment
    {"comment": "p7", "expr": [*port_rules.rule_exprs(DENY_8080)[:-1],
                               {"counter": {"packets": 0, "bytes": 0}}, {"drop": None}]},
    {"comment": "p7", "expr": [{"match": {"op": "==", "left": {"payload": {
        "protocol": "tcp", "field": "dport"}}, "right": {"set": [22, 80]}}}, {"drop": None}]},
    {"comment": "p7", "expr": [{"accept": None}]},  # accepts everything, even non-IP
    {"comment": "p7", "expr": [{"jump": {"target": "forward"}}]},
])
def test_a_rule_facade_does_not_write_is_not_decoded(rule: dict[str, Any]) -> None:
    assert port_rules.decode_rule("in_fcdv1", rule) is None


def test_an_untouched_table_reads_back_exactly() -> None:
    seen = observe(kernel())
    assert seen.port_rules == port_rules_fingerprint(RULES)
    assert seen.port_rules_drift == ()
    assert rules_drift(RULES, seen.port_rules_seen or {}) == []
    assert _reasons(_state(), seen) == []


def test_how_the_directions_interleave_does_not_matter() -> None:
    # the kernel keeps egress and ingress in two chains: read back, egress comes first
    seen = observe(kernel())
    assert seen.port_rules_seen is not None
    assert seen.port_rules_seen["fcdv1"] == (ALLOW_DNS, DENY_ALL_OUT, DENY_8080, DENY_ALL_IN)
    assert rules_drift(RULES, seen.port_rules_seen) == []


# -- changes behind Facade's back ----------------------------------------------------------

def test_one_deleted_rule_is_named() -> None:
    listing = kernel()
    listing.remove(_rules_of(listing, "in_fcdv1")[0])  # nft delete rule ... handle N
    seen = observe(listing)
    assert seen.port_rules == port_rules_fingerprint(RULES)  # the marker is still there
    assert _reasons(_state(), seen) == [
        "drift: fcdv1 ingress: deny tcp 8080 (priority 10) missing"]


def test_an_added_accept_rule_is_named() -> None:
    listing = kernel()
    forward = _rules_of(listing, "forward")
    extra = copy.deepcopy(forward[2])
    extra["rule"]["expr"][-1] = {"accept": None}  # iifname "fcdv1" accept: skips its rules
    listing.insert(listing.index(forward[2]), extra)
    assert _reasons(_state(), observe(listing)) == ["drift: chain forward: 1 unexpected rule"]
    # in a port chain, a rule that looks like Facade's is read as a rule and named as such
    listing = kernel()
    sneaky = copy.deepcopy(_rules_of(listing, "in_fcdv1")[0])
    sneaky["rule"]["comment"] = "p1"
    sneaky["rule"]["expr"][-1] = {"accept": None}
    listing.insert(listing.index(_rules_of(listing, "in_fcdv1")[0]), sneaky)
    assert _reasons(_state(), observe(listing)) == [
        "drift: fcdv1 ingress: unexpected allow tcp 8080 (priority 1)"]


def test_a_flushed_chain_is_named() -> None:
    listing = [o for o in kernel() if o.get("rule", {}).get("chain") != "out_fcdv1"]
    (reason,) = _reasons(_state(), observe(listing))
    assert reason.startswith("drift: fcdv1 egress: allow udp 53-60 to 10.1.2.3/32 (priority 5) "
                             "missing; fcdv1 egress: deny any (priority 100) missing")
    listing = [o for o in kernel() if o.get("rule", {}).get("chain") != "stamp"]
    assert _reasons(_state(), observe(listing)) == ["drift: chain stamp: 1 rule missing"]


def test_reordered_rules_and_changed_elements_are_drift() -> None:
    listing = kernel()
    a, b = _rules_of(listing, "in_fcdv1")
    i, j = listing.index(a), listing.index(b)
    listing[i], listing[j] = b, a
    assert _reasons(_state(), observe(listing)) == ["drift: fcdv1 ingress: rules out of order"]
    listing = kernel()
    _rules_of(listing, "in_fcdv1")[0]["rule"]["expr"][-2]["match"]["right"] = 8081
    assert _reasons(_state(), observe(listing)) == [
        "drift: fcdv1 ingress: deny tcp 8080 (priority 10) missing; "
        "fcdv1 ingress: unexpected deny tcp 8081 (priority 10)"]
    listing = kernel()
    zone = _rules_of(listing, "zone")[0]["rule"]["expr"][1]["mangle"]
    zone["value"] += 1  # another bridge's conntrack zone
    assert _reasons(_state(), observe(listing)) == [
        "drift: chain zone: 1 rule missing, 1 unexpected rule"]


def test_foreign_objects_tables_and_flags_are_drift() -> None:
    listing = kernel()
    listing.append({"set": {"family": "bridge", "table": "fcd_rules", "name": "x",
                            "type": "ipv4_addr", "handle": 99}})
    listing.append({"chain": {"family": "bridge", "table": "fcd_rules", "name": "mine",
                              "handle": 98}})
    assert _reasons(_state(), observe(listing)) == ["drift: unexpected set x; "
                                                    "unexpected chain mine"]
    # the forward chain's hook or policy changed
    listing = kernel()
    next(o for o in listing if o.get("chain", {}).get("name") == "forward")["chain"][
        "policy"] = "drop"
    assert _reasons(_state(), observe(listing)) == ["drift: chain forward changed"]
    # the conntrack table gone, the rules table left: every rule is still named as there
    listing = [o for o in kernel() if next(iter(o.values())).get("family") != "ip"]
    assert _reasons(_state(), observe(listing)) == ["drift: table ip fcd_rules_ct missing"]
    # the rules table gone, the conntrack table left: the missing rules are named
    listing = [o for o in kernel() if next(iter(o.values())).get("family") != "bridge"]
    (reason,) = _reasons(_state(), observe(listing, set()))
    assert reason.startswith("drift: fcdv1 egress: allow udp 53-60 to 10.1.2.3/32")
    assert reason.endswith("; and 2 more")  # 5 rules and the table, at most 4 named
    # nothing left at all is simply "missing"
    assert _reasons(_state(), observe([], set())) == ["missing"]


def test_desired_changes_are_not_called_drift() -> None:
    seen = observe(kernel())
    changed = {**RULES, "fcdv2": (DENY_ALL_IN,)}
    assert _reasons(_state(changed), seen) == ["changed"]
    assert _reasons(_state({}), seen) == ["removed"]


# -- plan and apply, with the fake driver --------------------------------------------------

def test_fake_drift_is_repaired_once() -> None:
    dp = FakeDataPlane()
    want = _state()
    assert apply(plan(want, dp.observe()), dp).ok
    assert not plan(want, dp.observe())
    dp.port_rules["fcdv1"] = dp.port_rules["fcdv1"][1:]  # someone deleted one rule
    repair = plan(want, dp.observe())
    assert [(a.verb, a.reason) for a in repair.actions] == [
        ("set_port_rules", "drift: fcdv1 ingress: deny tcp 8080 (priority 10) missing")]
    assert apply(repair, dp).ok
    assert dp.port_rules["fcdv1"] == RULES["fcdv1"]
    assert not plan(want, dp.observe())


# -- front-ends: the rotation's map and set, and the chains --------------------------------

def test_rotation_drift_of_map_slots_and_active_set() -> None:
    backends = ("10.0.1.11", "10.0.1.12")
    elems = [[i, ip] for i, ip in nft_rules.slots(backends)]
    assert nft_rules.rotation_drift(elems, ["10.0.1.5"], "10.0.1.5") is None
    assert nft_rules.rotation_drift([], [], "10.0.1.5") is None
    deleted = [e for e in elems if e[0] != 5]
    assert nft_rules.rotation_drift(deleted, ["10.0.1.5"], "10.0.1.5") == \
        "map backends: 1 slot differs from the rotation"
    skewed = [[i, "10.0.1.11"] if i in (1, 3) else [i, ip] for i, ip in elems]
    assert nft_rules.rotation_drift(skewed, ["10.0.1.5"], "10.0.1.5") == \
        "map backends: 2 slots differ from the rotation"
    assert nft_rules.rotation_drift(elems, [], "10.0.1.5") == \
        "set active holds [], not ['10.0.1.5']"
    assert nft_rules.rotation_drift([], ["10.0.1.5"], "10.0.1.5") == \
        "set active holds ['10.0.1.5'], not []"


def test_rotation_and_frontend_rules_drift_are_repaired() -> None:
    state = desired()
    dp = FakeDataPlane()
    assert apply(plan(state, dp.observe()), dp).ok
    seen = dp.observe()
    node = seen.nodes[FE]
    drifted = replace(seen, nodes={**seen.nodes, FE: replace(
        node, rotation_drift="map backends: 1 slot differs from the rotation")})
    assert [(a.verb, a.target, a.reason, a.backends) for a in plan(state, drifted).actions] == [
        ("set_backends", FE, "drift: map backends: 1 slot differs from the rotation",
         tuple(sorted(state.backends[FE])))]
    drifted = replace(seen, nodes={**seen.nodes, FE: replace(
        node, rules_drift="chains changed since Facade wrote them")})
    assert [(a.verb, a.target, a.reason) for a in plan(state, drifted).actions] == [
        ("ensure_node", FE, "drift: front-end chains changed since Facade wrote them")]


def test_chains_digest_sees_one_rule() -> None:
    listing = [{"chain": {"family": "ip", "table": "fcd_fe", "name": "input", "handle": 1,
                          "type": "filter", "hook": "input", "prio": 0, "policy": "accept"}},
               {"rule": {"family": "ip", "table": "fcd_fe", "chain": "input", "handle": 2,
                         "expr": [{"accept": None}]}},
               {"rule": {"family": "ip", "table": "fcd_fe", "chain": "input", "handle": 3,
                         "expr": [{"drop": None}]}}]
    digest = nft_rules.chains_digest(listing)
    assert nft_rules.chains_digest(copy.deepcopy(listing)) == digest
    assert nft_rules.chains_digest(listing[:2]) != digest
    assert nft_rules.chains_digest([listing[0], listing[2], listing[1]]) != digest
