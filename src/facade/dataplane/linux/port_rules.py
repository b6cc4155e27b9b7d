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
not keep table comments from JSON), read back by `observe()`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

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
    """The statements of one rule. The remote side (`cidr`) is the source for ingress and the
    destination for egress; `ports` are destination ports (the service being reached) in both
    directions, since only a connection's first packet meets the rules."""
    exprs: list[Cmd] = [{"match": {"op": "==", "left": {"meta": {"key": "protocol"}},
                                   "right": "ip"}}]
    if rule.cidr != "0.0.0.0/0":
        exprs.append(_match_ip("saddr" if rule.direction == "ingress" else "daddr", rule.cidr))
    if rule.protocol != "any":
        exprs.append({"match": {"op": "==", "left": {"meta": {"key": "l4proto"}},
                                "right": rule.protocol}})
    if rule.ports is not None:
        low, _, high = rule.ports.partition("-")
        right: Any = int(low) if not high else {"range": [int(low), int(high)]}
        exprs.append({"match": {"op": "==", "left": {"payload": {"protocol": rule.protocol,
                                                                  "field": "dport"}},
                                "right": right}})
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


def has_ct_table(listing: list[Cmd]) -> bool:
    return any(o.get("table", {}).get("family") == CT_FAMILY
               and o["table"].get("name") == CT_TABLE for o in listing)


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
