"""Hosts through the API on the fake driver (docs/multi-host.md, docs/api.md "Hosts"): the
local host every plane has holds every node; the operator lists, reads, drains and removes
hosts, an account's token is refused; a host holding nodes, and the local host, cannot be
removed; each node says which host it is on (instance, appliance, topology).

Simulated hosts are added through the API (the data plane runs them: the fake records it) and
removed likewise; a node is placed on one by name at its creation (operator only), or here and
there by writing its row's host directly."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import delete, select, update

from facade.domain import names
from facade.store.models import Host, Instance
from tests.service.helpers import err, ok, wait_gone, wait_ready


def _add_host(api: Any, name: str, *, address: str = "172.31.0.11",
              simulated: bool = True) -> int:
    with api.ctx.write() as session:
        row = Host(name=name, address=address, state="ready", capacity=50,
                   simulated=simulated)
        session.add(row)
        session.flush()
        return row.id


def _place(api: Any, node: str, host_id: int | None) -> None:
    with api.ctx.write() as session:
        session.execute(update(Instance).where(Instance.name == node).values(host_id=host_id))


def _all_nodes(api: Any) -> list[dict[str, Any]]:
    """Every node as the operator reads them: instances, and each appliance's nodes."""
    nodes = list(api.items("/v1/instances"))
    for app in api.items("/v1/appliances"):
        nodes += [app["frontend"], *app["backends"]]
    return nodes


def test_every_plane_has_its_local_host_holding_every_node(world: Any) -> None:
    world.changed = True
    ok(world.req("POST", "/v1/appliances", json={
        "name": "docs", "account": "acme", "service": "search", "subnet": "acme-vpc/app",
        "backends": 2}), 202)
    app = wait_ready(world, "docs")
    hosts = world.items("/v1/hosts")
    assert [h["name"] for h in hosts] == ["local"]
    nodes = _all_nodes(world)
    assert len(nodes) == 4  # the instance `client`, a front-end, two backends
    local = ok(world.req("GET", "/v1/hosts/local"))
    assert local == hosts[0]
    assert local == {"name": "local", "address": None, "state": "ready", "capacity": 1000,
                     "nodes": len(nodes), "heartbeat": None, "simulated": False,
                     "local": True, "detail": "the control plane's own machine: every node "
                                              "is on it", "claimed_by": None}
    # each node says where it is
    assert {n["host"] for n in nodes} == {"local"}
    assert ok(world.req("GET", "/v1/instances/client"))["host"] == "local"
    assert app["frontend"]["host"] == "local"
    topo = ok(world.req("GET", "/v1/topology"))
    placed = [n for net in topo["networks"] for sub in net["subnets"] for n in sub["nodes"]]
    assert placed and {n["host"] for n in placed} == {"local"}


def test_a_node_on_another_host_is_counted_there_and_shown_there(world: Any) -> None:
    world.changed = True
    h1 = _add_host(world, "h1")
    before = ok(world.req("GET", "/v1/hosts/local"))["nodes"]
    _place(world, "client", h1)
    assert ok(world.req("GET", "/v1/hosts/h1"))["nodes"] == 1
    assert ok(world.req("GET", "/v1/hosts/local"))["nodes"] == before - 1
    listed = {h["name"]: h["nodes"] for h in world.items("/v1/hosts")}
    assert listed == {"local": before - 1, "h1": 1}
    assert ok(world.req("GET", "/v1/instances/client"))["host"] == "h1"
    topo = ok(world.req("GET", "/v1/topology"))
    client = [n for net in topo["networks"] for sub in net["subnets"] for n in sub["nodes"]
              if n["name"] == "client"]
    assert [n["host"] for n in client] == ["h1"]
    # removing it is refused while it holds the node, naming how many; nothing changes
    err(world.req("DELETE", "/v1/hosts/h1"), 409, "host h1 still holds 1 node", code="in_use")
    assert ok(world.req("GET", "/v1/hosts/h1"))["state"] == "ready"


def test_drain_then_remove_an_empty_host(world: Any) -> None:
    world.changed = True
    _add_host(world, "h2", address="172.31.0.12")
    drained = ok(world.req("POST", "/v1/hosts/h2/drain"))
    assert drained["state"] == "draining" and drained["nodes"] == 0
    assert ok(world.req("GET", "/v1/hosts/h2"))["state"] == "draining"
    assert {h["name"]: h["state"] for h in world.items("/v1/hosts")}["h2"] == "draining"
    assert ok(world.req("POST", "/v1/hosts/h2/drain"))["state"] == "draining"  # again: as is
    kinds = [e["kind"] for e in world.items("/v1/events") if e["object"] == "h2"]
    assert kinds == ["host.draining"]
    assert world.req("DELETE", "/v1/hosts/h2").status_code == 204
    with world.ctx.read() as session:  # the row stays, removed
        assert session.scalar(select(Host.state).where(Host.name == "h2")) == "removed"
    assert [h["name"] for h in world.items("/v1/hosts")] == ["local"]
    assert [h["name"] for h in world.items("/v1/hosts", params={"state": "removed"})] == ["h2"]
    assert ok(world.req("GET", "/v1/hosts/h2"))["state"] == "removed"
    assert world.req("DELETE", "/v1/hosts/h2").status_code == 204  # again: nothing changes
    err(world.req("POST", "/v1/hosts/h2/drain"), 409, "h2 was removed")


def test_the_local_host_is_neither_removed_nor_drained(world: Any) -> None:
    e = err(world.req("DELETE", "/v1/hosts/local"), 409, "local host", "cannot be removed")
    assert e["where"] == "host"
    err(world.req("POST", "/v1/hosts/local/drain"), 409, "cannot be drained")
    assert ok(world.req("GET", "/v1/hosts/local"))["state"] == "ready"


def test_unknown_and_malformed_hosts(world: Any) -> None:
    err(world.req("GET", "/v1/hosts/nowhere"), 404, "host 'nowhere' does not exist")
    err(world.req("POST", "/v1/hosts/nowhere/drain"), 404, "nowhere")
    err(world.req("DELETE", "/v1/hosts/nowhere"), 404, "nowhere")
    err(world.req("GET", "/v1/hosts/Bad_Host"), 400, "host name", where="name")
    err(world.req("DELETE", "/v1/hosts/" + "h" * 41), 400, "host name", where="name")
    err(world.req("GET", "/v1/hosts", params={"state": "asleep"}), 400, "state 'asleep' must be",
        where="state")
    err(world.req("GET", "/v1/hosts", params={"limit": 0}), 422, where="limit")


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/v1/hosts"), ("GET", "/v1/hosts/local"), ("POST", "/v1/hosts/h3/drain"),
    ("DELETE", "/v1/hosts/h3"), ("DELETE", "/v1/hosts/local")])
def test_an_account_token_is_refused(world: Any, method: str, path: str) -> None:
    _add_host(world, "h3")
    world.changed = True  # the host above
    err(world.req(method, path, token=world.acme), 403, "only the operator", code="forbidden")
    assert ok(world.req("GET", "/v1/hosts/h3"))["state"] == "ready"
    assert world.req("GET", "/v1/hosts", token=None).status_code == 401


def test_hosts_are_paged_by_creation(world: Any) -> None:
    world.changed = True
    for i in range(5):
        _add_host(world, f"h{i}", address=f"172.31.0.{20 + i}")
    first = ok(world.req("GET", "/v1/hosts", params={"limit": 2}))
    assert [h["name"] for h in first["items"]] == ["local", "h0"]
    assert first["next_cursor"]
    assert [h["name"] for h in world.items("/v1/hosts", params={"limit": 2})] == [
        "local", "h0", "h1", "h2", "h3", "h4"]


def test_add_simulated_hosts_runs_them(world: Any) -> None:
    world.changed = True
    resp = world.req("POST", "/v1/hosts", json={"name": "h1", "simulated": True})
    h1 = ok(resp, 201)
    assert resp.headers["location"] == "/v1/hosts/h1"
    assert h1 == {"name": "h1", "address": "172.31.0.11", "state": "ready", "capacity": 100,
                  "nodes": 0, "heartbeat": None, "simulated": True, "local": False,
                  "detail": h1["detail"], "claimed_by": None}
    assert h1["detail"].startswith("simulated on this machine: its namespace and FRR run")
    assert ok(world.req("GET", "/v1/hosts/h1")) == h1
    h2 = ok(world.req("POST", "/v1/hosts", json={
        "name": "h2", "simulated": True, "capacity": 8}), 201)
    assert (h2["address"], h2["capacity"]) == ("172.31.0.12", 8)
    h3 = ok(world.req("POST", "/v1/hosts", json={
        "name": "h3", "simulated": True, "address": "172.31.0.40"}), 201)
    assert h3["address"] == "172.31.0.40"
    with world.ctx.read() as session:  # what the store holds, read apart from the API
        rows = session.execute(select(Host.name, Host.address, Host.simulated)
                               .order_by(Host.id)).all()
    assert [tuple(r) for r in rows] == [("local", None, False), ("h1", "172.31.0.11", True),
                                        ("h2", "172.31.0.12", True),
                                        ("h3", "172.31.0.40", True)]
    kinds = [e["kind"] for e in world.items("/v1/events") if e["object"] == "h1"]
    assert kinds == ["host.created"]
    # the data plane runs it, at its address
    assert [c for c in world.dp.calls if "h1" in c] == ["ensure_host h1"]
    assert world.dp.hosts == {"h1": "172.31.0.11", "h2": "172.31.0.12", "h3": "172.31.0.40"}
    # removed, it stops; its name may be taken again (its row, ready again, new address)
    assert world.req("DELETE", "/v1/hosts/h1").status_code == 204
    assert world.dp.calls[-1] == "remove_host h1" and "h1" not in world.dp.hosts
    again = ok(world.req("POST", "/v1/hosts", json={
        "name": "h1", "simulated": True, "address": "172.31.0.50"}), 201)
    assert (again["state"], again["address"]) == ("ready", "172.31.0.50")
    assert [h["name"] for h in world.items("/v1/hosts")] == ["local", "h1", "h2", "h3"]


def test_adding_a_host_refuses_what_is_wrong_naming_it(world: Any) -> None:
    ok(world.req("POST", "/v1/hosts", json={"name": "h1", "simulated": True}), 201)
    world.changed = True
    before = world.items("/v1/hosts")
    err(world.req("POST", "/v1/hosts", json={"name": "h1", "simulated": True}), 409,
        "host h1 exists already", where="name")
    err(world.req("POST", "/v1/hosts", json={"name": "local", "simulated": True}), 409,
        "exists already", where="name")
    err(world.req("POST", "/v1/hosts", json={
        "name": "h2", "simulated": True, "address": "172.31.0.11"}), 409,
        "172.31.0.11 is host h1's", where="address")
    err(world.req("POST", "/v1/hosts", json={"name": "h2", "simulated": False}), 400,
        "only simulated hosts", where="simulated")
    err(world.req("POST", "/v1/hosts", json={"name": "h2"}), 422, where="simulated")
    err(world.req("POST", "/v1/hosts", json={"name": "h2", "simulated": "yes"}), 422,
        where="simulated")
    err(world.req("POST", "/v1/hosts", json={"name": "rack-1-host2", "simulated": True}), 400,
        "at most 11 characters", where="name")
    err(world.req("POST", "/v1/hosts", json={"name": "H2", "simulated": True}), 400,
        "host name", where="name")
    for address in ("172.31.0.5", "172.31.0.255", "10.0.0.11", "172.31.0.0/24", "nowhere"):
        err(world.req("POST", "/v1/hosts", json={
            "name": "h2", "simulated": True, "address": address}), 400, where="address")
    err(world.req("POST", "/v1/hosts", json={"name": "h2", "simulated": True,
                                             "capacity": 0}), 422, where="capacity")
    err(world.req("POST", "/v1/hosts", json={"name": "h2", "simulated": True,
                                             "disk": 5}), 422, where="disk")
    err(world.req("POST", "/v1/hosts", token=world.acme, json={
        "name": "h2", "simulated": True}), 403, "only the operator may add hosts")
    assert world.items("/v1/hosts") == before


def test_a_store_without_its_local_host_gets_it_again_at_start(api: Any) -> None:
    """`facade up` runs ensure_local: a store whose local host is gone (a hand-made dump) has
    it again, once, whatever holds nodes meanwhile (host_id None: the local host)."""
    from facade.service import hosts

    with api.ctx.write() as session:
        session.execute(delete(Host).where(Host.name == "local"))
    err(api.req("GET", "/v1/hosts/local"), 404)
    hosts.ensure_local(api.ctx)
    hosts.ensure_local(api.ctx)
    assert [(h["name"], h["state"], h["local"]) for h in api.items("/v1/hosts")] == [
        ("local", "ready", True)]


def _instance(api: Any, name: str, host: object = None, token: str | None = "op",
              **more: Any) -> Any:
    body: dict[str, Any] = {"name": name, "account": "acme",
                            "interfaces": [{"subnet": "acme-vpc/app"}], **more}
    if host is not None:
        body["host"] = host
    return api.req("POST", "/v1/instances", token=token, json=body)


def test_an_instance_is_placed_on_the_host_the_operator_names(world: Any) -> None:
    world.changed = True
    ok(world.req("POST", "/v1/hosts", json={"name": "h1", "simulated": True}), 201)
    made = ok(_instance(world, "far", "h1"), 201)
    assert made["host"] == "h1"
    near = ok(_instance(world, "near", "local"), 201)
    assert near["host"] == "local"
    # the data plane was asked for each node on its host (the fake keeps the specs)
    specs = {ident[1]: spec for spec in world.dp.nodes.values()
             if (ident := names.node_id(spec.netns)) is not None}
    assert (specs["far"].host, specs["near"].host) == ("h1", None)
    assert world.dp.observe_node(specs["far"].netns).host == "h1"
    with world.ctx.read() as session:  # the store, read apart from the API
        placed = dict(session.execute(select(Instance.name, Instance.host_id)).all())
        h1 = session.scalar(select(Host.id).where(Host.name == "h1"))
    assert (placed["far"], placed["near"]) == (h1, None)
    assert ok(world.req("GET", "/v1/instances/far"))["host"] == "h1"
    assert ok(world.req("GET", "/v1/hosts/h1"))["nodes"] == 1
    # a host holding a node is not removed; once its node is gone it is, and stops
    err(world.req("DELETE", "/v1/hosts/h1"), 409, "still holds 1 node", where="host")
    assert "h1" in world.dp.hosts
    assert world.req("DELETE", "/v1/instances/far").status_code in (202, 204)
    wait_gone(world, "/v1/instances/far")
    assert world.req("DELETE", "/v1/hosts/h1").status_code == 204
    assert "h1" not in world.dp.hosts


def test_placement_on_a_host_refuses_what_is_wrong_naming_it(world: Any) -> None:
    ok(world.req("POST", "/v1/hosts", json={"name": "h1", "simulated": True}), 201)
    ok(world.req("POST", "/v1/hosts", json={"name": "h2", "simulated": True}), 201)
    ok(world.req("POST", "/v1/hosts/h2/drain"))
    world.changed = True
    before = world.items("/v1/instances")
    calls = len(world.dp.calls)
    err(_instance(world, "x", "h9"), 400, "host 'h9' does not exist", where="host")
    err(_instance(world, "x", "h2"), 409, "host h2 is draining", where="host")
    err(_instance(world, "x", "H1"), 400, "host name", where="host")
    err(_instance(world, "x", 7), 422, where="host")
    err(_instance(world, "x", "h1", token=world.acme), 403,
        "only the operator places a node on a host", where="host")
    assert world.req("DELETE", "/v1/hosts/h1").status_code == 204
    err(_instance(world, "x", "h1"), 400, "host 'h1' does not exist", where="host")
    # nothing was made: no instance, no address taken, nothing asked of the data plane
    assert world.items("/v1/instances") == before
    assert [c for c in world.dp.calls[calls:] if not c.endswith("h1")] == []


def test_a_host_the_data_plane_cannot_start_is_not_recorded(world: Any,
                                                           monkeypatch: Any) -> None:
    from facade.dataplane.errors import DataPlaneError

    def fails(name: str, address: str) -> None:
        raise DataPlaneError("FRR is not installed")

    monkeypatch.setattr(world.dp, "ensure_host", fails)
    err(world.req("POST", "/v1/hosts", json={"name": "h1", "simulated": True}), 409,
        "simulated host h1 could not be started: FRR is not installed", where="name")
    assert [h["name"] for h in world.items("/v1/hosts")] == ["local"]
    assert world.items("/v1/hosts", params={"state": "removed"}) == []


def test_restore_runs_the_stores_simulated_hosts_again(world: Any) -> None:
    """`facade up` runs them again (a restart of the control plane, or a machine's)."""
    from facade.service import hosts

    world.changed = True
    ok(world.req("POST", "/v1/hosts", json={"name": "h1", "simulated": True}), 201)
    ok(world.req("POST", "/v1/hosts", json={"name": "h2", "simulated": True}), 201)
    assert world.req("DELETE", "/v1/hosts/h2").status_code == 204
    world.dp.hosts.clear()  # the machine restarted
    assert hosts.restore(world.ctx) == []
    assert world.dp.hosts == {"h1": "172.31.0.11"}


PLACED = """\
accounts: [{name: acme}]
networks:
  - {name: vpc, account: acme, cidr: 10.0.0.0/16, subnets: [{name: app, cidr: 10.0.1.0/24}]}
instances:
  - {name: far, account: acme, interfaces: [vpc/app], host: h1}
  - {name: near, account: acme, interfaces: [vpc/app], host: local}
"""


def test_a_file_places_instances_on_hosts(api: Any) -> None:
    ok(api.req("POST", "/v1/hosts", json={"name": "h1", "simulated": True}), 201)
    made = ok(api.req("POST", "/v1/apply", json={"yaml": PLACED, "filename": "p.yaml"}))
    assert {c["action"] for c in made["changes"]} == {"created"}
    assert ok(api.req("GET", "/v1/instances/far?account=acme"))["host"] == "h1"
    assert ok(api.req("GET", "/v1/instances/near?account=acme"))["host"] == "local"
    again = ok(api.req("POST", "/v1/apply", json={"yaml": PLACED, "filename": "p.yaml"}))
    assert {c["action"] for c in again["changes"]} == {"unchanged"}
    moved = PLACED.replace("host: h1", "host: local")
    err(api.req("POST", "/v1/apply", json={"yaml": moved, "filename": "p.yaml"}), 409,
        "exists with host h1, the file says local")
    bad = PLACED.replace("host: h1", "host: h9")
    err(api.req("POST", "/v1/apply", json={"yaml": bad.replace("far", "other"),
                                            "filename": "p.yaml"}), 400,
        "host 'h9' does not exist")
    wrong = PLACED.replace("host: h1", "host: H1")
    err(api.req("POST", "/v1/apply", json={"yaml": wrong, "filename": "p.yaml"}), 400,
        "host name", where="p.yaml:5")
