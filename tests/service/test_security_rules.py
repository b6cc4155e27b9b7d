"""Security rules through the API on the fake driver: rules reach the fabric, bad ones are
refused, they go with their instance and subnet, and a file applies them idempotently (the
rules and the builder: tests/unit/test_security_rules.py)."""

from __future__ import annotations

from typing import Any

from tests.service.helpers import ok

# -- API -----------------------------------------------------------------------------------

SUBNET = "/v1/subnets/acme-vpc/app/rules"
IFACE = "/v1/instances/client/interfaces/eth0/rules"


def test_api_rules_reach_the_fabric(world: Any) -> None:
    world.changed = True
    body = {"direction": "ingress", "action": "deny", "protocol": "tcp", "ports": "8080",
            "priority": 10}
    got = ok(world.req("POST", IFACE, token=world.acme, json=body), 201)
    assert got == {**body, "cidr": "0.0.0.0/0"}
    ok(world.req("POST", SUBNET, token=world.acme, json={
        "direction": "egress", "action": "deny", "priority": 10}), 201)
    ok(world.req("POST", SUBNET, token=world.acme, json={
        "direction": "ingress", "action": "deny", "priority": 10}), 201)
    assert len(world.items(SUBNET, token=world.acme)) == 2
    world.ctx.converge(5.0)
    (port, rules), = world.dp.port_rules.items()
    # on a tie the interface's rule comes before the subnet's
    assert [(r.direction, r.protocol) for r in rules] == [("ingress", "tcp"),
                                                          ("egress", "any"), ("ingress", "any")]
    ok(world.req("DELETE", f"{IFACE}/10?direction=ingress", token=world.acme), 204)
    ok(world.req("DELETE", f"{SUBNET}/10?direction=ingress", token=world.acme), 204)
    ok(world.req("DELETE", f"{SUBNET}/10?direction=egress", token=world.acme), 204)
    world.ctx.converge(5.0)
    assert world.dp.port_rules == {}


def test_api_rule_errors(world: Any) -> None:
    world.changed = True
    good = {"direction": "ingress", "action": "deny", "priority": 10}
    ok(world.req("POST", SUBNET, token=world.acme, json=good), 201)
    resp = world.req("POST", SUBNET, token=world.acme, json={**good, "action": "allow"})
    assert resp.status_code == 409 and resp.json()["error"]["where"] == "priority"
    resp = world.req("POST", SUBNET, token=world.acme, json={**good, "ports": "80"})
    assert resp.status_code == 400 and resp.json()["error"]["where"] == "ports"
    resp = world.req("POST", SUBNET, token=world.acme, json={**good, "priority": "10"})
    assert resp.status_code == 422
    resp = world.req("POST", SUBNET, token=world.acme, json={**good, "extra": 1})
    assert resp.status_code == 422
    resp = world.req("POST", "/v1/instances/client/interfaces/eth7/rules", token=world.acme,
                     json=good)
    assert resp.status_code == 404
    # another tenant's subnet and instance do not exist for the provider
    for path in (SUBNET, IFACE):
        assert world.req("GET", path, token=world.searchco).status_code == 404
    # the provider's backend subnet is not acme's either
    resp = world.req("POST", "/v1/subnets/search-vpc/backend/rules", token=world.acme,
                     json=good)
    assert resp.status_code == 404
    resp = world.req("DELETE", f"{SUBNET}/11?direction=ingress", token=world.acme)
    assert resp.status_code == 404
    resp = world.req("DELETE", f"{SUBNET}/10?direction=sideways", token=world.acme)
    assert resp.status_code == 400


def test_rules_go_with_their_instance_and_subnet(world: Any) -> None:
    world.changed = True
    ok(world.req("POST", IFACE, json={"direction": "egress", "action": "deny",
                                      "priority": 1}), 201)
    ok(world.req("POST", "/v1/subnets/acme-vpc/tiny/rules", json={
        "direction": "egress", "action": "deny", "priority": 1}), 201)
    ok(world.req("DELETE", "/v1/instances/client"), 204)
    ok(world.req("DELETE", "/v1/subnets/acme-vpc/tiny"), 204)
    world.ctx.converge(5.0)
    from facade.store.models import SecurityRule
    with world.ctx.read() as session:
        assert session.query(SecurityRule).count() == 0


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


def test_yaml_apply_is_idempotent_and_destroy_removes(world: Any) -> None:
    world.changed = True
    first = ok(world.req("POST", "/v1/apply", json={"yaml": YAML, "filename": "r.yaml"}), 200)
    assert [c["action"] for c in first["changes"]] == ["created", "created"]
    again = ok(world.req("POST", "/v1/apply", json={"yaml": YAML, "filename": "r.yaml"}), 200)
    assert [c["action"] for c in again["changes"]] == ["unchanged", "unchanged"]
    changed = YAML.replace("action: deny", "action: allow")
    resp = world.req("POST", "/v1/apply", json={"yaml": changed, "filename": "r.yaml"})
    assert resp.status_code == 409 and "r.yaml:2" in resp.json()["error"]["where"]
    gone = ok(world.req("POST", "/v1/destroy", json={"yaml": YAML, "filename": "r.yaml"}), 200)
    assert [c["action"] for c in gone["changes"]] == ["deleted", "deleted"]
    assert world.items(SUBNET) == []
