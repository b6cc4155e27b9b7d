"""The front-end's nftables ruleset, built as data (pure: no I/O, unit-tested without root).

One table `ip fcd_fe` per front-end namespace:

- map `backends` (`typeof numgen inc mod 60 : ip daddr`): SLOTS slots, slot i -> backends[i % n].
  The DNAT rule (`dnat ip to numgen inc mod 60 map @backends`) never changes; a new backend set
  only flushes and refills the map in ONE transaction, so conntrack keeps established
  connections. nftables 1.0.6's JSON cannot declare a `typeof` map, so the map is declared with
  one line of nft syntax (`MAP_DECLARATION`); everything else is JSON.
- chain `mark_in` (prerouting, mangle): customer -> endpoint:port gets `meta mark 0x1` (and
  `ct mark 0x1`) while the rotation is not empty (set `active` holds the endpoint then), which a `fwmark 0x1` rule routes out of the backend leg; replies of
  such connections get `meta mark 0x2`, which a `fwmark 0x2` rule routes out of the customer leg.
  Both rules sit before the `local` table, so the customer's and the provider's subnets may use
  the same CIDR even when a client's address equals the front-end's backend-side address or a
  backend's address equals the endpoint.
- chain `dnat_in` (prerouting, dstnat): the same packets are DNATed to a backend.
- chain `snat_out` (postrouting, srcnat): marked packets leaving the backend leg get the
  front-end's backend-side address as source.
- chain `input` (filter): from the customer leg only replies, ping to the endpoint, and a TCP
  reset for endpoint:port (what a client gets when the map is empty); the rest is dropped.
- chain `forward` (filter, policy drop): replies, and customer -> backend leg marked connections.
  First, unless metering is off, three meter rules feed dynamic sets with a counter per element
  (`METER_SETS`), keyed by backend address: `m_in` counts the packets and bytes sent to a backend
  through the endpoint, `m_out` its replies, `m_conn` new connections to it; traffic of
  `unmetered_source` (the customer subnet's gateway, where the control plane's readiness probes
  come from) is not counted. The management agent
  reads them (see docs/metering.md); they only grow until the table is made again.

Rules are written in exactly the form `nft -j list` prints them, so the driver can compare the
kernel's table with the desired one and leave it alone when equal (idempotent ensure).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from facade.domain.specs import FrontendSpec

FAMILY = "ip"
TABLE = "fcd_fe"
MAP = "backends"
SLOTS = 60
MARK = 0x1  # customer -> backend: routed by the backend leg's table
REPLY_MARK = 0x2  # backend -> customer replies: routed by the customer leg's table

ACTIVE = "active"  # holds the endpoint while the rotation is not empty

# per-backend meters: set name -> what its element counters count
METER_IN, METER_OUT, METER_CONN = "m_in", "m_out", "m_conn"
METER_SETS = (METER_IN, METER_OUT, METER_CONN)
METER_SIZE = 4096  # addresses a front-end's meters remember (a backend subnet is at most /16)

MAP_DECLARATION = (
    f"add table {FAMILY} {TABLE}\n"
    f"add map {FAMILY} {TABLE} {MAP} {{ typeof numgen inc mod {SLOTS} : ip daddr; }}\n"
    f"add set {FAMILY} {TABLE} {ACTIVE} {{ type ipv4_addr; }}\n"
    + "".join(f"add set {FAMILY} {TABLE} {name} {{ type ipv4_addr; flags dynamic; counter; "
              f"size {METER_SIZE}; }}\n" for name in METER_SETS)
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


def _update(set_name: str, field: str) -> dict[str, Any]:
    return {"set": {"op": "update", "elem": {"payload": {"protocol": "ip", "field": field}},
                    "set": f"@{set_name}"}}


def meter_rules(fe: FrontendSpec) -> list[Expr]:
    """The forward chain's first rules: count per backend (no verdict, the packet goes on)."""
    if not fe.metering:
        return []
    to_backend = [_meta("iifname", fe.customer_if), _meta("oifname", fe.backend_if),
                  _meta("mark", MARK)]
    from_backend = [_meta("iifname", fe.backend_if), _meta("oifname", fe.customer_if),
                    _meta("mark", REPLY_MARK)]
    if fe.unmetered_source:  # the control plane's own readiness probes are not the customer's
        to_backend.append(_not_payload("saddr", fe.unmetered_source))
        from_backend.append(_not_payload("daddr", fe.unmetered_source))
    return [
        [*to_backend, {"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": "new"}},
         _update(METER_CONN, "daddr")],
        [*to_backend, _update(METER_IN, "daddr")],
        [*from_backend, _update(METER_OUT, "saddr")],
    ]


def _not_payload(field: str, value: str) -> dict[str, Any]:
    return {"match": {"op": "!=", "left": {"payload": {"protocol": "ip", "field": field}},
                      "right": value}}


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
        "mark_in": [
            # only while the rotation is not empty (the endpoint is in @active): otherwise the
            # packet stays local and meets the input chain's TCP reset. Not `ct status dnat`:
            # DNAT to a backend whose address equals the endpoint's is an identity mapping.
            [*to_endpoint, _payload("ip", "daddr", f"@{ACTIVE}"),
             {"mangle": {"key": {"meta": {"key": "mark"}}, "value": MARK}},
             {"mangle": {"key": {"ct": {"key": "mark"}}, "value": MARK}}],
            [{"match": {"op": "==", "left": {"ct": {"key": "direction"}}, "right": "reply"}},
             {"match": {"op": "==", "left": {"ct": {"key": "mark"}}, "right": MARK}},
             {"mangle": {"key": {"meta": {"key": "mark"}}, "value": REPLY_MARK}}],
        ],
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
            *meter_rules(fe),
            [established, ACCEPT],
            # by mark, not `ct status dnat`: an identity DNAT sets no status bit
            [_meta("iifname", fe.customer_if), _meta("oifname", fe.backend_if),
             _meta("mark", MARK), ACCEPT],
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


def map_commands(backends: tuple[str, ...] | list[str], endpoint: str) -> list[dict[str, Any]]:
    """One JSON transaction replacing the rotation: flush the map and refill it, and say in
    the `active` set whether the endpoint has any backend."""
    ref = {"family": FAMILY, "table": TABLE, "name": MAP}
    active = {"family": FAMILY, "table": TABLE, "name": ACTIVE}
    cmds: list[dict[str, Any]] = [{"flush": {"map": dict(ref)}}, {"flush": {"set": active}}]
    elems = slots(backends)
    if elems:
        cmds.append({"add": {"element": {**ref, "elem": [[i, ip] for i, ip in elems]}}})
        cmds.append({"add": {"element": {**active, "elem": [endpoint]}}})
    return cmds


def endpoint_of(listing: list[dict[str, Any]]) -> str | None:
    """The endpoint address, read back from the DNAT rule of a table listing."""
    for obj in listing:
        rule = obj.get("rule")
        if rule and rule.get("chain") == "dnat_in":
            for e in rule["expr"]:
                m = e.get("match", {})
                if m.get("left") == {"payload": {"protocol": "ip", "field": "daddr"}}:
                    return str(m["right"])
    return None


def backend_leg_of(listing: list[dict[str, Any]]) -> tuple[str, str] | None:
    """The front-end's backend interface and its address there, read back from the SNAT rule
    of a table listing."""
    for obj in listing:
        rule = obj.get("rule")
        if rule and rule.get("chain") == "snat_out":
            ifname = source = None
            for e in rule["expr"]:
                m = e.get("match", {})
                if m.get("left") == {"meta": {"key": "oifname"}}:
                    ifname = str(m["right"])
                if "snat" in e:
                    source = str(e["snat"].get("addr"))
            if ifname and source:
                return ifname, source
    return None


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


def is_declared(listing: list[dict[str, Any]]) -> bool:
    """Are the map, the `active` set and the meters there (declared by MAP_DECLARATION)?"""
    sets = {o["set"].get("name") for o in listing if "set" in o}
    return parse_table(listing)[2] is not None and {ACTIVE, *METER_SETS} <= sets


def meters(listing: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, int]]]:
    """From a table listing: backend address -> meter set -> {"packets", "bytes"}."""
    out: dict[str, dict[str, dict[str, int]]] = {}
    for obj in listing:
        s = obj.get("set")
        if not s or s.get("name") not in METER_SETS:
            continue
        for e in s.get("elem", []):
            elem = e.get("elem") if isinstance(e, dict) else None
            if not isinstance(elem, dict) or not isinstance(elem.get("val"), str):
                continue
            counter = elem.get("counter") or {}
            out.setdefault(elem["val"], {})[s["name"]] = {
                "packets": int(counter.get("packets", 0)), "bytes": int(counter.get("bytes", 0))}
    return out


def table_handle(listing: list[dict[str, Any]]) -> int | None:
    """The kernel's handle of the table: a table made again gets a new one."""
    for obj in listing:
        t = obj.get("table")
        if t and t.get("name") == TABLE:
            return int(t["handle"])
    return None


def is_current(listing: list[dict[str, Any]], fe: FrontendSpec, backend_source: str) -> bool:
    """Does the kernel's table already hold exactly the desired chains and rules (and a map)?"""
    chains, rules, backends = parse_table(listing)
    if not is_declared(listing) or set(chains) != set(CHAINS):
        return False
    for name in CHAINS:
        if chains[name] != _chain_obj(name):
            return False
    want = chain_rules(fe, backend_source)
    return all(rules.get(name, []) == want[name] for name in CHAINS)


def rotation_drift(elems: list[Any], active: list[Any], endpoint: str | None) -> str | None:
    """How a front-end's map (`elems`) and `active` set differ from what `map_commands` writes
    for the backends the map holds; None when they are exactly that. The backend set alone
    does not show a slot deleted (connections that draw it are dropped) or pointed at another
    backend (the round robin is skewed), nor an `active` set edited by hand."""
    backends = backends_from_elems(elems)
    have = {e[0]: e[1] for e in elems
            if isinstance(e, list) and len(e) == 2 and isinstance(e[0], int)}
    want = dict(slots(backends))
    wrong = sum(1 for i in set(have) | set(want) if have.get(i) != want.get(i)) \
        + len(elems) - len(have)
    found = [f"map {MAP}: {wrong} slot{'s differ' if wrong > 1 else ' differs'} from the "
             "rotation"] if wrong else []
    want_active = ({endpoint} if endpoint else set()) if backends else set()
    if set(map(str, active)) != want_active and (endpoint or not backends):
        found.append(f"set {ACTIVE} holds {sorted(map(str, active))}, not "
                     f"{sorted(want_active)}")
    return "; ".join(found) or None


def chains_digest(listing: list[dict[str, Any]]) -> str:
    """A short hash of the chains and rules of a table listing (sets and maps aside). The driver
    records it when it has made the table and compares it with the kernel's later: any rule
    deleted, added or changed by hand shows."""
    chains, rules, _ = parse_table(listing)
    blob = json.dumps([[name, chains[name], rules.get(name, [])] for name in sorted(chains)],
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]
