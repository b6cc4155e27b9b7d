"""The router's nftables filter, built as data (pure: no I/O, unit-tested without root).

A network's router has a leg at the gateway of each of its subnets and forwards between them.
A subnet that is some service's backend or management subnet is *provider internal*
(`NodeSpec.isolated` names the router's legs in such subnets): the router must not be a path
into or out of it, so that a customer subnet of the same network reaches only its appliance's
endpoint (docs/composition.md, "Placement"). One table `ip fcd_rt` in the router namespace,
present only while some leg is isolated:

- chain `forward` (filter, policy accept): packets coming in by or going out of an isolated leg
  are dropped: no routed path between an internal subnet and any other subnet;
- chain `input` (filter, policy accept): an isolated leg's address answers only on that leg, and
  an isolated leg delivers locally only what is addressed to its own address (a Linux router
  would otherwise accept a packet for any of its addresses on any leg).

The router's own traffic (the management agent, the control plane's probes) leaves by the leg of
the subnet it targets and its replies come back on that leg: untouched. Rules are written in
exactly the form `nft -j list` prints them, so the driver compares the kernel's table with the
desired one (idempotent ensure) and records a digest to see a hand edit later (drift).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from facade.dataplane.linux import nft_rules
from facade.domain.specs import NodeSpec

FAMILY = "ip"
TABLE = "fcd_rt"

# name -> (type, hook, priority, policy)
CHAINS: dict[str, tuple[str, str, int, str]] = {
    "forward": ("filter", "forward", 0, "accept"),
    "input": ("filter", "input", 0, "accept"),
}

Expr = list[dict[str, Any]]
DROP = {"drop": None}


def _match(left: dict[str, Any], value: str, op: str = "==") -> dict[str, Any]:
    return {"match": {"op": op, "left": left, "right": value}}


def _meta(key: str) -> dict[str, Any]:
    return {"meta": {"key": key}}


DADDR = {"payload": {"protocol": "ip", "field": "daddr"}}


def isolated_legs(spec: NodeSpec) -> list[tuple[str, str]]:
    """(ifname, address without prefix) of every isolated leg, in port order."""
    if spec.isolated and spec.role != "router":
        raise ValueError(f"{spec.netns}: only a router has isolated legs")
    ports = {p.ifname: p.address.split("/")[0] for p in spec.ports}
    unknown = [i for i in spec.isolated if i not in ports]
    if unknown:
        raise ValueError(f"{spec.netns}: isolated legs {unknown} are not ports")
    return [(p.ifname, ports[p.ifname]) for p in spec.ports if p.ifname in spec.isolated]


def chain_rules(spec: NodeSpec) -> dict[str, list[Expr]]:
    """The rules of every chain, as lists of expressions (the `expr` of a JSON rule)."""
    forward: list[Expr] = []
    local: list[Expr] = []
    for ifname, address in isolated_legs(spec):
        forward.append([_match(_meta("iifname"), ifname), DROP])
        forward.append([_match(_meta("oifname"), ifname), DROP])
        local.append([_match(_meta("iifname"), ifname, "!="), _match(DADDR, address), DROP])
        local.append([_match(_meta("iifname"), ifname), _match(DADDR, address, "!="), DROP])
    return {"forward": forward, "input": local}


def _chain_obj(name: str) -> dict[str, Any]:
    type_, hook, prio, policy = CHAINS[name]
    return {"family": FAMILY, "table": TABLE, "name": name, "type": type_, "hook": hook,
            "prio": prio, "policy": policy}


def table_commands(spec: NodeSpec) -> list[dict[str, Any]]:
    """One JSON transaction that makes the table hold exactly the desired chains and rules."""
    cmds: list[dict[str, Any]] = [{"add": {"table": {"family": FAMILY, "name": TABLE}}}]
    rules = chain_rules(spec)
    for name in CHAINS:
        cmds.append({"add": {"chain": _chain_obj(name)}})
        cmds.append({"flush": {"chain": {"family": FAMILY, "table": TABLE, "name": name}}})
        for expr in rules[name]:
            cmds.append({"add": {"rule": {"family": FAMILY, "table": TABLE, "chain": name,
                                          "expr": expr}}})
    return cmds


def delete_command() -> str:
    return f"delete table {FAMILY} {TABLE}"


def parse_table(listing: list[dict[str, Any]]) -> tuple[dict[str, dict[str, Any]],
                                                        dict[str, list[Expr]]]:
    """From `list table ip fcd_rt` JSON: chains (name -> spec) and rules (chain -> exprs), read
    the way the front-end's table is read (the router's table has no map)."""
    chains, rules, _ = nft_rules.parse_table(listing)
    return chains, rules


def is_current(listing: list[dict[str, Any]], spec: NodeSpec) -> bool:
    """Does the kernel's table hold exactly the desired chains and rules?"""
    chains, rules = parse_table(listing)
    if set(chains) != set(CHAINS) or any(chains[n] != _chain_obj(n) for n in CHAINS):
        return False
    want = chain_rules(spec)
    return all(rules.get(name, []) == want[name] for name in CHAINS)


def digest(listing: list[dict[str, Any]]) -> str:
    """A short hash of the chains and rules of a table listing; the driver records it after
    writing the table and compares it with the kernel's later (a rule changed by hand shows)."""
    chains, rules = parse_table(listing)
    blob = json.dumps([[name, chains[name], rules.get(name, [])] for name in sorted(chains)],
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]
