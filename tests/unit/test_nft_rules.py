"""The front-end's nftables ruleset builder (pure; no root needed)."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from facade.dataplane.linux import nft_rules as R
from facade.domain.specs import FrontendSpec

pytestmark = pytest.mark.no_store  # tests/conftest.py

FE = FrontendSpec(customer_if="eth0", backend_if="eth1", endpoint="10.0.1.5", port=8080)
SRC = "10.0.1.200"


def test_slots_spread_evenly_and_deduplicate() -> None:
    elems = R.slots(("10.0.1.13", "10.0.1.11", "10.0.1.12", "10.0.1.11"))
    assert [i for i, _ in elems] == list(range(R.SLOTS))
    assert Counter(ip for _, ip in elems) == {"10.0.1.11": 20, "10.0.1.12": 20, "10.0.1.13": 20}
    assert elems[:3] == [(0, "10.0.1.11"), (1, "10.0.1.12"), (2, "10.0.1.13")]
    assert R.slots(()) == []
    two = Counter(ip for _, ip in R.slots(["b", "a"]))
    assert two == {"a": 30, "b": 30}


def test_map_commands_touch_only_the_map_in_one_transaction() -> None:
    cmds = R.map_commands(("10.0.1.11", "10.0.1.12"), "10.0.1.5")
    assert cmds[0] == {"flush": {"map": {"family": "ip", "table": "fcd_fe", "name": "backends"}}}
    assert cmds[1] == {"flush": {"set": {"family": "ip", "table": "fcd_fe", "name": "active"}}}
    assert len(cmds) == 4
    elem = cmds[2]["add"]["element"]
    assert (elem["table"], elem["name"]) == ("fcd_fe", "backends")
    assert len(elem["elem"]) == R.SLOTS
    assert cmds[3]["add"]["element"]["elem"] == ["10.0.1.5"]
    for cmd in cmds:  # nothing but the map and the set: no table, chain or rule is touched
        ((verb, body),) = cmd.items()
        assert set(body) <= {"map", "set", "element"}
    # an empty rotation empties both: the endpoint then answers with a TCP reset
    assert R.map_commands((), "10.0.1.5") == cmds[:2]


def test_table_commands_never_touch_the_map_and_flush_only_our_chains() -> None:
    cmds = R.table_commands(FE, SRC)
    text = json.dumps(cmds)
    assert '"map": {' not in text.replace('"map": {"key"', "")  # only the dnat rule's lookup
    assert not any("delete" in c for c in cmds)
    flushed = [c["flush"]["chain"]["name"] for c in cmds if "flush" in c]
    assert flushed == list(R.CHAINS)
    chains = {c["add"]["chain"]["name"]: c["add"]["chain"] for c in cmds
              if "add" in c and "chain" in c["add"]}
    assert chains["mark_in"]["prio"] == -150 and chains["mark_in"]["hook"] == "prerouting"
    assert chains["dnat_in"]["type"] == "nat" and chains["dnat_in"]["prio"] == -100
    assert chains["snat_out"]["hook"] == "postrouting"
    assert chains["forward"]["policy"] == "drop"
    assert R.MAP_DECLARATION.count("typeof numgen inc mod 60 : ip daddr") == 1


def _matches(expr: list[dict]) -> dict[str, object]:
    """{"iifname": ..., "ip.daddr": ..., "state": ...} from a rule's match expressions."""
    out: dict[str, object] = {}
    for e in expr:
        if "match" not in e:
            continue
        left = e["match"]["left"]
        if "payload" in left:
            key = f"{left['payload']['protocol']}.{left['payload']['field']}"
        else:
            key = (left.get("meta") or left.get("ct"))["key"]
        out[key] = e["match"]["right"]
    return out


def test_rules_match_the_endpoint_and_mark_nat_and_filter() -> None:
    rules = R.chain_rules(FE, SRC)
    endpoint = {"iifname": "eth0", "ip.daddr": "10.0.1.5", "tcp.dport": 8080}
    mark, reply = rules["mark_in"]
    assert _matches(mark) == {**endpoint, "ip.daddr": "@active"}
    assert mark[-2:] == [{"mangle": {"key": {"meta": {"key": "mark"}}, "value": 1}},
                         {"mangle": {"key": {"ct": {"key": "mark"}}, "value": 1}}]
    # replies of those connections are marked for the customer leg's table
    assert _matches(reply) == {"direction": "reply", "mark": 1}
    assert reply[-1] == {"mangle": {"key": {"meta": {"key": "mark"}}, "value": 2}}
    (dnat,) = rules["dnat_in"]
    assert _matches(dnat) == endpoint
    assert dnat[-1]["dnat"]["addr"]["map"] == {
        "key": {"numgen": {"mode": "inc", "mod": 60, "offset": 0}}, "data": "@backends"}
    (snat,) = rules["snat_out"]
    assert _matches(snat) == {"oifname": "eth1", "mark": 1}
    assert snat[-1] == {"snat": {"addr": SRC}}
    verdicts = [(_matches(r), list(r[-1])[0]) for r in rules["input"]]
    assert verdicts == [
        ({"iifname": "eth0", "state": ["established", "related"]}, "accept"),
        ({"iifname": "eth0", "ip.daddr": "10.0.1.5", "icmp.type": "echo-request"}, "accept"),
        (endpoint, "reject"),
        ({"iifname": "eth0"}, "drop"),
    ]
    assert rules["input"][2][-1] == {"reject": {"type": "tcp reset"}}
    fwd = [(_matches(r), list(r[-1])[0]) for r in rules["forward"]]
    to_backend = {"iifname": "eth0", "oifname": "eth1", "mark": 1}
    assert fwd == [({**to_backend, "state": "new"}, "set"),  # meters first, no verdict
                   (to_backend, "set"),
                   ({"iifname": "eth1", "oifname": "eth0", "mark": 2}, "set"),
                   ({"state": ["established", "related"]}, "accept"),
                   (to_backend, "accept")]
    assert [r[-1]["set"]["set"] for r in rules["forward"][:3]] == ["@m_conn", "@m_in", "@m_out"]
    assert rules["forward"][2][-1]["set"]["elem"] == {"payload": {"protocol": "ip",
                                                                  "field": "saddr"}}
    unmetered = R.chain_rules(FrontendSpec("eth0", "eth1", "10.0.1.5", 8080, metering=False),
                              SRC)
    assert unmetered["forward"] == rules["forward"][3:]


def test_meters_are_read_per_backend_from_a_listing() -> None:
    listing = _listing(["10.0.1.11"])
    assert R.meters(listing) == {}
    for obj in listing:
        if obj.get("set", {}).get("name") == "m_in":
            obj["set"]["elem"] = [{"elem": {"val": "10.0.1.11",
                                            "counter": {"packets": 3, "bytes": 180}}}]
        if obj.get("set", {}).get("name") == "m_conn":
            obj["set"]["elem"] = [{"elem": {"val": "10.0.1.11",
                                            "counter": {"packets": 1, "bytes": 60}}},
                                  {"elem": {"val": "10.0.1.12",
                                            "counter": {"packets": 2, "bytes": 120}}}]
    assert R.meters(listing) == {
        "10.0.1.11": {"m_in": {"packets": 3, "bytes": 180}, "m_conn": {"packets": 1, "bytes": 60}},
        "10.0.1.12": {"m_conn": {"packets": 2, "bytes": 120}}}
    assert R.table_handle(listing) == 1
    assert R.is_current(listing, FE, SRC)  # counters are not part of the comparison
    no_meters = [o for o in listing if o.get("set", {}).get("name") != "m_out"]
    assert not R.is_declared(no_meters)


def test_a_backend_change_leaves_the_rules_equal() -> None:
    # the rules do not depend on the backends at all: a change of the set only edits the map
    assert R.table_commands(FE, SRC) == R.table_commands(FE, SRC)
    listing = _listing(["10.0.1.11"])
    assert R.is_current(listing, FE, SRC)
    assert R.is_current(_listing(["10.0.1.12", "10.0.1.13"]), FE, SRC)
    assert R.parse_table(_listing(["10.0.1.12", "10.0.1.11", "10.0.1.12"]))[2] == \
        ("10.0.1.11", "10.0.1.12")
    other = FrontendSpec("eth0", "eth1", "10.0.1.6", 8080)
    assert not R.is_current(listing, other, SRC)
    assert not R.is_current(listing, FE, "10.0.1.201")
    no_map = [o for o in listing if "map" not in o]
    assert not R.is_current(no_map, FE, SRC)
    assert R.parse_table(no_map)[2] is None
    assert R.endpoint_of(listing) == FE.endpoint


def _listing(backends: list[str]) -> list[dict]:
    """What `nft -j list table ip fcd_fe` prints for the desired table (handles added)."""
    out: list[dict] = [{"metainfo": {"json_schema_version": 1}},
                       {"table": {"family": "ip", "name": "fcd_fe", "handle": 1}},
                       {"map": {"family": "ip", "name": "backends", "table": "fcd_fe",
                                "type": "integer", "handle": 2, "map": "ipv4_addr",
                                "elem": [[i, ip] for i, ip in R.slots(backends)]}},
                       {"set": {"family": "ip", "name": "active", "table": "fcd_fe",
                                "type": "ipv4_addr", "handle": 3}}]
    for k, name in enumerate(R.METER_SETS):
        out.append({"set": {"family": "ip", "name": name, "table": "fcd_fe", "type": "ipv4_addr",
                            "handle": 4 + k, "size": R.METER_SIZE, "flags": ["dynamic"],
                            "stmt": [{"counter": None}]}})
    handle = 3 + len(R.METER_SETS)
    for cmd in R.table_commands(FE, SRC):
        add = cmd.get("add", {})
        if "chain" in add:
            out.append({"chain": {**add["chain"], "handle": handle}})
        elif "rule" in add:
            out.append({"rule": {**add["rule"], "handle": handle}})
        handle += 1
    return out


def test_unsupported_protocol_is_refused() -> None:
    with pytest.raises(ValueError):
        udp = FrontendSpec("eth0", "eth1", "10.0.1.5", 53, protocol="udp")  # type: ignore[arg-type]
        R.chain_rules(udp, SRC)
