"""Security rules of fabric ports as nftables JSON: pure, unit-tested without root.

Two tables in the fabric namespace, always replaced together in ONE transaction:

- `bridge fcd_rules`, chain `forward` (bridge forward hook, priority -200): ARP passes; frames of
  established/related connections (stamped by the ip table below) pass; then one jump per port
  and direction: a frame entering the bridge from a port (`iifname fcdv<id>`) is the egress of the
  node behind it, a frame leaving by it (`oifname`) its ingress. Each port chain holds that port's
  rules in order: first match wins (`accept` / `drop`); no match returns, and the chain's policy
  (accept) lets the frame through.
- `ip fcd_rules_ct`, chain `stamp` (ip prerouting, priority -150, after conntrack): marks packets
  of established/related connections with `STATE_MARK`. This kernel has no conntrack in the bridge
  family (CONFIG_NF_CONNTRACK_BRIDGE is off: `ct` in a bridge chain fails with EPROTO), so the
  ip family's conntrack is used through br_netfilter, enabled per bridge (`nf_call_iptables`) only
  on bridges that carry a port with rules. Chain `zone` (ip prerouting, priority -300, before
  conntrack) gives each such bridge its own conntrack zone (br_netfilter shows the bridge as the
  input device there): subnets of different tenants may use the same addresses, and one
  tenant's connection must never make another's packet look established. See docs/security.md.

The fingerprint of the rule set is the comment of the forward chain's first rule (nft 1.0.6 does
not keep table comments from JSON). Everything is written in the form `nft -j list` prints it,
so `observe()` reads the tables back (`read_back`: the rules each port chain enforces, and the
fingerprint) and compares them object by object with what this module writes (`differences`):
one deleted, added or changed rule is drift, not only a missing table.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, cast

from facade.domain.specs import PortRuleSpec, port_rules_fingerprint

FAMILY = "bridge"
TABLE = "fcd_rules"
CT_FAMILY = "ip"
CT_TABLE = "fcd_rules_ct"
STATE_MARK = 0x10000000
COMMENT_PREFIX = "facade:"
BRIDGE_PREFIX = "fcdb"

Cmd = dict[str, Any]


def _chain_name(direction: str, port: str) -> str:
    return f"{'in' if direction == 'ingress' else 'out'}_{port}"


def _match_ip(field: str, value: str) -> Cmd:
    addr, _, prefix = value.partition("/")
    right: Any = addr if prefix in ("", "32") else {"prefix": {"addr": addr, "len": int(prefix)}}
    return {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": field}},
                      "right": right}}


def rule_exprs(rule: PortRuleSpec) -> list[Cmd]:
    """The statements of one rule, in the form `nft -j list` prints them (see `read_back`):
    nft leaves out a match that another one implies (`meta protocol ip` with `ip daddr` or
    `meta l4proto icmp`, `meta l4proto tcp` with `tcp dport`) and adds what it needs itself. The remote side (`cidr`)
    is the source for ingress and the destination for egress; `ports` are destination ports
    (the service being reached) in both directions, since only a connection's first packet
    meets the rules."""
    exprs: list[Cmd] = []
    if rule.cidr != "0.0.0.0/0":
        exprs.append(_match_ip("saddr" if rule.direction == "ingress" else "daddr", rule.cidr))
    elif rule.protocol != "icmp":  # `meta l4proto icmp` implies IPv4, tcp and udp do not
        exprs.append({"match": {"op": "==", "left": {"meta": {"key": "protocol"}},
                                "right": "ip"}})
    if rule.ports is not None:
        low, _, high = rule.ports.partition("-")
        right: Any = int(low) if not high or high == low else {"range": [int(low), int(high)]}
        exprs.append({"match": {"op": "==", "left": {"payload": {"protocol": rule.protocol,
                                                                  "field": "dport"}},
                                "right": right}})
    elif rule.protocol != "any":
        exprs.append({"match": {"op": "==", "left": {"meta": {"key": "l4proto"}},
                                "right": rule.protocol}})
    exprs.append({"accept": None} if rule.action == "allow" else {"drop": None})
    return exprs


def zone_of(bridge: str) -> int:
    """The conntrack zone of a bridge: from its subnet id (`fcdb<id>`), 1..65535 (0 is the
    default zone)."""
    digits = bridge.removeprefix(BRIDGE_PREFIX)
    ident = int(digits) if digits.isdigit() else sum(bridge.encode())
    return ident % 65535 + 1


def table_commands(rules: dict[str, tuple[PortRuleSpec, ...]],
                   bridges: Iterable[str] = ()) -> list[Cmd]:
    """One transaction that replaces both tables (or removes them when no port has rules).
    `bridges`: the bridges of the ports with rules (each gets its conntrack zone).

    `add table` before `delete table` makes the delete succeed whether or not the table exists,
    so the transaction never fails on the starting state, and there is no moment without rules.
    """
    cmds: list[Cmd] = []
    for family, name in ((FAMILY, TABLE), (CT_FAMILY, CT_TABLE)):
        cmds.append({"add": {"table": {"family": family, "name": name}}})
        cmds.append({"delete": {"table": {"family": family, "name": name}}})
    fingerprint = port_rules_fingerprint(rules)
    if fingerprint is None:
        return cmds
    b = {"family": FAMILY, "table": TABLE}
    c = {"family": CT_FAMILY, "table": CT_TABLE}
    cmds.append({"add": {"table": {"family": FAMILY, "name": TABLE}}})
    cmds.append({"add": {"chain": {**b, "name": "forward", "type": "filter", "hook": "forward",
                                   "prio": -200, "policy": "accept"}}})
    forward = [
        [{"match": {"op": "==", "left": {"meta": {"key": "protocol"}}, "right": "arp"}},
         {"accept": None}],
        [{"match": {"op": "==", "left": {"&": [{"meta": {"key": "mark"}}, STATE_MARK]},
                    "right": STATE_MARK}}, {"accept": None}],
    ]
    for port, port_rules in sorted(rules.items()):
        for direction, key in (("egress", "iifname"), ("ingress", "oifname")):
            chosen = [r for r in port_rules if r.direction == direction]
            if not chosen:
                continue
            chain = _chain_name(direction, port)
            cmds.append({"add": {"chain": {**b, "name": chain}}})
            for rule in chosen:
                cmds.append({"add": {"rule": {**b, "chain": chain, "expr": rule_exprs(rule),
                                              "comment": f"p{rule.priority}"}}})
            forward.append([{"match": {"op": "==", "left": {"meta": {"key": key}},
                                       "right": port}}, {"jump": {"target": chain}}])
    for i, expr in enumerate(forward):
        body: Cmd = {**b, "chain": "forward", "expr": expr}
        if i == 0:
            body["comment"] = COMMENT_PREFIX + fingerprint
        cmds.append({"add": {"rule": body}})
    cmds.append({"add": {"table": {"family": CT_FAMILY, "name": CT_TABLE}}})
    cmds.append({"add": {"chain": {**c, "name": "zone", "type": "filter", "hook": "prerouting",
                                   "prio": -300, "policy": "accept"}}})
    for bridge in sorted(set(bridges)):
        cmds.append({"add": {"rule": {**c, "chain": "zone", "expr": [
            {"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": bridge}},
            {"mangle": {"key": {"ct": {"key": "zone"}}, "value": zone_of(bridge)}}]}}})
    cmds.append({"add": {"chain": {**c, "name": "stamp", "type": "filter", "hook": "prerouting",
                                   "prio": -150, "policy": "accept"}}})
    cmds.append({"add": {"rule": {**c, "chain": "stamp", "expr": [
        {"match": {"op": "in", "left": {"ct": {"key": "state"}},
                   "right": ["established", "related"]}},
        {"mangle": {"key": {"meta": {"key": "mark"}},
                    "value": {"|": [{"meta": {"key": "mark"}}, STATE_MARK]}}}]}}})
    return cmds


def fingerprint_of(listing: list[Cmd]) -> str | None:
    """The fingerprint recorded in a `list table bridge fcd_rules` answer (None: none there)."""
    for obj in listing:
        rule = obj.get("rule")
        if rule and rule.get("chain") == "forward":
            comment = str(rule.get("comment") or "")
            if comment.startswith(COMMENT_PREFIX):
                return comment[len(COMMENT_PREFIX):]
    return None


def ports_of(listing: list[Cmd]) -> set[str]:
    """The ports the forward chain jumps for, from a `list table bridge fcd_rules` answer."""
    ports: set[str] = set()
    for obj in listing:
        rule = obj.get("rule")
        if not rule or rule.get("chain") != "forward":
            continue
        for expr in rule.get("expr", []):
            match = expr.get("match") if isinstance(expr, dict) else None
            if match and match.get("left", {}).get("meta", {}).get("key") in ("iifname",
                                                                               "oifname"):
                ports.add(str(match.get("right")))
    return ports


# ---------------------------------------------------------------------- reading back
# Facade writes both tables in exactly the form `nft -j list` prints them, so what the kernel
# holds can be read back and compared object by object: the port chains are decoded into the
# rules they enforce (the reconciler compares those with the desired rules), and everything is
# compared with what `table_commands` would write for the decoded rules (anything else there,
# or missing, was changed behind Facade's back).

@dataclass(frozen=True)
class Reading:
    """The fabric's rule tables, read back from the kernel."""

    fingerprint: str | None  # recorded by Facade with the rule set it last installed
    # what the port chains enforce, per port: its egress rules, then its ingress rules, in
    # order (a rule Facade does not write is left out here: `differences` names it)
    rules: dict[str, tuple[PortRuleSpec, ...]]


def decode_rule(chain: str, rule: Cmd) -> PortRuleSpec | None:
    """The rule a port chain's rule enforces; None if it is not one `rule_exprs` writes."""
    direction: Literal["ingress", "egress"] = "ingress" if chain.startswith("in_") else "egress"
    comment = str(rule.get("comment") or "")
    exprs = rule.get("expr")
    if not (comment[:1] == "p" and comment[1:].isdigit()) or not isinstance(exprs, list) \
            or not exprs or exprs[-1] not in ({"accept": None}, {"drop": None}):
        return None
    protocol, ports, cidr = "any", None, "0.0.0.0/0"
    for expr in exprs[:-1]:
        match = expr.get("match") if isinstance(expr, dict) else None
        if not isinstance(match, dict):
            return None
        left, right = match.get("left") or {}, match.get("right")
        payload = left.get("payload") or {}
        if left.get("meta", {}).get("key") == "l4proto":
            protocol = str(right)
        elif payload.get("protocol") == "ip":
            if isinstance(right, dict) and isinstance(right.get("prefix"), dict):
                cidr = f"{right['prefix'].get('addr')}/{right['prefix'].get('len')}"
            else:
                cidr = f"{right}/32"
        elif payload.get("field") == "dport":
            protocol = str(payload.get("protocol"))
            rng = right.get("range") if isinstance(right, dict) else None
            ports = f"{rng[0]}-{rng[1]}" if isinstance(rng, list) and len(rng) == 2 \
                else str(right)
    if protocol not in ("tcp", "udp", "icmp", "any"):
        return None
    decoded = PortRuleSpec(direction, "allow" if exprs[-1] == {"accept": None} else "deny",
                           cast(Literal["tcp", "udp", "icmp", "any"], protocol), ports, cidr,
                           int(comment[1:]))
    try:
        return decoded if rule_exprs(decoded) == exprs else None
    except ValueError:  # a port that is no number
        return None


def _port_chains(listing: list[Cmd]) -> dict[str, list[Cmd]]:
    chains: dict[str, list[Cmd]] = {}
    for obj in listing:
        if "chain" in obj and obj["chain"].get("name", "").startswith(("in_", "out_")):
            chains.setdefault(obj["chain"]["name"], [])
    for obj in listing:
        rule = obj.get("rule")
        if rule and rule.get("chain") in chains:
            chains[rule["chain"]].append(rule)
    return chains


def read_back(listing: list[Cmd]) -> Reading:
    """Decode a `list table bridge fcd_rules` answer ([] when there is no table)."""
    egress: dict[str, list[PortRuleSpec]] = {}
    ingress: dict[str, list[PortRuleSpec]] = {}
    for chain, rules in sorted(_port_chains(listing).items()):
        port = chain.split("_", 1)[1]
        into = ingress if chain.startswith("in_") else egress
        for rule in rules:
            decoded = decode_rule(chain, rule)
            if decoded is not None:
                into.setdefault(port, []).append(decoded)
    ports = sorted(set(egress) | set(ingress))
    return Reading(fingerprint=fingerprint_of(listing),
                   rules={p: (*egress.get(p, ()), *ingress.get(p, ())) for p in ports})


def _key(obj: Cmd) -> tuple[str, ...]:
    return tuple(str(obj.get(k)) for k in ("family", "table", "name", "chain") if k in obj)


def _contents(objects: list[Cmd]) -> tuple[set[tuple[str, ...]], dict[tuple[str, ...], Cmd],
                                           dict[tuple[str, ...], list[Cmd]], list[str]]:
    """Tables, chains (without handles) and rules per chain (in order, without handles or the
    fingerprint) of a listing; and anything else (sets, maps...) by name."""
    tables: set[tuple[str, ...]] = set()
    chains: dict[tuple[str, ...], Cmd] = {}
    rules: dict[tuple[str, ...], list[Cmd]] = {}
    other: list[str] = []
    for obj in objects:
        for kind, body in obj.items():
            if kind == "metainfo" or not isinstance(body, dict):
                continue
            if kind == "table":
                tables.add(_key(body))
            elif kind == "chain":
                chains[_key(body)] = {k: v for k, v in body.items() if k != "handle"}
            elif kind == "rule":
                rule = {k: v for k, v in body.items() if k != "handle"}
                if str(rule.get("comment") or "").startswith(COMMENT_PREFIX):
                    rule["comment"] = COMMENT_PREFIX  # compared on its own (Reading)
                rules.setdefault(_key(body), []).append(rule)
            else:
                other.append(f"{kind} {body.get('name')}")
    return tables, chains, rules, other


def written(commands: list[Cmd]) -> list[Cmd]:
    """The objects a `table_commands` transaction leaves in the kernel, as a listing."""
    objects: list[Cmd] = []
    for cmd in commands:
        for verb, what in cmd.items():
            ((kind, body),) = what.items()
            if verb == "add":
                objects.append({kind: body})
            elif verb == "delete" and kind == "table":
                objects = [o for o in objects
                           if _key(next(iter(o.values())))[:2] != _key(body)]
    return objects


def differences(listing: list[Cmd], rules: dict[str, tuple[PortRuleSpec, ...]],
                bridges: Iterable[str]) -> list[str]:
    """How the kernel's two tables (`listing`: both listings together) differ from what
    `table_commands(rules, bridges)` writes, the fingerprint aside; [] when they are exactly
    that. Each difference is a short phrase for an event."""
    want_t, want_c, want_r, _ = _contents(written(table_commands(rules, bridges)))
    have_t, have_c, have_r, other = _contents(listing)
    found = [f"table {' '.join(t)} missing" for t in sorted(want_t - have_t)]
    found += [f"unexpected table {' '.join(t)}" for t in sorted(have_t - want_t)]
    found += [f"unexpected {o}" for o in other]
    for key in sorted(set(want_c) | set(have_c)):
        if key[:2] not in want_t & have_t:
            continue
        name = key[-1]
        if key not in have_c:
            found.append(f"chain {name} missing")
        elif key not in want_c:
            found.append(f"unexpected chain {name}")
        elif want_c[key] != have_c[key]:
            found.append(f"chain {name} changed")
    for key in sorted(set(want_r) | set(have_r)):
        want, have = want_r.get(key, []), have_r.get(key, [])
        if key[:2] not in want_t & have_t or want == have:
            continue
        missing = sum(1 for r in want if r not in have)
        extra = sum(1 for r in have if r not in want)
        name = key[-1]
        if not missing and not extra:
            found.append(f"chain {name}: rules out of order")
        else:
            parts = ([f"{missing} rule{'s' if missing > 1 else ''} missing"] if missing
                     else []) + ([f"{extra} unexpected rule{'s' if extra > 1 else ''}"] if extra
                                 else [])
            found.append(f"chain {name}: {', '.join(parts)}")
    return found
