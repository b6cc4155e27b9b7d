"""The edge through the API on the fake data plane (docs/edge.md): a public address associated,
remapped and disassociated changes both gateways and the core's route; the edge in a scenario
file applied, applied again and destroyed; customer addresses under a quota (the pure parts:
tests/unit/test_edge.py)."""

from __future__ import annotations

from typing import Any

from facade.domain.specs import GatewaySpec
from tests.service.helpers import err, ok

# --------------------------------------------------------------------------- the service


def test_a_remap_changes_both_gateways_and_the_cores_route(world: Any) -> None:
    api = world
    api.changed = True
    for name, cidr in (("one", "10.1.0.0/16"), ("two", "10.2.0.0/16")):
        ok(api.req("POST", "/v1/networks", json={
            "name": name, "account": "acme", "cidr": cidr, "public_gateway": True,
            "subnets": [{"name": "app", "cidr": cidr.replace("0.0/16", "1.0/24")}]}), 201)
        ok(api.req("POST", "/v1/instances", json={
            "name": f"vm-{name}", "account": "acme", "interfaces": [{"subnet": f"{name}/app"}]}),
           201)
    nets = {n["name"]: n for n in ok(api.req("GET", "/v1/networks"))["items"]}
    assert nets["internet"]["kind"] == "intermediate"
    assert nets["one"]["gateway_ip"] == "198.19.255.254"
    assert nets["two"]["gateway_ip"] == "198.19.255.253"
    address = ok(api.req("POST", "/v1/public-ips", json={"account": "acme"}), 201)["address"]
    ok(api.req("POST", f"/v1/public-ips/{address}/associate", json={"instance": "vm-one"}))

    def gateway(name: str) -> GatewaySpec | None:
        return api.dp.nodes[nets[name]["router"]].gateway

    def core() -> tuple[tuple[str, str], ...]:
        return api.dp.nodes[nets["internet"]["router"]].routes

    assert gateway("one") is not None and gateway("one").nat == ((address, "10.1.1.2"),)
    assert core() == ((f"{address}/32", "198.19.255.254"),)
    topo = ok(api.req("GET", "/v1/topology", token=api.acme))
    one = next(n for n in topo["networks"] if n["name"] == "one")
    assert one["gateway_ip"] == "198.19.255.254"
    assert one["subnets"][0]["nodes"][0]["public_ip"] == address
    assert "internet" not in [n["name"] for n in topo["networks"]]  # the operator's
    ok(api.req("POST", f"/v1/public-ips/{address}/associate", json={"instance": "vm-two"}))
    assert gateway("one").nat == () and gateway("two").nat == ((address, "10.2.1.2"),)
    assert core() == ((f"{address}/32", "198.19.255.253"),)
    ok(api.req("POST", f"/v1/public-ips/{address}/disassociate"))
    assert gateway("two").nat == () and core() == ()
    assert err(api.req("PATCH", "/v1/networks/one", json={"outbound_nat": True,
                                                          "public_gateway": False}), 400)
    # a private subnet: its leg is named to the gateway, its instances get no public address
    ok(api.req("POST", "/v1/networks/two/subnets", json={
        "name": "vault", "cidr": "10.2.9.0/24", "internet": False}), 201)
    ok(api.req("POST", "/v1/instances", json={
        "name": "safe", "account": "acme", "interfaces": [{"subnet": "two/vault"}]}), 201)
    vault = ok(api.req("GET", "/v1/subnets/two/vault"))
    assert vault["internet"] is False
    assert gateway("two").private == (f"s{vault['bridge'].removeprefix('fcdb')}",)
    err(api.req("POST", f"/v1/public-ips/{address}/associate", json={"instance": "safe"}), 409,
        "private")
    ok(api.req("POST", f"/v1/public-ips/{address}/associate", json={"instance": "vm-two"}))
    err(api.req("PATCH", "/v1/subnets/two/app", json={"internet": False}), 409, address)
    assert ok(api.req("PATCH", "/v1/subnets/two/vault", json={"internet": True}))["internet"]
    assert gateway("two").private == ()
    ok(api.req("POST", f"/v1/public-ips/{address}/disassociate"))
    ok(api.req("PATCH", "/v1/networks/one", json={"public_gateway": False}))
    assert gateway("one") is None
    assert not any(p.ifname == "inet0" for p in api.dp.nodes[nets["one"]["router"]].ports)


# --------------------------------------------------------------------------- the scenario file

EDGE_YAML = """
accounts: [{name: acme}]
networks:
  - {name: edge-vpc, account: acme, cidr: 10.7.0.0/16, public_gateway: true,
     subnets: [{name: app, cidr: 10.7.1.0/24}, {name: vault, cidr: 10.7.9.0/24, internet: false}]}
instances:
  - {name: web, account: acme, interfaces: [edge-vpc/app], public_ip: true}
  - {name: db, account: acme, interfaces: [edge-vpc/app]}
external_hosts:
  - {name: laptop, account: acme}
public_ips:
  - {account: acme, instance: db}
"""


def test_the_edge_in_a_scenario_file_applies_reapplies_and_destroys(api: Any) -> None:
    changes = ok(api.req("POST", "/v1/apply", json={"yaml": EDGE_YAML}))["changes"]
    assert {(c["kind"], c["name"], c["action"]) for c in changes} >= {
        ("network", "edge-vpc", "created"), ("instance", "web", "created"),
        ("external host", "laptop", "created"), ("public IP", "db/eth0", "created")}
    net = ok(api.req("GET", "/v1/networks/edge-vpc"))
    assert net["public_gateway"] and net["gateway_ip"] == "198.19.255.254"
    addresses = {p["associated"]["instance"]: (p["kind"], p["address"])
                 for p in ok(api.req("GET", "/v1/public-ips"))["items"]}
    assert addresses == {"web": ("standard", "203.0.113.1"), "db": ("customer", "203.0.113.2")}
    assert ok(api.req("GET", "/v1/externals/laptop"))["ip"] == "198.18.0.2"
    assert ok(api.req("GET", "/v1/subnets/edge-vpc/vault"))["internet"] is False
    again = ok(api.req("POST", "/v1/apply", json={"yaml": EDGE_YAML}))["changes"]
    assert {c["action"] for c in again} == {"unchanged"}
    # outbound NAT is a setting: a changed file updates it
    changed = EDGE_YAML.replace("public_gateway: true,", "public_gateway: true, "
                                                          "outbound_nat: true,")
    again = ok(api.req("POST", "/v1/apply", json={"yaml": changed}))["changes"]
    assert ("network", "edge-vpc", "updated") in {(c["kind"], c["name"], c["action"])
                                                  for c in again}
    # a standard address is made with its instance or not at all
    refused = EDGE_YAML.replace("edge-vpc/app], public_ip: true}", "edge-vpc/app]}")
    err(api.req("POST", "/v1/apply", json={"yaml": refused}), 409, "public_ip")
    done = ok(api.req("POST", "/v1/destroy", json={"yaml": changed}))["changes"]
    assert ("public IP", "db/eth0", "deleted") in {(c["kind"], c["name"], c["action"])
                                                   for c in done}
    assert ok(api.req("GET", "/v1/public-ips"))["items"] == []
    assert ok(api.req("GET", "/v1/externals"))["items"] == []
    assert api.req("GET", "/v1/networks/edge-vpc").status_code == 404


def test_customer_addresses_count_against_a_quota_and_standard_ones_do_not(api: Any) -> None:
    ok(api.req("POST", "/v1/accounts", json={"name": "acme"}), 201)
    ok(api.req("PUT", "/v1/accounts/acme/quotas", json={"public_ips": 2}))
    for _ in range(2):
        ok(api.req("POST", "/v1/public-ips", json={"account": "acme"}), 201)
    e = err(api.req("POST", "/v1/public-ips", json={"account": "acme"}), 409,
            "at most 2 public ips")
    assert e["where"] == "account"
    ok(api.req("POST", "/v1/networks", json={
        "name": "q-vpc", "account": "acme", "cidr": "10.8.0.0/16", "public_gateway": True,
        "subnets": [{"name": "app", "cidr": "10.8.1.0/24"}]}), 201)
    made = ok(api.req("POST", "/v1/instances", json={
        "name": "vm", "account": "acme", "interfaces": [{"subnet": "q-vpc/app"}],
        "public_ip": True}), 201)
    assert made["public_ips"] == ["203.0.113.3"]  # a standard one: not counted
    used = ok(api.req("GET", "/v1/accounts/acme/quotas"))["quotas"]["public_ips"]
    assert (used["limit"], used["used"]) == (2, 2)
