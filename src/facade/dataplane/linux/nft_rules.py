"""The front-end's nftables ruleset, built as data (pure: no I/O, unit-tested without root).

One table `ip fcd_fe` per front-end namespace:

- map `backends` (`typeof numgen inc mod 60 : ip daddr`): SLOTS slots, slot i -> backends[i % n].
  The DNAT rule (`dnat ip to numgen inc mod 60 map @backends`) never changes; a new backend set
  only flushes and refills the map in ONE transaction, so conntrack keeps established
  connections. nftables 1.0.6's JSON cannot declare a `typeof` map, so the map is declared with
  one line of nft syntax (`MAP_DECLARATION`); everything else is JSON.
- chain `mark_in` (prerouting, mangle): customer -> endpoint:port gets `meta mark 0x1`, which a
  `fwmark 0x1` rule routes out of the backend leg (subnets may overlap).
- chain `dnat_in` (prerouting, dstnat): the same packets are DNATed to a backend.
- chain `snat_out` (postrouting, srcnat): marked packets leaving the backend leg get the
  front-end's backend-side address as source.
- chain `input` (filter): from the customer leg only replies, ping to the endpoint, and a TCP
  reset for endpoint:port (what a client gets when the map is empty); the rest is dropped.
- chain `forward` (filter, policy drop): replies, and customer -> backend leg DNATed connections.

Rules are written in exactly the form `nft -j list` prints them, so the driver can compare the
kernel's table with the desired one and leave it alone when equal (idempotent ensure).
"""

from __future__ import annotations

from typing import Any

from facade.domain.specs import FrontendSpec

FAMILY = "ip"
TABLE = "fcd_fe"
MAP = "backends"
SLOTS = 60
MARK = 0x1

MAP_DECLARATION = (
    f"add table {FAMILY} {TABLE}\n"
    f"add map {FAMILY} {TABLE} {MAP} {{ typeof numgen inc mod {SLOTS} : ip daddr; }}\n"
)

# name -> (type, hook, priority, policy)
CHAINS: dict[str, tuple[str, str, int, str]] = {
    "mark_in": ("filter", "prerouting", -150, "accept"),
    "dnat_in": ("nat", "prerouting", -100, "accept"),
    "snat_out": ("nat", "postrouting", 100, "accept"),
    "input": ("filter", "input", 0, "accept"),
    "forward": ("filter", "forward", 0, "drop"),
}

Expr = list[dict[str, Any]]


def _meta(key: str, value: Any) -> dict[str, Any]:
    return {"match": {"op": "==", "left": {"meta": {"key": key}}, "right": value}}


def _payload(proto: str, field: str, value: Any) -> dict[str, Any]:
    return {"match": {"op": "==", "left": {"payload": {"protocol": proto, "field": field}},
                      "right": value}}


def _ct(key: str, value: Any) -> dict[str, Any]:
    return {"match": {"op": "in", "left": {"ct": {"key": key}}, "right": value}}


ACCEPT = {"accept": None}
DROP = {"drop": None}


def chain_rules(fe: FrontendSpec, backend_source: str) -> dict[str, list[Expr]]:
    """The rules of every chain, as lists of expressions (the `expr` of a JSON rule)."""
    if fe.protocol != "tcp":
        raise ValueError(f"unsupported front-end protocol {fe.protocol!r}")
    to_endpoint: Expr = [
        _meta("iifname", fe.customer_if),
        _payload("ip", "daddr", fe.endpoint),
        _payload("tcp", "dport", fe.port),
    ]
    established = _ct("state", ["established", "related"])
    return {
        "mark_in": [[*to_endpoint, {"mangle": {"key": {"meta": {"key": "mark"}}, "value": MARK}}]],
        "dnat_in": [[*to_endpoint, {"dnat": {"addr": {"map": {
            "key": {"numgen": {"mode": "inc", "mod": SLOTS, "offset": 0}},
            "data": f"@{MAP}"}}}}]],
        "snat_out": [[_meta("oifname", fe.backend_if), _meta("mark", MARK),
                      {"snat": {"addr": backend_source}}]],
        "input": [
            [_meta("iifname", fe.customer_if), established, ACCEPT],
            [_meta("iifname", fe.customer_if), _payload("ip", "daddr", fe.endpoint),
             _payload("icmp", "type", "echo-request"), ACCEPT],
            [*to_endpoint, {"reject": {"type": "tcp reset"}}],
            [_meta("iifname", fe.customer_if), DROP],
        ],
        "forward": [
            [established, ACCEPT],
            [_meta("iifname", fe.customer_if), _meta("oifname", fe.backend_if),
             _ct("status", "dnat"), ACCEPT],
        ],
    }


def _chain_obj(name: str) -> dict[str, Any]:
    type_, hook, prio, policy = CHAINS[name]
    return {"family": FAMILY, "table": TABLE, "name": name, "type": type_, "hook": hook,
            "prio": prio, "policy": policy}


def table_commands(fe: FrontendSpec, backend_source: str) -> list[dict[str, Any]]:
    """One JSON transaction that makes the chains hold exactly the desired rules.

    Needs MAP_DECLARATION applied first (it creates the table and the map, and is a no-op when
    they exist). Never touches the map: the rotation survives a re-ensure."""
    cmds: list[dict[str, Any]] = [{"add": {"table": {"family": FAMILY, "name": TABLE}}}]
    rules = chain_rules(fe, backend_source)
    for name in CHAINS:
        cmds.append({"add": {"chain": _chain_obj(name)}})
        cmds.append({"flush": {"chain": {"family": FAMILY, "table": TABLE, "name": name}}})
        for expr in rules[name]:
            cmds.append({"add": {"rule": {"family": FAMILY, "table": TABLE, "chain": name,
                                          "expr": expr}}})
    return cmds


def slots(backends: tuple[str, ...] | list[str]) -> list[tuple[int, str]]:
    """Slot i -> backends[i % n] over the deduplicated, sorted (as strings) backends; [] if none."""
    unique = sorted(set(backends))
    if not unique:
        return []
    return [(i, unique[i % len(unique)]) for i in range(SLOTS)]


def map_commands(backends: tuple[str, ...] | list[str]) -> list[dict[str, Any]]:
    """One JSON transaction replacing the rotation: flush the map and refill it."""
    ref = {"family": FAMILY, "table": TABLE, "name": MAP}
    cmds: list[dict[str, Any]] = [{"flush": {"map": dict(ref)}}]
    elems = slots(backends)
    if elems:
        cmds.append({"add": {"element": {**ref, "elem": [[i, ip] for i, ip in elems]}}})
    return cmds


def parse_table(listing: list[dict[str, Any]]) -> tuple[dict[str, dict[str, Any]],
                                                        dict[str, list[Expr]],
                                                        tuple[str, ...] | None]:
    """From `list table ip fcd_fe` JSON: chains (name -> spec), rules (chain -> exprs) and the
    backend set (unique addresses, sorted; None if there is no map)."""
    chains: dict[str, dict[str, Any]] = {}
    rules: dict[str, list[Expr]] = {}
    backends: tuple[str, ...] | None = None
    for obj in listing:
        if "chain" in obj:
            c = obj["chain"]
            chains[c["name"]] = {k: c.get(k) for k in ("family", "table", "name", "type", "hook",
                                                       "prio", "policy")}
        elif "rule" in obj:
            r = obj["rule"]
            rules.setdefault(r["chain"], []).append(r["expr"])
        elif "map" in obj and obj["map"].get("name") == MAP:
            backends = backends_from_elems(obj["map"].get("elem", []))
    return chains, rules, backends


def backends_from_elems(elems: list[Any]) -> tuple[str, ...]:
    ips = set()
    for e in elems:
        if isinstance(e, list) and len(e) == 2 and isinstance(e[1], str):
            ips.add(e[1])
    return tuple(sorted(ips))


def is_current(listing: list[dict[str, Any]], fe: FrontendSpec, backend_source: str) -> bool:
    """Does the kernel's table already hold exactly the desired chains and rules (and a map)?"""
    chains, rules, backends = parse_table(listing)
    if backends is None or set(chains) != set(CHAINS):
        return False
    for name in CHAINS:
        if chains[name] != _chain_obj(name):
            return False
    want = chain_rules(fe, backend_source)
    return all(rules.get(name, []) == want[name] for name in CHAINS)
