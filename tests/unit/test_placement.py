"""Subnet placement (issue 4): the router's filter for provider-internal subnets as data
(router_rules), in the fingerprint and the plan, and repaired after a hand edit (which placements
an appliance may take, through the API: tests/service/test_placement.py)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import asdict
from typing import Any

import pytest

from facade.dataplane.fake import FakeDataPlane
from facade.dataplane.linux import router_rules
from facade.domain.specs import (
    DesiredState,
    NodeSpec,
    ObservedNode,
    ObservedState,
    PortSpec,
    SubnetSpec,
)
from facade.reconcile.plan import plan

pytestmark = pytest.mark.no_store  # tests/conftest.py


def _router(*isolated: str, role: Any = "router") -> NodeSpec:
    ports = tuple(PortSpec(host=f"fcdg{k}", bridge=f"fcdb{k}", ifname=f"s{k}",
                           address=f"10.0.{k}.1/24") for k in (1, 2, 3))
    return NodeSpec(netns="fcd-r1", role=role, ports=ports, isolated=isolated)


def _listing(spec: NodeSpec) -> list[dict[str, Any]]:
    """The table as `nft -j list table ip fcd_rt` prints it after table_commands (handles and
    all), built from the commands: what the kernel gives back."""
    out: list[dict[str, Any]] = [{"metainfo": {"version": "1.0.6"}},
                                 {"table": {"family": "ip", "name": "fcd_rt", "handle": 7}}]
    handle = 1
    for cmd in router_rules.table_commands(spec):
        add = cmd.get("add", {})
        for kind in ("counter", "chain", "rule"):
            if kind in add:
                extra = {"packets": 0, "bytes": 0} if kind == "counter" else {}
                out.append({kind: {**add[kind], "handle": handle, **extra}})
                handle += 1
    return out


# --------------------------------------------------------------------------- the builder

def test_isolated_legs_are_not_routed_and_keep_their_own_address() -> None:
    rules = router_rules.chain_rules(_router("s2", "s3"))
    iif = {"meta": {"key": "iifname"}}
    daddr = {"payload": {"protocol": "ip", "field": "daddr"}}
    assert rules["forward"] == [
        [{"match": {"op": "==", "left": iif, "right": "s2"}}, {"drop": None}],
        [{"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": "s2"}},
         {"drop": None}],
        [{"match": {"op": "==", "left": iif, "right": "s3"}}, {"drop": None}],
        [{"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": "s3"}},
         {"drop": None}],
    ]
    # the exact form nft -j list prints (checked against nftables 1.0.6)
    assert rules["input"][0] == [
        {"match": {"op": "!=", "left": iif, "right": "s2"}},
        {"match": {"op": "==", "left": daddr, "right": "10.0.2.1"}}, {"drop": None}]
    assert rules["input"][1] == [
        {"match": {"op": "==", "left": iif, "right": "s2"}},
        {"match": {"op": "!=", "left": daddr, "right": "10.0.2.1"}}, {"drop": None}]
    assert len(rules["input"]) == 4
    # a leg that is not isolated (s1) is named by no rule
    assert "s1" not in repr(rules)


def test_no_isolated_leg_no_rules() -> None:
    assert router_rules.chain_rules(_router()) == {"forward": [], "input": []}


def test_only_a_router_isolates_and_only_its_own_legs() -> None:
    with pytest.raises(ValueError, match="only a router"):
        router_rules.isolated_legs(_router("s2", role="instance"))
    with pytest.raises(ValueError, match=r"\['s9'\] are not ports"):
        router_rules.isolated_legs(_router("s9"))


def test_commands_replace_the_chains_in_one_transaction() -> None:
    cmds = router_rules.table_commands(_router("s2"))
    assert cmds[0] == {"add": {"table": {"family": "ip", "name": "fcd_rt"}}}
    flushes = [c["flush"]["chain"]["name"] for c in cmds if "flush" in c]
    assert flushes == ["forward", "input"]
    chain = next(c["add"]["chain"] for c in cmds if "chain" in c.get("add", {}))
    assert chain == {"family": "ip", "table": "fcd_rt", "name": "forward", "type": "filter",
                     "hook": "forward", "prio": 0, "policy": "accept"}


def test_current_table_is_left_alone_and_any_edit_is_seen() -> None:
    spec = _router("s2")
    listing = _listing(spec)
    assert router_rules.is_current(listing, spec)
    assert not router_rules.is_current(listing, _router("s2", "s3"))
    assert not router_rules.is_current(listing, _router())
    dropped = [o for o in listing if o.get("rule", {}).get("handle") != 3]
    assert not router_rules.is_current(dropped, spec)
    assert router_rules.digest(dropped) != router_rules.digest(listing)
    policy = [{"chain": {**o["chain"], "policy": "drop"}} if "chain" in o else o
              for o in listing]
    assert not router_rules.is_current(policy, spec)
    # handles do not count: a re-listing of the same table has the same digest
    again = [{k: {**v, "handle": 99} if isinstance(v, dict) else v for k, v in o.items()}
             for o in listing]
    assert router_rules.digest(again) == router_rules.digest(listing)


def test_fingerprint_covers_isolation_and_is_unchanged_without_it() -> None:
    plain, iso = _router(), _router("s2")
    assert plain.fingerprint() != iso.fingerprint() != _router("s3").fingerprint()
    # a node without isolated legs hashes as before the field existed
    fields = asdict(plain)
    del fields["isolated"]
    del fields["sandbox"]  # routers have none: their fingerprints stay as they were
    del fields["gateway"], fields["routes"]  # likewise routers at no edge (docs/edge.md)
    del fields["tunnels"]  # and routers with no private channel
    del fields["host"]  # and nodes on the local host (docs/multi-host.md)
    for port in fields["ports"]:
        # likewise without connected secondary ports (extra legs) and without neighbour
        # entries (router legs have none)
        for key in ("connected", "neighbours", "announce"):
            del port[key]
    assert plain.fingerprint() == hashlib.sha256(
        json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]
    # a node on a simulated host is another node
    assert dataclasses.replace(plain, host="h1").fingerprint() not in (
        plain.fingerprint(), dataclasses.replace(plain, host="h2").fingerprint())


def test_the_fake_refuses_what_the_driver_refuses() -> None:
    dp = FakeDataPlane()
    for k in (1, 2, 3):
        dp.ensure_subnet(SubnetSpec(bridge=f"fcdb{k}", cidr=f"10.0.{k}.0/24"))
    dp.ensure_node(_router("s2"))
    assert dp.observe().nodes["fcd-r1"].fingerprint == _router("s2").fingerprint()
    with pytest.raises(RuntimeError, match="not router ports"):
        dp.ensure_node(_router("s9"))
    with pytest.raises(RuntimeError, match="not router ports"):
        dp.ensure_node(_router("s2", role="instance"))


def test_a_router_filter_edited_by_hand_is_repaired() -> None:
    spec = _router("s2")
    seen = ObservedNode(netns=spec.netns, fingerprint=spec.fingerprint(),
                        addresses=frozenset((p.ifname, p.address) for p in spec.ports),
                        rules_drift="router filter changed since Facade wrote it")
    subnets = tuple(SubnetSpec(bridge=f"fcdb{k}", cidr=f"10.0.{k}.0/24") for k in (1, 2, 3))
    observed = ObservedState(subnets=frozenset(s.bridge for s in subnets),
                             nodes={spec.netns: seen})
    p = plan(DesiredState(subnets=subnets, nodes=(spec,)), observed)
    assert [(a.verb, a.target) for a in p.actions] == [("ensure_node", "fcd-r1")]
    assert "router filter changed" in p.actions[0].reason
    clean = ObservedState(subnets=observed.subnets,
                          nodes={spec.netns: ObservedNode(netns=spec.netns,
                                                          fingerprint=spec.fingerprint(),
                                                          addresses=seen.addresses)})
    assert not plan(DesiredState(subnets=subnets, nodes=(spec,)), clean)
