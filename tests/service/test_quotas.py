"""Per-account quotas (docs/api.md, Quotas) through the API: every limit refuses the allocation
past it with a 409 naming account, resource, limit and count, and leaves the database as it
was; usage goes down after deletes; parallel requests never overshoot; a scenario file over a
quota changes nothing; only the operator sets limits, and bad values are refused naming the
field (the rule itself: tests/unit/test_quotas.py)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from sqlalchemy import func, select

from facade.domain import quotas as rules
from facade.store.models import Appliance, Instance, Interface, Network, Quota, Subnet
from tests.service.helpers import err, ok, parallel, settle, snapshot


def count(api: Any, model: Any, *where: Any) -> int:
    """Rows in the database, read directly (not through the API under test)."""
    with api.ctx.read() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where)) or 0


def quota(api: Any, account: str = "acme", token: str | None = "op") -> dict[str, Any]:
    return ok(api.req("GET", f"/v1/accounts/{account}/quotas", token=token))["quotas"]


def set_quota(api: Any, account: str = "acme", **limits: int | None) -> dict[str, Any]:
    return ok(api.req("PUT", f"/v1/accounts/{account}/quotas", json=limits))["quotas"]


def refused(resp: Any, resource: str, limit: int, has: int, where: str | None = None) -> None:
    e = err(resp, 409, "acme", f"at most {limit} ", resource.removesuffix("s"),
            "(quota)", f"it has {has}", code="quota_exceeded", where=where)
    assert e["message"].startswith("account acme may have"), e


def instance(api: Any, name: str, subnet: str = "acme-vpc/app") -> Any:
    return api.req("POST", "/v1/instances", json={
        "name": name, "account": "acme", "interfaces": [{"subnet": subnet}]})


def appliance(api: Any, name: str, backends: int = 1) -> Any:
    return api.req("POST", "/v1/appliances", json={
        "name": name, "account": "acme", "service": "search", "subnet": "acme-vpc/app",
        "backends": backends})


# -- reading -------------------------------------------------------------------------------

def test_defaults_and_usage(world: Any) -> None:
    q = quota(world)
    assert {r: (line["limit"], line["default"]) for r, line in q.items()} == {
        r: (limit, True) for r, limit in rules.DEFAULTS.items()}
    # the world: acme owns acme-vpc with app and tiny, and the instance client
    assert {r: line["used"] for r, line in q.items()} == {
        "networks": 1, "subnets": 2, "instances": 1, "appliances": 0, "backends": 0,
        "public_ips": 0}
    assert quota(world, token=world.acme) == q  # the account reads its own
    op = ok(world.req("GET", "/v1/accounts/operator/quotas"))
    assert op["operator"] is True
    assert all(line["limit"] is None for line in op["quotas"].values())


def test_only_the_operator_sets_and_only_the_owner_reads(world: Any) -> None:
    err(world.req("PUT", "/v1/accounts/acme/quotas", token=world.acme, json={"networks": 99}),
        403, "operator", code="forbidden")
    err(world.req("PUT", "/v1/accounts/acme/quotas", token=world.searchco,
                  json={"networks": 99}), 404, "acme")
    err(world.req("GET", "/v1/accounts/acme/quotas", token=world.searchco), 404, "acme")
    err(world.req("GET", "/v1/accounts/acme/quotas", token=None), 401)
    err(world.req("PUT", "/v1/accounts/operator/quotas", json={"networks": 1}), 400,
        "not limited", where="account")
    err(world.req("PUT", "/v1/accounts/nobody/quotas", json={"networks": 1}), 404, "nobody")
    assert quota(world)["networks"] == {"limit": 20, "used": 1, "default": True}
    assert count(world, Quota) == 0


@pytest.mark.parametrize(("body", "field"), [
    ({"networks": -1}, "networks"), ({"subnets": 100_001}, "subnets"),
    ({"instances": "5"}, "instances"), ({"appliances": 1.5}, "appliances"),
    ({"backends": True}, "backends"), ({"disks": 3}, "disks"),
    ({"networks": 3, "backends": -2}, "backends")])
def test_bad_values_are_422_naming_the_field(world: Any, body: dict[str, Any],
                                             field: str) -> None:
    err(world.req("PUT", "/v1/accounts/acme/quotas", json=body), 422, field, where=field)
    assert count(world, Quota) == 0
    assert quota(world)["networks"]["limit"] == 20


def test_partial_updates_and_null_restores_the_default(world: Any) -> None:
    q = set_quota(world, networks=3, backends=0)
    assert q["networks"] == {"limit": 3, "used": 1, "default": False}
    assert q["backends"] == {"limit": 0, "used": 0, "default": False}
    q = set_quota(world, subnets=7)  # the others keep theirs
    assert (q["networks"]["limit"], q["subnets"]["limit"], q["backends"]["limit"]) == (3, 7, 0)
    q = set_quota(world, networks=None)
    assert q["networks"] == {"limit": 20, "used": 1, "default": True}
    assert q["subnets"]["limit"] == 7
    assert count(world, Quota) == 2
    assert ok(world.req("PUT", "/v1/accounts/acme/quotas", json={}))["quotas"] == q
    world.changed = True


# -- each limit ----------------------------------------------------------------------------

def test_networks(world: Any) -> None:
    set_quota(world, networks=2)
    ok(world.req("POST", "/v1/networks", json={
        "name": "vpc2", "account": "acme", "cidr": "172.16.0.0/16"}), 201)
    before = snapshot(world)
    refused(world.req("POST", "/v1/networks", json={
        "name": "vpc3", "account": "acme", "cidr": "172.17.0.0/16",
        "subnets": [{"name": "a", "cidr": "172.17.1.0/24"}]}), "networks", 2, 2, "name")
    assert snapshot(world) == before
    assert count(world, Network, Network.name == "vpc3") == 0
    assert count(world, Subnet) == 4
    # the operator's own networks are not limited; another account's quota is its own
    ok(world.req("POST", "/v1/networks", json={"name": "op-vpc", "cidr": "10.0.0.0/16"}), 201)
    world.changed = True


def test_subnets_in_a_new_network_and_one_by_one(world: Any) -> None:
    set_quota(world, subnets=3)
    before = snapshot(world)
    refused(world.req("POST", "/v1/networks", json={
        "name": "vpc2", "account": "acme", "cidr": "172.16.0.0/16",
        "subnets": [{"name": "a", "cidr": "172.16.1.0/24"},
                    {"name": "b", "cidr": "172.16.2.0/24"}]}), "subnets", 3, 2, "subnets")
    assert snapshot(world) == before
    assert count(world, Network) == 2 and count(world, Subnet) == 4  # no vpc2, no a or b
    ok(world.req("POST", "/v1/networks/acme-vpc/subnets",
                 json={"name": "third", "cidr": "10.0.3.0/24"}), 201)
    before = snapshot(world)
    refused(world.req("POST", "/v1/networks/acme-vpc/subnets",
                      json={"name": "fourth", "cidr": "10.0.4.0/24"}), "subnets", 3, 3, "name")
    assert snapshot(world) == before
    # a bad request is still a 400 first: the quota does not hide what is wrong with it
    err(world.req("POST", "/v1/networks/acme-vpc/subnets",
                  json={"name": "far", "cidr": "10.1.0.0/24"}), 400, "outside")
    # deleting one frees its place
    ok(world.req("DELETE", "/v1/subnets/acme-vpc/third"), 204)
    assert quota(world)["subnets"]["used"] == 2
    ok(world.req("POST", "/v1/networks/acme-vpc/subnets",
                 json={"name": "fourth", "cidr": "10.0.4.0/24"}), 201)
    world.changed = True


def test_instances_and_usage_goes_down_after_a_delete(world: Any) -> None:
    set_quota(world, instances=2)
    ok(instance(world, "i2"), 201)
    before = snapshot(world)
    interfaces = count(world, Interface)
    refused(instance(world, "i3"), "instances", 2, 2, "name")
    assert snapshot(world) == before
    assert count(world, Interface) == interfaces  # no address was taken
    assert count(world, Instance, Instance.name == "i3") == 0
    # the provider's nodes are not the customer's instances, nor the provider's: appliance
    # nodes never count against `instances`
    ok(appliance(world, "docs", backends=2), 202)
    settle(world, 30.0)  # bounded; generous for a loaded machine
    assert quota(world)["instances"]["used"] == 2
    assert quota(world, "searchco")["instances"]["used"] == 0
    ok(world.req("DELETE", "/v1/instances/i2"), 204)
    assert quota(world)["instances"]["used"] == 1
    ok(instance(world, "i3"), 201)
    assert quota(world)["instances"]["used"] == 2
    world.changed = True


def test_appliances(world: Any) -> None:
    set_quota(world, appliances=1)
    ok(appliance(world, "docs"), 202)
    before = snapshot(world)
    refused(appliance(world, "docs2"), "appliances", 1, 1, "name")
    assert snapshot(world) == before
    assert count(world, Appliance) == 1
    assert count(world, Instance, Instance.name.like("docs2%")) == 0
    ok(world.req("DELETE", "/v1/appliances/docs"), 202)
    assert quota(world)["appliances"]["used"] == 0  # leaving: no longer counted
    ok(appliance(world, "docs2"), 202)
    world.changed = True


def test_backends_at_create_and_when_scaling(world: Any) -> None:
    set_quota(world, backends=3)
    before = snapshot(world)
    e = err(appliance(world, "docs", backends=4), 409, "at most 3 backends", "it has 0",
            "asks for 4 more", code="quota_exceeded", where="backends")
    assert "acme" in e["message"]
    assert snapshot(world) == before
    assert count(world, Appliance) == 0 and count(world, Instance) == 1
    ok(appliance(world, "docs", backends=2), 202)
    settle(world, 30.0)  # bounded; generous for a loaded machine
    before = snapshot(world)
    nodes = count(world, Instance)
    for backends in (4, 64):
        err(world.req("PATCH", "/v1/appliances/docs", json={"backends": backends}), 409,
            "at most 3 backends", "it has 2", code="quota_exceeded", where="backends")
    assert snapshot(world) == before
    assert count(world, Instance) == nodes
    with world.ctx.read() as s:
        assert s.scalar(select(Appliance.desired_backends)) == 2
    ok(world.req("PATCH", "/v1/appliances/docs", json={"backends": 3}), 202)
    settle(world, 30.0)  # bounded; generous for a loaded machine
    assert quota(world)["backends"]["used"] == 3
    # a second appliance shares the same budget
    refused(appliance(world, "docs2", backends=1), "backends", 3, 3, "backends")
    # shrinking is always allowed, and frees the budget
    ok(world.req("PATCH", "/v1/appliances/docs", json={"backends": 1}), 202)
    assert quota(world)["backends"]["used"] == 1
    ok(appliance(world, "docs2", backends=2), 202)
    # the backends are the provider's nodes, counted against the customer only
    assert quota(world, "searchco")["backends"]["used"] == 0
    world.changed = True


def test_a_limit_under_usage_blocks_new_ones_and_removes_nothing(world: Any) -> None:
    ok(instance(world, "i2"), 201)
    ok(instance(world, "i3"), 201)
    q = set_quota(world, instances=1)
    assert q["instances"] == {"limit": 1, "used": 3, "default": False}
    assert count(world, Instance, Instance.role == "instance") == 3
    refused(instance(world, "i4"), "instance", 1, 3, "name")
    ok(world.req("DELETE", "/v1/instances/i3"), 204)
    ok(world.req("DELETE", "/v1/instances/i2"), 204)
    refused(instance(world, "i4"), "instance", 1, 1, "name")
    ok(world.req("DELETE", "/v1/instances/client"), 204)
    ok(instance(world, "i4"), 201)
    world.changed = True


def test_a_zero_quota_refuses_the_first_one(world: Any) -> None:
    set_quota(world, networks=0, appliances=0)
    refused(world.req("POST", "/v1/networks", json={
        "name": "vpc2", "account": "acme", "cidr": "172.16.0.0/16"}), "networks", 0, 1, "name")
    refused(appliance(world, "docs"), "appliances", 0, 0, "name")
    world.changed = True


def test_deleting_an_account_deletes_its_quotas(world: Any) -> None:
    ok(world.req("POST", "/v1/accounts", json={"name": "temp"}), 201)
    set_quota(world, "temp", networks=1)
    assert count(world, Quota) == 1
    ok(world.req("DELETE", "/v1/accounts/temp"), 204)
    assert count(world, Quota) == 0
    ok(world.req("POST", "/v1/accounts", json={"name": "temp"}), 201)
    assert quota(world, "temp")["networks"] == {"limit": 20, "used": 0, "default": True}
    world.changed = True


# -- in parallel ---------------------------------------------------------------------------

def test_50_parallel_instances_never_exceed_the_quota(world: Any) -> None:
    set_quota(world, instances=10)  # client is one of them already
    answers = parallel(50, lambda i: instance(world, f"p{i}"))
    assert Counter(r.status_code for r in answers) == {201: 9, 409: 41}
    for r in answers:
        if r.status_code == 409:
            assert r.json()["error"]["code"] == "quota_exceeded", r.text
            assert "at most 10 instances" in r.json()["error"]["message"]
    assert count(world, Instance, Instance.role == "instance") == 10
    assert count(world, Interface, Interface.subnet_id == select(Subnet.id).where(
        Subnet.name == "app").join(Network).where(Network.name == "acme-vpc")
        .scalar_subquery()) == 10
    world.changed = True


def test_parallel_networks_and_scales_never_exceed_the_quota(world: Any) -> None:
    set_quota(world, networks=6, backends=8)
    answers = parallel(30, lambda i: world.req("POST", "/v1/networks", json={
        "name": f"n{i}", "account": "acme", "cidr": "172.16.0.0/16",
        "subnets": [{"name": "s", "cidr": "172.16.0.0/24"}]}))
    assert Counter(r.status_code for r in answers) == {201: 5, 409: 25}
    assert count(world, Network, Network.account_id == select(Network.account_id).where(
        Network.name == "acme-vpc").scalar_subquery()) == 6
    for i in range(4):
        ok(appliance(world, f"a{i}"), 202)
    # 4 appliances each asking for 4 backends (+3 each): only one can have them
    answers = parallel(4, lambda i: world.req("PATCH", f"/v1/appliances/a{i}",
                                              json={"backends": 4}))
    assert Counter(r.status_code for r in answers) == {202: 1, 409: 3}
    assert count(world, Instance, Instance.role == "backend") == 7
    assert quota(world)["backends"]["used"] == 7
    world.changed = True


# -- scenario files ------------------------------------------------------------------------

SCENARIO = """\
networks:
  - {name: acme-vpc2, account: acme, cidr: 172.16.0.0/16,
     subnets: [{name: app, cidr: 172.16.1.0/24}]}
instances:
  - {name: web1, account: acme, interfaces: [acme-vpc2/app]}
  - {name: web2, account: acme, interfaces: [acme-vpc2/app]}
  - {name: web3, account: acme, interfaces: [acme-vpc2/app]}
appliances:
  - {name: docs, account: acme, service: search, subnet: acme-vpc2/app, backends: BACKENDS}
"""


def apply(api: Any, text: str) -> Any:
    return api.req("POST", "/v1/apply", json={"yaml": text, "filename": "acme.yaml"})


def test_a_file_over_a_quota_changes_nothing_and_names_the_place(world: Any) -> None:
    set_quota(world, instances=3, backends=4)
    before = snapshot(world)
    text = SCENARIO.replace("BACKENDS", "2")
    e = err(apply(world, text), 409, "at most 3 instances", "it has 3", code="quota_exceeded")
    assert e["where"].startswith("acme.yaml:7"), e  # web3's line
    assert snapshot(world) == before
    assert count(world, Network, Network.name == "acme-vpc2") == 0
    assert count(world, Instance, Instance.name.like("web%")) == 0
    set_quota(world, instances=4)
    before = snapshot(world)
    e = err(apply(world, SCENARIO.replace("BACKENDS", "5")), 409, "at most 4 backends",
            code="quota_exceeded")
    assert e["where"].startswith("acme.yaml:9"), e
    assert snapshot(world) == before
    assert count(world, Instance) == 1
    ok(apply(world, text))
    settle(world, 30.0)  # bounded; generous for a loaded machine
    # growing the appliance in the file past the quota: refused, the appliance unchanged
    before = snapshot(world)
    e = err(apply(world, SCENARIO.replace("BACKENDS", "6")), 409, "at most 4 backends",
            "it has 2", code="quota_exceeded")
    assert e["where"].startswith("acme.yaml:9"), e
    assert snapshot(world) == before
    # a file adding subnets to an existing network past the quota
    set_quota(world, subnets=3)
    more = SCENARIO.replace("BACKENDS", "2").replace(
        "subnets: [{name: app, cidr: 172.16.1.0/24}]",
        "subnets: [{name: app, cidr: 172.16.1.0/24}, {name: b, cidr: 172.16.2.0/24}]")
    before = snapshot(world)
    e = err(apply(world, more), 409, "at most 3 subnets", "it has 3", code="quota_exceeded")
    assert e["where"].startswith("acme.yaml:2"), e
    assert snapshot(world) == before
    world.changed = True
