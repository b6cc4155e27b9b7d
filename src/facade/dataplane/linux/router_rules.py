"""The router's nftables filter, built as data (pure: no I/O, unit-tested without root).

A network's router has a leg at the gateway of each of its subnets and forwards between them.
A subnet that is some service's backend or management subnet is *provider internal*
(`NodeSpec.isolated` names the router's legs in such subnets): the router must not be a path
into or out of it, so that a customer subnet of the same network reaches only its appliance's
endpoint (docs/composition.md, "Placement"). One table `ip fcd_rt` in the router namespace,
present only while some leg is isolated (or the router is a public gateway, below):

- chain `forward` (filter, policy accept): packets coming in by or going out of an isolated leg
  are dropped: no routed path between an internal subnet and any other subnet;
- chain `input` (filter, policy accept): an isolated leg's address answers only on that leg, and
  an isolated leg delivers locally only what is addressed to its own address (a Linux router
  would otherwise accept a packet for any of its addresses on any leg).

A router that is its network's public gateway (`NodeSpec.gateway`, docs/edge.md) has the table
too, with two more chains, and rules on its leg on the intermediate network (`inet0`):

- chain `prerouting` (nat): each public address associated with an instance is translated to
  the instance's address (DNAT) as it comes in by that leg;
- chain `postrouting` (nat): the instance's address leaves by that leg as its public address
  (SNAT); with `outbound`, every other source as the leg's address (masquerade);
- `forward`: by that leg come in only replies and translated connections; out go only the
  associated instances (or everyone, with `outbound`); `input`: the leg answers nothing new;
- chains `meter_in` (filter, prerouting, before the DNAT) and `meter_out` (filter,
  postrouting, after the SNAT): each public address's bytes through that leg, counted in two
  named counters (`NodeSpec.gateway.meters`: STEM_in for what comes in to the address,
  STEM_out for what leaves from it). Named counters are table objects: rewriting the chains
  (a remap, another address) keeps their values; one goes only when its address leaves the
  gateway. Metering reads them (`counters`), docs/metering.md "The edge".

The router's own traffic (the management agent, the control plane's probes) leaves by the leg of
the subnet it targets and its replies come back on that leg: untouched. Rules are written in
exactly the form `nft -j list` prints them, so the driver compares the kernel's table with the
desired one (idempotent ensure) and records a digest to see a hand edit later (drift).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from facade.dataplane.linux import nft_rules
from facade.domain.specs import NodeSpec
from facade.domain.states import NodeRole

FAMILY = "ip"
TABLE = "fcd_rt"

# name -> (type, hook, priority, policy)
CHAINS: dict[str, tuple[str, str, int, str]] = {
    "forward": ("filter", "forward", 0, "accept"),
    "input": ("filter", "input", 0, "accept"),
}
# a public gateway's, besides: its NAT, and its meters (before the DNAT, the packet still
# has the public address as destination; after the SNAT, as source)
NAT_CHAINS: dict[str, tuple[str, str, int, str]] = {
    "prerouting": ("nat", "prerouting", -100, "accept"),
    "postrouting": ("nat", "postrouting", 100, "accept"),
    "meter_in": ("filter", "prerouting", -150, "accept"),
    "meter_out": ("filter", "postrouting", 150, "accept"),
}

Expr = list[dict[str, Any]]
DROP = {"drop": None}


def _match(left: dict[str, Any], value: str | int, op: str = "==") -> dict[str, Any]:
    return {"match": {"op": op, "left": left, "right": value}}


def _meta(key: str) -> dict[str, Any]:
    return {"meta": {"key": key}}


DADDR = {"payload": {"protocol": "ip", "field": "daddr"}}
SADDR = {"payload": {"protocol": "ip", "field": "saddr"}}
ACCEPT = {"accept": None}


def chains(spec: NodeSpec) -> dict[str, tuple[str, str, int, str]]:
    """The chains the router's table holds (None of it when `wanted` says so)."""
    return {**CHAINS, **(NAT_CHAINS if spec.gateway is not None else {})}


def _tunnel_rules(spec: NodeSpec) -> tuple[list[Expr], list[Expr], list[Expr]]:
    """A router's private channels (docs/edge.md): forward, input and postrouting rules.

    The WireGuard port of each tunnel answers its peer's endpoint alone on the intermediate
    leg. On a network's side, subnets that do not reach the site (`legs_out`) are cut from the
    tunnel, the site passes on to the intermediate network only answers (of what the public
    gateway translated to a site host, which enters the tunnel from `snat`), and never to
    another site's tunnel. On a site's side, nothing passes between the tunnel and the
    intermediate network."""
    forward: list[Expr] = []
    local: list[Expr] = []
    post: list[Expr] = []
    gw = spec.gateway
    if gw is None:
        return forward, local, post
    iif, oif = _match(_meta("iifname"), gw.ifname), _match(_meta("oifname"), gw.ifname)
    for t in spec.tunnels:
        t_in, t_out = _match(_meta("iifname"), t.ifname), _match(_meta("oifname"), t.ifname)
        peer = t.endpoint.rpartition(":")[0]
        local.append([iif, _match(SADDR, peer),
                      _match({"payload": {"protocol": "udp", "field": "dport"}},
                             t.listen_port),
                      ACCEPT])
        for leg in t.legs_out:
            forward.append([_match(_meta("iifname"), leg), t_out, DROP])
            forward.append([t_in, _match(_meta("oifname"), leg), DROP])
        if t.site:
            forward += [[t_in, oif, DROP], [iif, t_out, DROP]]
            continue
        # one site is no path to another joined to the same network
        forward += [[t_in, _match(_meta("oifname"), other.ifname), DROP]
                    for other in spec.tunnels if other.ifname != t.ifname]
        state = {"match": {"op": "in", "left": {"ct": {"key": "state"}},
                           "right": ["established", "related"]}}
        forward += [[t_in, oif, state, ACCEPT], [t_in, oif, DROP]]
        if t.snat is not None:
            translated = {"match": {"op": "in", "left": {"ct": {"key": "status"}},
                                    "right": "dnat"}}
            post.append([t_out, translated, {"snat": {"addr": t.snat}}])
    return forward, local, post


def wanted(spec: NodeSpec) -> bool:
    """Whether the router needs its table: an isolated leg or a public gateway."""
    return bool(spec.isolated) or spec.gateway is not None


def isolated_legs(spec: NodeSpec) -> list[tuple[str, str]]:
    """(ifname, address without prefix) of every isolated leg, in port order."""
    if spec.isolated and spec.role != NodeRole.ROUTER:
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
    out: dict[str, list[Expr]] = {"forward": forward, "input": local}
    if spec.gateway is not None:
        t_forward, t_local, t_post = _tunnel_rules(spec)
        forward += t_forward
        local += t_local
        out.update(_gateway_rules(spec.gateway.ifname, spec.gateway.nat, spec.gateway.outbound,
                                  forward, local, spec.gateway.private))
        out["postrouting"] = t_post + out["postrouting"]
        out.update(_meter_rules(spec.gateway.ifname, spec.gateway.meters))
    return out


def counters(spec: NodeSpec) -> list[str]:
    """The named counters the router's table holds: two per metered public address."""
    if spec.gateway is None:
        return []
    return [f"{stem}_{way}" for _, stem in spec.gateway.meters for way in ("in", "out")]


def _meter_rules(leg: str, meters: tuple[tuple[str, str], ...]) -> dict[str, list[Expr]]:
    iif, oif = _match(_meta("iifname"), leg), _match(_meta("oifname"), leg)
    return {"meter_in": [[iif, _match(DADDR, public), {"counter": f"{stem}_in"}]
                         for public, stem in meters],
            "meter_out": [[oif, _match(SADDR, public), {"counter": f"{stem}_out"}]
                          for public, stem in meters]}


def _gateway_rules(leg: str, nat: tuple[tuple[str, str], ...], outbound: bool,
                   forward: list[Expr], local: list[Expr],
                   private: tuple[str, ...] = ()) -> dict[str, list[Expr]]:
    """The public gateway's rules (after the isolated legs' drops, which still win; then the
    private subnets' legs, which nothing passes between and the Internet)."""
    iif, oif = _match(_meta("iifname"), leg), _match(_meta("oifname"), leg)
    for other in private:
        forward.append([_match(_meta("iifname"), other), oif, DROP])
        forward.append([iif, _match(_meta("oifname"), other), DROP])
    state = {"match": {"op": "in", "left": {"ct": {"key": "state"}},
                       "right": ["established", "related"]}}
    translated = {"match": {"op": "in", "left": {"ct": {"key": "status"}}, "right": "dnat"}}
    forward += [[iif, state, ACCEPT], [iif, translated, ACCEPT], [iif, DROP]]
    forward += [[oif, _match(SADDR, private), ACCEPT] for _, private in nat]
    forward.append([oif, ACCEPT] if outbound else [oif, DROP])
    local += [[iif, state, ACCEPT], [iif, DROP]]
    pre = [[iif, _match(DADDR, public), {"dnat": {"addr": private}}] for public, private in nat]
    post = [[oif, _match(SADDR, private), {"snat": {"addr": public}}] for public, private in nat]
    if outbound:
        post.append([oif, {"masquerade": None}])
    return {"prerouting": pre, "postrouting": post}


def _chain_obj(name: str) -> dict[str, Any]:
    type_, hook, prio, policy = {**CHAINS, **NAT_CHAINS}[name]
    return {"family": FAMILY, "table": TABLE, "name": name, "type": type_, "hook": hook,
            "prio": prio, "policy": policy}


def _counter_obj(name: str) -> dict[str, Any]:
    return {"family": FAMILY, "table": TABLE, "name": name}


def table_commands(spec: NodeSpec, present: Iterable[str] = (),
                   present_counters: Iterable[str] = ()) -> list[dict[str, Any]]:
    """One JSON transaction that makes the table hold exactly the desired chains, rules and
    counters; `present`: the chains the kernel's table has now, `present_counters` its
    counters. Adding a counter that exists keeps its value; a counter no longer wanted goes
    after the rules that used it."""
    cmds: list[dict[str, Any]] = [{"add": {"table": {"family": FAMILY, "name": TABLE}}}]
    wanted_counters = counters(spec)
    cmds += [{"add": {"counter": _counter_obj(name)}} for name in wanted_counters]
    rules = chain_rules(spec)
    if spec.gateway is None:  # a gateway no more: its chains go
        cmds += [{"delete": {"chain": {"family": FAMILY, "table": TABLE, "name": name}}}
                 for name in NAT_CHAINS if name in present]
    for name in chains(spec):
        cmds.append({"add": {"chain": _chain_obj(name)}})
        cmds.append({"flush": {"chain": {"family": FAMILY, "table": TABLE, "name": name}}})
        for expr in rules[name]:
            cmds.append({"add": {"rule": {"family": FAMILY, "table": TABLE, "chain": name,
                                          "expr": expr}}})
    cmds += [{"delete": {"counter": _counter_obj(name)}}
             for name in sorted(set(present_counters) - set(wanted_counters))]
    return cmds


def delete_command() -> str:
    return f"delete table {FAMILY} {TABLE}"


def parse_table(listing: list[dict[str, Any]]) -> tuple[dict[str, dict[str, Any]],
                                                        dict[str, list[Expr]]]:
    """From `list table ip fcd_rt` JSON: chains (name -> spec) and rules (chain -> exprs), read
    the way the front-end's table is read (the router's table has no map)."""
    chains, rules, _ = nft_rules.parse_table(listing)
    return chains, rules


def counters_of(listing: list[dict[str, Any]]) -> dict[str, tuple[int, int]]:
    """The table's named counters: name -> (its kernel handle, bytes). The handle changes
    exactly when the counter is made again (its count starting from 0)."""
    out: dict[str, tuple[int, int]] = {}
    for obj in listing:
        c = obj.get("counter")
        if isinstance(c, dict) and isinstance(c.get("name"), str):
            out[c["name"]] = (int(c.get("handle", 0)), int(c.get("bytes", 0)))
    return out


def table_handle(listing: list[dict[str, Any]]) -> int | None:
    """The kernel's handle of the table: a table made again gets a new one."""
    for obj in listing:
        t = obj.get("table")
        if isinstance(t, dict) and t.get("name") == TABLE:
            return int(t["handle"])
    return None


def is_current(listing: list[dict[str, Any]], spec: NodeSpec) -> bool:
    """Does the kernel's table hold exactly the desired chains, rules and counters?"""
    if set(counters_of(listing)) != set(counters(spec)):
        return False
    have, rules = parse_table(listing)
    names = chains(spec)
    if set(have) != set(names) or any(have[n] != _chain_obj(n) for n in names):
        return False
    want = chain_rules(spec)
    return all(rules.get(name, []) == want[name] for name in names)


def digest(listing: list[dict[str, Any]]) -> str:
    """A short hash of the chains and rules of a table listing; the driver records it after
    writing the table and compares it with the kernel's later (a rule changed by hand shows)."""
    have, rules = parse_table(listing)
    blob = json.dumps([[name, have[name], rules.get(name, [])] for name in sorted(have)]
                      + sorted(counters_of(listing)), sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]
