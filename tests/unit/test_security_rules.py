"""Security rules without the API: validation, the pure nftables builder, plan() with rules and
the YAML file (the API on the fake driver: tests/service/test_security_rules.py)."""

from __future__ import annotations

from typing import Any

import pytest

from facade.dataplane.fake import FakeDataPlane
from facade.dataplane.linux import port_rules
from facade.domain import security
from facade.domain.errors import Invalid
from facade.domain.specs import (
    DesiredState,
    NodeSpec,
    PortRuleSpec,
    PortSpec,
    SubnetSpec,
    port_rules_fingerprint,
)
from facade.reconcile.apply import apply
from facade.reconcile.plan import plan
from facade.scenario import parse_scenario

pytestmark = pytest.mark.no_store  # tests/conftest.py

DENY_ALL_IN = PortRuleSpec("ingress", "deny", "any", None, "0.0.0.0/0", 100)
DENY_8080 = PortRuleSpec("ingress", "deny", "tcp", "8080", "0.0.0.0/0", 10)


# -- domain validation ---------------------------------------------------------------------

def rule(**over: Any) -> dict[str, Any]:
    base = {"direction": "ingress", "action": "deny", "protocol": "tcp", "ports": "22",
            "cidr": "0.0.0.0/0", "priority": 100}
    return {k: v for k, v in {**base, **over}.items() if v is not ...}


def test_a_good_rule_is_normalised() -> None:
    spec = security.check_rule(rule(ports="8000-8100", cidr="10.0.0.0/8", protocol="udp"))
    assert spec == PortRuleSpec("ingress", "deny", "udp", "8000-8100", "10.0.0.0/8", 100)
    assert security.check_rule(rule(ports="80-80")).ports == "80"
    assert security.check_rule(rule(cidr="10.1.2.3")).cidr == "10.1.2.3/32"
    assert security.check_rule(rule(cidr=..., ports=..., protocol=...)).cidr == "0.0.0.0/0"


@pytest.mark.parametrize(("over", "field"), [
    ({"direction": "inbound"}, "direction"), ({"direction": ...}, "direction"),
    ({"action": "reject"}, "action"), ({"protocol": "sctp"}, "protocol"),
    ({"ports": "0"}, "ports"), ({"ports": "70000"}, "ports"), ({"ports": "90-80"}, "ports"),
    ({"ports": "http"}, "ports"), ({"protocol": "icmp", "ports": "80"}, "ports"),
    ({"protocol": "any", "ports": "80"}, "ports"), ({"cidr": "10.0.0.1/8"}, "cidr"),
    ({"cidr": "fe80::/64"}, "cidr"), ({"cidr": 5}, "cidr"), ({"priority": 0}, "priority"),
    ({"priority": 1001}, "priority"), ({"priority": True}, "priority"),
    ({"priority": "5"}, "priority"), ({"color": "red"}, "color"),
])
def test_every_bad_field_is_named(over: dict[str, Any], field: str) -> None:
    with pytest.raises(Invalid) as err:
        security.check_rule(rule(**over), where="rules[0]")
    assert err.value.where == f"rules[0].{field}"


# -- the pure nftables builder ---------------------------------------------------------------

def test_builder_one_jump_per_port_and_direction() -> None:
    rules = {"fcdv7": (DENY_8080, PortRuleSpec("egress", "allow", "icmp", None, "10.0.1.0/24",
                                               5)),
             "fcdv9": (DENY_ALL_IN,)}
    cmds = port_rules.table_commands(rules)
    # the replacement is one transaction that first clears both tables, whatever exists
    assert cmds[:4] == [{"add": {"table": {"family": "bridge", "name": "fcd_rules"}}},
                        {"delete": {"table": {"family": "bridge", "name": "fcd_rules"}}},
                        {"add": {"table": {"family": "ip", "name": "fcd_rules_ct"}}},
                        {"delete": {"table": {"family": "ip", "name": "fcd_rules_ct"}}}]
    added = [c["add"]["rule"] for c in cmds if "rule" in c.get("add", {})]
    forward = [r for r in added if r["chain"] == "forward"]
    jumps = [(r["expr"][0]["match"]["left"]["meta"]["key"], r["expr"][0]["match"]["right"],
              r["expr"][1]["jump"]["target"]) for r in forward[2:]]
    assert jumps == [("iifname", "fcdv7", "out_fcdv7"), ("oifname", "fcdv7", "in_fcdv7"),
                     ("oifname", "fcdv9", "in_fcdv9")]
    assert forward[0]["comment"] == "facade:" + str(port_rules_fingerprint(rules))
    assert port_rules.fingerprint_of([{"rule": r} for r in forward]) == \
        port_rules_fingerprint(rules)
    assert port_rules.ports_of([{"rule": r} for r in forward]) == {"fcdv7", "fcdv9"}
    in7 = next(r for r in added if r["chain"] == "in_fcdv7")
    assert in7["expr"][-1] == {"drop": None}
    assert {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}},
                      "right": 8080}} in in7["expr"]
    out7 = next(r for r in added if r["chain"] == "out_fcdv7")
    assert {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}},
                      "right": {"prefix": {"addr": "10.0.1.0", "len": 24}}}} in out7["expr"]
    assert not [r for r in added if r["chain"] == "zone"]  # no bridges given
    zoned = port_rules.table_commands(rules, {"fcdb3", "fcdb70000"})
    zones = [c["add"]["rule"]["expr"] for c in zoned
             if c.get("add", {}).get("rule", {}).get("chain") == "zone"]
    assert [(z[0]["match"]["right"], z[1]["mangle"]["value"]) for z in zones] == [
        ("fcdb3", 4), ("fcdb70000", 70000 % 65535 + 1)]
    stamp = next(r for r in added if r["chain"] == "stamp")
    assert stamp["expr"][0]["match"]["left"] == {"ct": {"key": "state"}}


def test_builder_range_and_source_for_ingress() -> None:
    exprs = port_rules.rule_exprs(PortRuleSpec("ingress", "allow", "udp", "53-60", "10.1.2.3/32",
                                               1))
    assert {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}},
                      "right": "10.1.2.3"}} in exprs
    assert {"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}},
                      "right": {"range": [53, 60]}}} in exprs
    assert exprs[-1] == {"accept": None}


def test_builder_without_rules_only_removes() -> None:
    assert [next(iter(c)) for c in port_rules.table_commands({})] == ["add", "delete"] * 2
    assert port_rules_fingerprint({"fcdv1": ()}) is None


# -- plan ----------------------------------------------------------------------------------

def _state(rules: dict[str, tuple[PortRuleSpec, ...]]) -> DesiredState:
    sub = SubnetSpec("fcdb1", "10.0.1.0/24")
    node = NodeSpec("fcd-i1-a", "instance", (PortSpec("fcdv1", "fcdb1", "eth0", "10.0.1.5/24",
                                                      "10.0.1.1"),))
    return DesiredState(subnets=(sub,), nodes=(node,), port_rules=rules)


def test_plan_applies_rules_after_ports_and_then_nothing() -> None:
    dp = FakeDataPlane()
    want = _state({"fcdv1": (DENY_8080, DENY_ALL_IN), "fcdv404": (DENY_ALL_IN,)})
    first = plan(want, dp.observe())
    verbs = [a.verb for a in first.actions]
    assert verbs[-1] == "set_port_rules" and verbs.index("ensure_node") < len(verbs) - 1
    assert set(first.actions[-1].port_rules or {}) == {"fcdv1"}  # a port that is gone: dropped
    assert apply(first, dp).ok
    assert not plan(want, dp.observe())


def test_plan_repairs_drift_and_removes_rules() -> None:
    dp = FakeDataPlane()
    want = _state({"fcdv1": (DENY_ALL_IN,)})
    apply(plan(want, dp.observe()), dp)
    dp.port_rules.clear()  # someone flushed the table
    repair = plan(want, dp.observe())
    assert [(a.verb, a.reason) for a in repair.actions] == [("set_port_rules", "missing")]
    apply(repair, dp)
    unwanted = _state({})
    removal = plan(unwanted, dp.observe())
    assert [(a.verb, a.reason) for a in removal.actions] == [("set_port_rules", "removed")]
    apply(removal, dp)
    assert dp.port_rules == {} and not plan(unwanted, dp.observe())


# -- API -----------------------------------------------------------------------------------



# -- YAML ------------------------------------------------------------------------------------

YAML = """\
rules:
  - subnet: acme-vpc/app
    direction: ingress
    action: deny
    protocol: any
    priority: 100
  - interface: client/eth0
    direction: egress
    action: allow
    protocol: tcp
    ports: "443"
    cidr: 10.0.0.0/8
    priority: 5
"""


def test_yaml_rules_parse_with_lines() -> None:
    sc = parse_scenario(YAML, "r.yaml")
    assert [(r.subnet, r.interface, r.line) for r in sc.rules] == [
        ("acme-vpc/app", None, 2), (None, "client/eth0", 7)]
    assert sc.rules[1].rule == PortRuleSpec("egress", "allow", "tcp", "443", "10.0.0.0/8", 5)


@pytest.mark.parametrize(("text", "where"), [
    ("rules:\n  - subnet: a/b\n    direction: in\n    action: deny\n    priority: 1\n",
     "r.yaml:3"),
    ("rules:\n  - subnet: a/b\n    direction: ingress\n    action: deny\n    priority: 1\n"
     "    ports: '80'\n", "r.yaml:6"),
    ("rules:\n  - direction: ingress\n    action: deny\n    priority: 1\n", "r.yaml:2"),
    ("rules:\n  - interface: web\n    direction: ingress\n    action: deny\n    priority: 1\n",
     "r.yaml:2"),
    ("rules:\n  - {subnet: a/b, direction: ingress, action: deny, priority: 1}\n"
     "  - {subnet: a/b, direction: ingress, action: allow, priority: 1}\n", "r.yaml:3"),
])
def test_yaml_rule_errors_name_the_line(text: str, where: str) -> None:
    with pytest.raises(Invalid) as err:
        parse_scenario(text, "r.yaml")
    assert err.value.where == where, err.value
