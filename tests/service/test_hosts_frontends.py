"""Front-ends on simulated hosts (service/hosts_placement.py `frontend_host`, service/
hosts_frontends.py, docs/multi-host.md "Front-ends on other hosts") on the fake driver: placed
away from their appliance's backends, on a simulated host before the local one; moved with
their address (and so their MAC) when their host drains or is lost, the driver's node made
on the new host; a lost host fenced, and swept of the stale copy before it is ready again.
The kernel test (tests/integration/test_hosts_overlay_e2e.py) moves one under a client loop."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import update

from facade.store.models import Host
from tests.agents import calls, lose, made_on, ready_throughout
from tests.service.helpers import eventually, ok, wait_ready


def _appliance(api: Any, name: str, backends: int) -> dict[str, Any]:
    ok(api.req("POST", "/v1/appliances", json={
        "name": name, "account": "acme", "service": "search", "subnet": "acme-vpc/app",
        "backends": backends}), 202)
    return wait_ready(api, name)


def _fe(api: Any, name: str) -> dict[str, Any]:
    fe: dict[str, Any] = ok(api.req("GET", f"/v1/appliances/{name}"))["frontend"]
    return fe


def _driver_host(api: Any, netns: str) -> str:
    """Where the driver made the node (an independent look: its NodeSpec's host; on agents,
    made by that host's agent: tests/agents.made_on)."""
    return made_on(api, netns)


def _hosts(api: Any, *names: str) -> None:
    for host in names:
        ok(api.req("POST", "/v1/hosts", json={"name": host, "simulated": True}), 201)


def test_with_no_simulated_host_the_front_end_is_local(world: Any) -> None:
    world.changed = True
    app = _appliance(world, "solo", 2)
    assert app["frontend"]["host"] == "local"
    assert _driver_host(world, app["frontend"]["netns"]) == "local"


def test_a_front_end_goes_away_from_its_backends_on_a_simulated_host(world: Any) -> None:
    world.changed = True
    _hosts(world, "h1", "h2")
    one = _appliance(world, "one", 1)
    (backend,) = {b["host"] for b in one["backends"]}
    assert one["frontend"]["host"] not in (backend, "local")  # the other simulated host
    assert _driver_host(world, one["frontend"]["netns"]) == one["frontend"]["host"]
    three = _appliance(world, "three", 3)  # a backend everywhere: a simulated host still
    assert three["frontend"]["host"] in ("h1", "h2")
    ok(world.req("POST", "/v1/hosts/h1/drain"))
    ok(world.req("POST", "/v1/hosts/h2/drain"))
    late = _appliance(world, "late", 1)  # no simulated host takes nodes: the local host
    assert late["frontend"]["host"] == "local"


@pytest.mark.agents
def test_drain_moves_a_front_end_with_its_address_the_appliance_ready(world: Any) -> None:
    world.changed = True
    _hosts(world, "h1", "h2")
    app = _appliance(world, "mover", 1)
    old = app["frontend"]
    ok(world.req("POST", f"/v1/hosts/{old['host']}/drain"))
    statuses = set()
    deadline = time.monotonic() + 20
    while _fe(world, "mover")["host"] == old["host"] or \
            _driver_host(world, old["netns"]) == old["host"]:
        assert time.monotonic() < deadline, world.items("/v1/events")[-5:]
        statuses.add(ok(world.req("GET", "/v1/appliances/mover"))["status"])
        time.sleep(0.05)
    new = _fe(world, "mover")
    (backend,) = {b["host"] for b in app["backends"]}
    assert new["host"] not in (old["host"], backend)  # away from its backend still: local
    # the same node: its name, namespace and addresses (its MACs derive from them)
    assert (new["name"], new["netns"], new["interfaces"]) == \
        (old["name"], old["netns"], old["interfaces"])
    assert _driver_host(world, new["netns"]) == new["host"]
    ready_throughout(world, statuses)
    assert wait_ready(world, "mover")["endpoint"] == app["endpoint"]
    notes = [e["message"] for e in world.items("/v1/events")
             if e["kind"] == "host.frontend_moved"]
    assert any(f"from host {old['host']} to {new['host']}" in n for n in notes), notes
    # the drained host holds nothing of it any more
    eventually(lambda: ok(world.req("GET", f"/v1/hosts/{old['host']}"))["nodes"] == 0, 10,
           "the drained host not empty")


@pytest.mark.agents
def test_a_lost_hosts_front_end_moves_and_the_host_is_swept_before_it_is_ready(
        world: Any, quick_loss: None) -> None:
    world.changed = True
    _hosts(world, "h1", "h2")
    app = _appliance(world, "lossy", 1)
    old = app["frontend"]
    where = old["host"]
    ports = {p.host for p in world.dp.nodes[old["netns"]].ports}
    world.dp.cut.add(where)
    eventually(lambda: ok(world.req("GET", f"/v1/hosts/{where}"))["state"] == "lost", 10,
           "not lost")
    assert f"fence_host {where}" in calls(world)  # on agents: by its agent (its link is cut)
    # the old host keeps, in this test, a copy of the front-end's ports (a machine switched
    # off keeps its namespaces): it must not answer when the host comes back
    world.dp.stale[where] = set(ports)
    moved = eventually(lambda: (a := ok(world.req("GET", "/v1/appliances/lossy")))["status"]
                   == "ready" and a["frontend"]["host"] != where and a, 10, "not moved")
    fe = moved["frontend"]
    assert fe["interfaces"] == old["interfaces"] and fe["netns"] == old["netns"]
    assert moved["endpoint"] == app["endpoint"]
    # the store moves it first, its reconciler then (on agents: the old host's copy deleted
    # by its agent, then the new one made)
    eventually(lambda: _driver_host(world, fe["netns"]) == fe["host"], 10, "not made there")
    assert not world.dp.host_alive(where)  # fenced: not back while its link is cut
    time.sleep(1.2)
    assert ok(world.req("GET", f"/v1/hosts/{where}"))["state"] == "lost"
    world.dp.cut.discard(where)
    eventually(lambda: ok(world.req("GET", f"/v1/hosts/{where}"))["state"] == "ready", 10,
           "not ready again")
    rejoined = [c for c in calls(world) if c.startswith(f"rejoin_host {where}")]
    assert rejoined and not set(rejoined[0].split("keep=")[1].split(",")) & ports
    assert world.dp.stale[where] == set()  # swept
    (ready,) = [e["message"] for e in world.items("/v1/events")
                if e["kind"] == "host.ready" and e["object"] == where]
    assert all(f"port {p} of host {where}" in ready for p in ports), ready
    assert _fe(world, "lossy")["host"] == fe["host"]  # it stays where it went


def test_a_front_end_no_host_can_take_when_its_host_is_lost_moves_once_one_can(
        world: Any, quick_loss: None) -> None:
    world.changed = True
    _hosts(world, "h1", "h2")
    app = _appliance(world, "stuck", 1)
    where = app["frontend"]["host"]
    (other,) = {b["host"] for b in app["backends"]}
    assert where != other
    with world.ctx.write() as session:  # every other host full, the local one too
        session.execute(update(Host).where(Host.name != where).values(capacity=0))
    lose(world, where)  # on agents: its agent killed too
    eventually(lambda: ok(world.req("GET", f"/v1/hosts/{where}"))["state"] == "lost", 10,
           "not lost")
    time.sleep(1.5)  # a few looks of the host watch
    assert _fe(world, "stuck")["host"] == where
    stuck = [e for e in world.items("/v1/events") if e["kind"] == "host.frontend_stuck"]
    assert len(stuck) == 1 and "full" in stuck[0]["message"], stuck  # said once
    with world.ctx.write() as session:
        session.execute(update(Host).where(Host.name == other).values(capacity=100))
    eventually(lambda: _fe(world, "stuck")["host"] == other, 10, "not moved once it could")
    assert wait_ready(world, "stuck")["endpoint"] == app["endpoint"]
