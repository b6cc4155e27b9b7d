"""Dedicated tenancy (domain/tenancy.py, service/hosts_placement.py, docs/multi-host.md
"Dedicated tenancy") on the fake driver: a dedicated appliance's backends go only on hosts
holding no other account's nodes, never on the local host; such a host is claimed (no other
account's node goes there) until it holds none of them; scaling, drain and loss place through
the same filter; refusals are 409s naming `tenancy` with nothing made; bad values 400/422.

Where nodes are is read through two paths: the appliances' nodes (`host` of each backend)
and the store's rows (each node's host and the account it is for)."""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

import pytest
from sqlalchemy import select

from facade.store.models import Host, Instance
from tests.agents import lose
from tests.service.helpers import err, eventually, ok, parallel, wait_gone, wait_ready


def _hosts(api: Any, *names: str) -> None:
    for host in names:
        ok(api.req("POST", "/v1/hosts", json={"name": host, "simulated": True}), 201)


def _customer(api: Any, name: str) -> None:
    """A second customer with a subnet of its own (overlapping acme's on purpose)."""
    ok(api.req("POST", "/v1/accounts", json={"name": name}), 201)
    ok(api.req("POST", "/v1/networks", json={
        "name": f"{name}-vpc", "account": name, "cidr": "10.0.0.0/16",
        "subnets": [{"name": "app", "cidr": "10.0.1.0/24"}]}), 201)


def _appliance(api: Any, name: str, backends: int, account: str = "acme",
               service: str = "searchco/search", **more: Any) -> Any:
    return api.req("POST", "/v1/appliances", json={
        "name": name, "account": account, "service": service, "subnet": f"{account}-vpc/app",
        "backends": backends, **more})


def _tenants_by_host(api: Any) -> dict[str, set[str]]:
    """The accounts each host's nodes are for, read from the store (not the API)."""
    out: dict[str, set[str]] = defaultdict(set)
    with api.ctx.read() as session:
        for node in session.scalars(select(Instance)):
            out[node.host.name if node.host else "local"].add(node.name_scope.name)
    return dict(out)


def _backend_hosts(api: Any, app: str) -> list[str]:
    return [b["host"] for b in ok(api.req("GET", f"/v1/appliances/{app}"))["backends"]
            if b["status"] != "deleting"]


def _dedicated_beside_bolt(api: Any) -> tuple[str, list[str]]:
    """Three hosts; acme's dedicated appliance `d` (1 backend) on one of them (`first`), an
    instance of bolt on the first of the other two (`rest`, by name)."""
    api.changed = True
    _hosts(api, "h1", "h2", "h3")
    _customer(api, "bolt")
    wait_ready(api, ok(_appliance(api, "d", 1, tenancy="dedicated"), 202)["name"])
    (first,) = _backend_hosts(api, "d")
    rest = sorted({"h1", "h2", "h3"} - {first})
    ok(api.req("POST", "/v1/instances", json={
        "name": "b1", "account": "bolt", "interfaces": [{"subnet": "bolt-vpc/app"}],
        "host": rest[0]}), 201)
    return first, rest


def _claimed(api: Any) -> dict[str, str | None]:
    return {h["name"]: h["claimed_by"] for h in api.items("/v1/hosts")}


def test_bad_tenancy_values_are_refused_naming_tenancy(world: Any) -> None:
    before = world.items("/v1/appliances"), world.items("/v1/services")
    for bad in ("private", "DEDICATED", ""):
        err(world.req("POST", "/v1/services", json={
            "name": "s2", "account": "searchco", "workload": "http-echo", "port": 80,
            "backend_subnet": "search-vpc/backend", "management_subnet": "search-vpc/mgmt",
            "tenancy": bad}), 400, "shared or dedicated", where="tenancy")
        err(_appliance(world, "d", 1, tenancy=bad), 400, "shared or dedicated",
            where="tenancy")
    for bad in (5, True, ["dedicated"], "x" * 100):
        err(_appliance(world, "d", 1, tenancy=bad), 422, where="tenancy")
    assert (world.items("/v1/appliances"), world.items("/v1/services")) == before


def test_a_dedicated_appliance_with_no_free_host_is_a_409_and_nothing_is_made(
        world: Any) -> None:
    world.changed = True
    before = world.items("/v1/appliances"), world.items("/v1/instances")
    # no simulated host: the local host is nobody's alone
    err(_appliance(world, "d", 2, tenancy="dedicated"), 409, "add a host", where="tenancy")
    _hosts(world, "h1")
    ok(world.req("POST", "/v1/instances", json={  # acme's instance on h1: not free for bolt
        "name": "b1", "account": "acme", "interfaces": [{"subnet": "acme-vpc/app"}],
        "host": "h1"}), 201)
    _customer(world, "bolt")
    err(_appliance(world, "d", 1, account="bolt", tenancy="dedicated"), 409, "add a host",
        where="tenancy")
    assert world.items("/v1/appliances") == before[0]
    assert [i["name"] for i in world.items("/v1/instances")] == ["client", "b1"]
    assert not any(e["object"] == "d" for e in world.items("/v1/events"))


def test_dedicated_backends_claim_hosts_that_other_accounts_keep_off(world: Any) -> None:
    world.changed = True
    _hosts(world, "h1", "h2", "h3")
    _customer(world, "bolt")
    shown = ok(_appliance(world, "d", 2, tenancy="dedicated"), 202)
    assert shown["tenancy"] == "dedicated"
    wait_ready(world, "d")
    mine = _backend_hosts(world, "d")
    assert len(set(mine)) == 2 and "local" not in mine  # spread, never on the local host
    # its front-end on one of them: no host of its own claimed, the local host never
    assert ok(world.req("GET", "/v1/appliances/d"))["frontend"]["host"] in mine
    claimed = _claimed(world)
    assert {h for h, a in claimed.items() if a == "acme"} == set(mine)
    assert claimed["local"] is None
    (free,) = {"h1", "h2", "h3"} - set(mine)
    # another customer's shared appliance: the local host and the free host only
    wait_ready(world, ok(_appliance(world, "s", 4, account="bolt"), 202)["name"])
    assert set(_backend_hosts(world, "s")) <= {"local", free}
    # its dedicated one: the free host, which it claims in turn; then none is left for a third
    ok(_appliance(world, "bd", 1, account="bolt", tenancy="dedicated"), 202)
    wait_ready(world, "bd")
    assert _backend_hosts(world, "bd") == [free]
    tenants = _tenants_by_host(world)
    assert all(tenants[h] == {"acme"} for h in mine)  # the store agrees: acme's alone
    assert tenants[free] == {"bolt"} and _claimed(world)[free] == "bolt"
    _customer(world, "cara")
    err(_appliance(world, "cd", 1, account="cara", tenancy="dedicated"), 409, "add a host",
        where="tenancy")
    # the operator names an instance of another account onto a claimed host: 409 naming host
    err(world.req("POST", "/v1/instances", json={
        "name": "x", "account": "cara", "interfaces": [{"subnet": "cara-vpc/app"}],
        "host": mine[0]}), 409, "claimed by account acme", where="host")
    # the claimant's own instance may go there (nobody else is on it)
    before = ok(world.req("GET", f"/v1/hosts/{mine[0]}"))["nodes"]
    ok(world.req("POST", "/v1/instances", json={
        "name": "x", "account": "acme", "interfaces": [{"subnet": "acme-vpc/app"}],
        "host": mine[0]}), 201)
    shown = ok(world.req("GET", f"/v1/hosts/{mine[0]}"))
    assert shown["claimed_by"] == "acme" and shown["nodes"] == before + 1


def test_a_claimed_host_is_free_again_once_its_dedicated_nodes_are_gone(world: Any) -> None:
    world.changed = True
    _hosts(world, "h1")
    _customer(world, "bolt")
    wait_ready(world, ok(_appliance(world, "d", 1, tenancy="dedicated"), 202)["name"])
    assert _backend_hosts(world, "d") == ["h1"] and _claimed(world)["h1"] == "acme"
    err(_appliance(world, "bd", 1, account="bolt", tenancy="dedicated"), 409, where="tenancy")
    ok(world.req("DELETE", "/v1/appliances/d"), 202)
    wait_gone(world, "/v1/appliances/d")
    eventually(lambda: _claimed(world)["h1"] is None)
    assert "h1" not in _tenants_by_host(world)
    wait_ready(world, ok(_appliance(world, "bd", 1, account="bolt", tenancy="dedicated"),
                         202)["name"])
    assert _backend_hosts(world, "bd") == ["h1"] and _claimed(world)["h1"] == "bolt"


def test_a_dedicated_service_makes_every_appliance_dedicated_per_customer(world: Any) -> None:
    """The provider's choice: two customers' appliances of one dedicated service (one
    provider runs every backend) never share a host; a customer asking `shared` is dedicated
    anyway."""
    world.changed = True
    _hosts(world, "h1", "h2", "h3")
    _customer(world, "bolt")
    svc = ok(world.req("POST", "/v1/services", token=world.searchco, json={
        "name": "vault", "workload": "http-echo", "port": 80, "tenancy": "dedicated",
        "backend_subnet": "search-vpc/backend", "management_subnet": "search-vpc/mgmt"}), 201)
    assert svc["tenancy"] == "dedicated"
    assert ok(world.req("GET", "/v1/services/vault?account=searchco"))["tenancy"] == "dedicated"
    assert ok(world.req("GET", "/v1/services/search?account=searchco"))["tenancy"] == "shared"
    a = ok(_appliance(world, "va", 2, service="searchco/vault", tenancy="shared"), 202)
    assert a["tenancy"] == "dedicated"
    b = ok(_appliance(world, "vb", 1, account="bolt", service="searchco/vault"), 202)
    assert b["tenancy"] == "dedicated"
    for name in ("va", "vb"):
        wait_ready(world, name)
    ha, hb = set(_backend_hosts(world, "va")), set(_backend_hosts(world, "vb"))
    assert len(ha) == 2 and len(hb) == 1 and not ha & hb and "local" not in ha | hb
    tenants = _tenants_by_host(world)
    assert all(tenants[h] == {"acme"} for h in ha) and all(tenants[h] == {"bolt"} for h in hb)
    # the customer sees its appliance's tenancy, not where its backends are
    seen = ok(world.req("GET", "/v1/appliances/va", token=world.acme))
    assert seen["tenancy"] == "dedicated" and seen["backends"] == []


def test_scaling_places_through_the_filter_and_a_full_scale_up_is_refused(world: Any) -> None:
    world.changed = True
    _hosts(world, "h1", "h2")
    _customer(world, "bolt")
    wait_ready(world, ok(_appliance(world, "d", 1, tenancy="dedicated"), 202)["name"])
    (first,) = _backend_hosts(world, "d")
    wait_ready(world, ok(_appliance(world, "s", 2, account="bolt"), 202)["name"])
    (other,) = {"h1", "h2"} - {first}
    assert first not in _backend_hosts(world, "s")
    # scaled up: h2 holds bolt's shared backend (if the scheduler put one there), so the new
    # backends of d go where acme is alone
    ok(world.req("PATCH", "/v1/appliances/d", json={"backends": 3}), 202)
    wait_ready(world, "d")
    got = _backend_hosts(world, "d")
    assert len(got) == 3 and "local" not in got
    assert set(got) == ({first} if "bolt" in _tenants_by_host(world).get(other, set())
                        else {first, other})
    # every host that acme may use taken by another account: a scale-up is refused, unchanged
    with world.ctx.write() as session:
        for row in session.scalars(select(Host).where(Host.simulated.is_(True))):
            row.capacity = sum(1 for n in session.scalars(select(Instance))
                               if n.host_id == row.id)
    e = err(world.req("PATCH", "/v1/appliances/d", json={"backends": 4}), 409,
            where="tenancy")
    assert "add a host" in e["message"]
    assert ok(world.req("GET", "/v1/appliances/d"))["desired_backends"] == 3


def test_drain_moves_dedicated_backends_only_to_hosts_their_account_may_use(
        world: Any) -> None:
    """hosts_drain.py places the replacement through the same filter: never the local host,
    never a host of another account; with no such host it stays and says why."""
    first, rest = _dedicated_beside_bolt(world)
    ok(world.req("POST", f"/v1/hosts/{first}/drain"))
    eventually(lambda: _backend_hosts(world, "d") == [rest[1]] and
               not ok(world.req("GET", f"/v1/hosts/{first}"))["nodes"])
    assert ok(world.req("GET", "/v1/appliances/d"))["status"] == "ready"
    assert _claimed(world)[first] is None and _claimed(world)[rest[1]] == "acme"
    # drained again: only local (never) and bolt's host (never) are left: it stays, said so
    ok(world.req("POST", f"/v1/hosts/{rest[1]}/drain"))
    blocked = eventually(lambda: [e for e in world.items("/v1/events")
                                  if e["kind"] == "host.drain_blocked"])
    assert "is dedicated" in blocked[-1]["message"] and "add a host" in blocked[-1]["message"]
    time.sleep(0.3)
    assert _backend_hosts(world, "d") == [rest[1]]


@pytest.mark.agents
def test_a_lost_hosts_dedicated_backend_is_made_again_where_its_account_may_be(
        world: Any, quick_loss: None) -> None:
    """hosts_loss.py replaces through the same filter: not on the local host, not on a host
    holding another account's node, but on the free one."""
    first, rest = _dedicated_beside_bolt(world)
    lose(world, first)  # on agents: its agent killed too
    eventually(lambda: _backend_hosts(world, "d") == [rest[1]])
    wait_ready(world, "d")
    assert _tenants_by_host(world)[rest[0]] == {"bolt"}
    assert _claimed(world)[rest[1]] == "acme"


SCENARIO = """\
accounts: [{name: acme}, {name: searchco}]
networks:
  - {name: acme-vpc, account: acme, cidr: 10.0.0.0/16,
     subnets: [{name: app, cidr: 10.0.1.0/24}]}
  - {name: search-vpc, account: searchco, cidr: 10.0.0.0/16,
     subnets: [{name: backend, cidr: 10.0.1.0/24}, {name: mgmt, cidr: 10.0.200.0/24}]}
services:
  - {name: vault, account: searchco, workload: http-echo, port: 80, tenancy: dedicated,
     backend_subnet: search-vpc/backend, management_subnet: search-vpc/mgmt}
  - {name: search, account: searchco, workload: http-echo, port: 80,
     backend_subnet: search-vpc/backend, management_subnet: search-vpc/mgmt}
appliances:
  - {name: va, account: acme, service: searchco/vault, subnet: acme-vpc/app, backends: 1}
  - {name: sa, account: acme, service: searchco/search, subnet: acme-vpc/app, backends: 1,
     tenancy: dedicated}
"""


def _apply(api: Any, text: str) -> Any:
    return api.req("POST", "/v1/apply", json={"yaml": text, "filename": "t.yaml"})


def test_tenancy_in_a_scenario_file(api: Any) -> None:
    _hosts(api, "h1")
    err(_apply(api, SCENARIO.replace("tenancy: dedicated}", "tenancy: own}")), 400,
        "shared or dedicated", where="t.yaml:15")
    err(_apply(api, SCENARIO.replace("tenancy: dedicated,", "tenancy: 3,")), 400,
        where="t.yaml:8")
    assert api.items("/v1/appliances") == []
    ok(_apply(api, SCENARIO))
    for name in ("va", "sa"):
        assert wait_ready(api, name)["tenancy"] == "dedicated"
        assert _backend_hosts(api, name) == ["h1"]  # acme's: both on its one free host
    assert ok(api.req("GET", "/v1/services/vault?account=searchco"))["tenancy"] == "dedicated"
    changes = ok(_apply(api, SCENARIO))
    assert {c["action"] for c in changes["changes"]} == {"unchanged"}
    # tenancy is chosen at creation: a file that changes it is a conflict at its line
    err(_apply(api, SCENARIO.replace("backends: 1,\n     tenancy: dedicated}",
                                     "backends: 1}")), 409, "tenancy", where="t.yaml:14")
    err(_apply(api, SCENARIO.replace("port: 80, tenancy: dedicated,", "port: 80,")), 409,
        "tenancy", where="t.yaml:8")


def test_two_accounts_asking_for_the_one_free_host_at_once_one_gets_it(world: Any) -> None:
    """Placement reads the claims under the write lock: two dedicated appliances of two
    accounts created at the same moment with one free host cannot both claim it."""
    world.changed = True
    _hosts(world, "h1")
    _customer(world, "bolt")
    answers = parallel(2, lambda i: _appliance(world, f"d{i}", 1,
                                               account=("acme", "bolt")[i],
                                               tenancy="dedicated"))
    assert sorted(a.status_code for a in answers) == [202, 409]
    (won,) = [("acme", "bolt")[i] for i, a in enumerate(answers) if a.status_code == 202]
    assert "tenancy" in next(a for a in answers if a.status_code == 409).text
    assert _tenants_by_host(world)["h1"] == {won} and _claimed(world)["h1"] == won


def test_a_scale_down_frees_the_host_it_empties(world: Any) -> None:
    world.changed = True
    _hosts(world, "h1", "h2")
    _customer(world, "bolt")
    wait_ready(world, ok(_appliance(world, "d", 2, tenancy="dedicated"), 202)["name"])
    assert sorted(_backend_hosts(world, "d")) == ["h1", "h2"]
    assert _claimed(world) == {"local": None, "h1": "acme", "h2": "acme"}
    ok(world.req("PATCH", "/v1/appliances/d", json={"backends": 1}), 202)
    # the leaving backend's row goes once its node is gone: then its host is free
    eventually(lambda: list(_claimed(world).values()).count(None) == 2)  # local and one
    (kept,) = _backend_hosts(world, "d")
    (freed,) = {"h1", "h2"} - {kept}
    assert _claimed(world)[freed] is None and freed not in _tenants_by_host(world)
    wait_ready(world, ok(_appliance(world, "bd", 1, account="bolt", tenancy="dedicated"),
                         202)["name"])
    assert _backend_hosts(world, "bd") == [freed]
