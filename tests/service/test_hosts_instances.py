"""Instances placed by the scheduler (service/hosts_placement.py `instance_host`,
docs/multi-host.md "Instances placed by the scheduler") on the fake driver: an instance that
names no host goes on the host holding the fewest nodes, the local host first on a tie, then
the first by name, among the hosts that take nodes, have room and whose claims allow it; with
no simulated host that runs it is the local host, as before. A full world is a 409 naming
`host` with nothing made; another account's claimed host is never chosen nor may be named.
A drain leaves instances where they are and says so once; a host's loss marks them `failed`
(and the reconciler leaves them so) until it is back. The kernel test places one on a
simulated host and talks to it (tests/integration/test_hosts_overlay_e2e.py)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import select, update

from facade.domain import keys
from facade.store.models import Host, Instance
from tests.agents import back, lose
from tests.service.helpers import err, eventually, ok, wait_gone, wait_ready
from tests.service.test_cli_hosts import cli, run

__all__ = ["cli"]  # the fixture, shared with the CLI's host tests


def _hosts(api: Any, *names: str, **more: Any) -> None:
    for host in names:
        ok(api.req("POST", "/v1/hosts", json={"name": host, "simulated": True, **more}), 201)


def _instance(api: Any, name: str, account: str = "acme", token: str | None = "op",
              **more: Any) -> Any:
    return api.req("POST", "/v1/instances", token=token, json={
        "name": name, "account": account, "interfaces": [{"subnet": f"{account}-vpc/app"}],
        **more})


def _placed(api: Any, name: str, account: str = "acme") -> str:
    return str(ok(api.req("GET", f"/v1/instances/{name}?account={account}"))["host"])


def _customer(api: Any, name: str) -> None:
    ok(api.req("POST", "/v1/accounts", json={"name": name}), 201)
    ok(api.req("POST", "/v1/networks", json={
        "name": f"{name}-vpc", "account": name, "cidr": "10.0.0.0/16",
        "subnets": [{"name": "app", "cidr": "10.0.1.0/24"}]}), 201)


def test_with_no_simulated_host_that_runs_an_instance_is_local(world: Any) -> None:
    world.changed = True
    assert ok(_instance(world, "a"), 201)["host"] == "local"
    _hosts(world, "h1", "h2")
    ok(world.req("POST", "/v1/hosts/h1/drain"))
    world.dp.cut.add("h2")  # stopped, not yet declared lost
    with world.ctx.write() as session:  # a machine whose agent registered: makes no node yet
        session.add(Host(name="m1", address="10.9.0.1", state="ready", capacity=50,
                         simulated=False))
    assert ok(_instance(world, "b"), 201)["host"] == "local"
    world.dp.cut.discard("h2")
    assert ok(_instance(world, "c"), 201)["host"] == "h2"


def test_instances_spread_to_the_host_holding_fewest_nodes_local_first_on_a_tie(
        world: Any) -> None:
    world.changed = True
    _hosts(world, "h1", "h2")  # the local host holds acme's client already
    placed = []
    for name in ("i1", "i2", "i3", "i4"):
        made = ok(_instance(world, name), 201)
        placed.append(made["host"])
        assert _placed(world, name) == made["host"]
    assert placed == ["h1", "h2", "local", "h1"]
    # an account's own token: the scheduler places its instance (only naming a host is the
    # operator's)
    mine = ok(_instance(world, "i5", token=world.acme), 201)
    assert mine["host"] == "h2"
    err(_instance(world, "i6", token=world.acme, host="h1"), 403, "operator", where="host")
    # the data plane was asked for each node on its host, and the store says the same
    specs = {spec.netns: spec.host for spec in world.dp.nodes.values()}
    with world.ctx.read() as session:
        rows = {i.name: (i.host.name if i.host else "local", i.id)
                for i in session.scalars(select(Instance))}
    for name, host in zip(("i1", "i2", "i3", "i4", "i5"), [*placed, "h2"], strict=True):
        assert rows[name][0] == host
        netns = ok(world.req("GET", f"/v1/instances/{name}"))["netns"]
        assert specs[netns] == (None if host == "local" else host)
    made = [e["message"] for e in world.items("/v1/events") if e["kind"] == "instance.created"]
    assert any("on host h1" in m for m in made)
    assert {h["name"]: h["nodes"] for h in world.items("/v1/hosts")} == \
        {"local": 2, "h1": 2, "h2": 2}


def test_a_full_world_is_a_409_naming_host_and_nothing_is_made(world: Any) -> None:
    world.changed = True
    _hosts(world, "h1", capacity=1)
    assert ok(_instance(world, "i1"), 201)["host"] == "h1"
    with world.ctx.write() as session:  # the local host full too (it holds the client)
        session.execute(update(Host).where(Host.name == "local").values(capacity=1))
    before, calls = world.items("/v1/instances"), len(world.dp.calls)
    err(_instance(world, "x"), 409, "full", "add a host", where="host")
    err(_instance(world, "x", token=world.acme), 409, "full", where="host")
    assert world.items("/v1/instances") == before
    assert world.dp.calls[calls:] == []
    # the address it would have had is free: the next instance that can be placed takes it
    ip = before[-1]["interfaces"][0]["ip"]
    # bad input is still the 4xx of its field before the hosts are weighed
    err(world.req("POST", "/v1/instances", json={
        "name": "x", "account": "acme", "interfaces": [{"subnet": "acme-vpc/nope"}]}), 404,
        where="interfaces[0]")
    # the operator may still name a host: its choice overrides the capacity (docs)
    named = ok(_instance(world, "x", host="h1"), 201)
    assert named["host"] == "h1" and named["interfaces"][0]["ip"] != ip
    with world.ctx.write() as session:
        session.execute(update(Host).where(Host.name == "h1").values(capacity=5))
    assert ok(_instance(world, "y"), 201)["host"] == "h1"


def test_another_accounts_claimed_host_is_never_chosen_nor_named(world: Any) -> None:
    world.changed = True
    _hosts(world, "h1", "h2")
    _customer(world, "bolt")
    ok(world.req("POST", "/v1/appliances", json={  # acme's dedicated appliance claims h1
        "name": "d", "account": "acme", "service": "search", "subnet": "acme-vpc/app",
        "backends": 1, "tenancy": "dedicated"}), 202)
    wait_ready(world, "d")
    assert ok(world.req("GET", "/v1/hosts/h1"))["claimed_by"] == "acme"
    assert ok(world.req("GET", "/v1/hosts/h1"))["nodes"] == 2  # its backend and front-end
    bolt = [ok(_instance(world, f"b{k}", "bolt"), 201)["host"] for k in range(4)]
    assert bolt == ["h2", "local", "h2", "local"]  # h1 held fewest at first, and is acme's
    # acme's own instance may go on the host its account claims (nobody else is there)
    assert ok(_instance(world, "a1"), 201)["host"] == "h1"
    assert ok(world.req("GET", "/v1/hosts/h1"))["claimed_by"] == "acme"
    before, calls = world.items("/v1/instances"), len(world.dp.calls)
    err(_instance(world, "bx", "bolt", host="h1"), 409, "claimed by account acme",
        where="host")
    # every other host full: bolt's instance has nowhere to go, h1 is still not a candidate
    with world.ctx.write() as session:
        for host in world.items("/v1/hosts"):
            if host["name"] != "h1":
                session.execute(update(Host).where(Host.name == host["name"])
                                .values(capacity=host["nodes"]))
    err(_instance(world, "bx", "bolt"), 409, "claimed by another account", where="host")
    assert world.items("/v1/instances") == before
    assert world.dp.calls[calls:] == []
    assert ok(_instance(world, "a2"), 201)["host"] == "h1"  # acme's still may


def test_a_drain_leaves_instances_and_says_so_once(world: Any) -> None:
    world.changed = True
    _hosts(world, "h1")
    assert ok(_instance(world, "i1"), 201)["host"] == "h1"
    ok(world.req("POST", "/v1/hosts/h1/drain"))
    blocked = eventually(lambda: [e for e in world.items("/v1/events")
                                  if e["kind"] == "host.drain_blocked"], 10,
                         "the drain did not say what stays")
    assert "acme/i1" in blocked[0]["message"] and "does not move an instance" in \
        blocked[0]["message"]
    time.sleep(2.5)  # two more steps of the host watch: said once
    again = [e for e in world.items("/v1/events") if e["kind"] == "host.drain_blocked"]
    assert len(again) == 1
    assert _placed(world, "i1") == "h1"
    err(world.req("DELETE", "/v1/hosts/h1"), 409, "still holds 1 node",
        "customer instances stay", where="host")
    assert ok(_instance(world, "i2"), 201)["host"] == "local"  # nothing new on it
    assert world.req("DELETE", "/v1/instances/i1").status_code in (202, 204)
    wait_gone(world, "/v1/instances/i1")
    assert world.req("DELETE", "/v1/hosts/h1").status_code == 204


@pytest.mark.agents
def test_a_lost_hosts_instances_fail_and_come_back_with_it(world: Any,
                                                           quick_loss: None) -> None:
    world.changed = True
    _hosts(world, "h1", "h2")
    assert [ok(_instance(world, n), 201)["host"] for n in ("i1", "i2")] == ["h1", "h2"]
    eventually(lambda: _status(world, "i1") == "active", 10, "i1 not active")
    lose(world, "h1")  # on agents: its agent killed too
    eventually(lambda: ok(world.req("GET", "/v1/hosts/h1"))["state"] == "lost", 10,
               "h1 not lost")
    assert _status(world, "i1") == "failed" and _placed(world, "i1") == "h1"  # not moved
    assert _status(world, "i2") == "active"
    seen = [e for e in world.items("/v1/events", token=world.acme)
            if e["kind"] == "instance.failed"]  # its account is told
    assert [e["object"] for e in seen] == ["i1"] and "its host h1 is lost" in seen[0]["message"]
    err(world.req("POST", "/v1/instances/i1/exec", json={"argv": ["true"]}), 409, "failed",
        where="instance")
    # the reconciler leaves it failed while its host is lost
    with world.ctx.read() as session:
        ident = session.scalar(select(Instance.id).where(Instance.name == "i1"))
    assert ident is not None
    world.ctx.kicker.wait(world.ctx.kicker.touch([keys.node(ident)]), 10)
    assert _status(world, "i1") == "failed"
    assert ok(_instance(world, "i3"), 201)["host"] != "h1"  # a lost host takes nothing
    back(world, "h1")
    eventually(lambda: ok(world.req("GET", "/v1/hosts/h1"))["state"] == "ready", 10,
               "h1 not ready again")
    eventually(lambda: _status(world, "i1") == "active", 10, "i1 not active again")
    assert _placed(world, "i1") == "h1"
    kinds = [e["kind"] for e in world.items("/v1/events", token=world.acme)
             if e["object"] == "i1"]
    assert kinds == ["instance.recovering", "instance.failed", "instance.created"]  # newest first
    ready = [e["message"] for e in world.items("/v1/events")
             if e["kind"] == "host.ready" and e["object"] == "h1"]
    assert "its instances back: i1" in ready[-1]


def _status(api: Any, name: str) -> str:
    return str(ok(api.req("GET", f"/v1/instances/{name}"))["status"])


PLACED = """\
accounts: [{name: acme}]
networks:
  - {name: vpc, account: acme, cidr: 10.0.0.0/16, subnets: [{name: app, cidr: 10.0.1.0/24}]}
instances:
  - {name: one, account: acme, interfaces: [vpc/app]}
  - {name: two, account: acme, interfaces: [vpc/app]}
  - {name: three, account: acme, interfaces: [vpc/app]}
"""


def test_a_file_without_host_lets_the_scheduler_place_and_keeps_it(api: Any) -> None:
    _hosts(api, "h1", "h2")
    made = ok(api.req("POST", "/v1/apply", json={"yaml": PLACED, "filename": "p.yaml"}))
    assert {c["action"] for c in made["changes"]} == {"created"}
    hosts = {n: _placed(api, n) for n in ("one", "two", "three")}
    assert hosts == {"one": "local", "two": "h1", "three": "h2"}
    # applied again: unchanged (no host in the file: the scheduler's choice stands)
    again = ok(api.req("POST", "/v1/apply", json={"yaml": PLACED, "filename": "p.yaml"}))
    assert {c["action"] for c in again["changes"]} == {"unchanged"}
    # naming another host for a placed instance is a conflict at its line, nothing changed
    moved = PLACED.replace("{name: two, account: acme, interfaces: [vpc/app]}",
                           "{name: two, account: acme, interfaces: [vpc/app], host: local}")
    err(api.req("POST", "/v1/apply", json={"yaml": moved, "filename": "p.yaml"}), 409,
        "exists with host h1, the file says local", where="p.yaml:6")
    named = PLACED.replace("{name: two, account: acme, interfaces: [vpc/app]}",
                           "{name: two, account: acme, interfaces: [vpc/app], host: h1}")
    assert {c["action"] for c in ok(api.req("POST", "/v1/apply", json={
        "yaml": named, "filename": "p.yaml"}))["changes"]} == {"unchanged"}
    assert {n: _placed(api, n) for n in hosts} == hosts


@pytest.mark.usefixtures("cli")
def test_the_cli_creates_an_instance_the_scheduler_places(api: Any) -> None:
    """`facade instance create` without `--host`: placed by the scheduler, and `instance
    show` names its host (the `cli` fixture: `web` on the local host, `h1` in the store)."""
    api.dp.hosts["h1"] = "172.31.0.11"  # h1 runs (the fixture only recorded it)
    out = run("instance", "create", "auto", "--account", "acme", "-i", "acme-vpc/app")
    assert out.exit_code == 0, out.output
    shown = run("instance", "show", "auto")
    assert shown.exit_code == 0, shown.output
    assert ["host", "h1"] in [line.split() for line in shown.output.splitlines()]
    api.dp.hosts.pop("h1")  # stopped: the next one is local
    assert run("instance", "create", "near", "--account", "acme", "-i",
               "acme-vpc/app").exit_code == 0
    assert _placed(api, "near") == "local"
