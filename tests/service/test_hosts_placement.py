"""Backends spread over the simulated hosts (service/hosts_placement.py, docs/multi-host.md
"Scheduling") on the fake driver: an appliance's backends go one per host before any host
takes a second (the local host among them), hosts that take nothing new or are full are left
out, and with no simulated host every backend is on the local host as before. The kernel
test (tests/integration/test_hosts_overlay_e2e.py) serves such an appliance through its
endpoint."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from sqlalchemy import update

from facade.store.models import Host
from tests.agents import ready_throughout
from tests.service.helpers import err, ok, wait_ready


def _backend_hosts(api: Any, app: str) -> Counter[str]:
    shown = ok(api.req("GET", f"/v1/appliances/{app}"))
    return Counter(b["host"] for b in shown["backends"])


def _appliance(api: Any, name: str, backends: int) -> None:
    ok(api.req("POST", "/v1/appliances", json={
        "name": name, "account": "acme", "service": "search", "subnet": "acme-vpc/app",
        "backends": backends}), 202)
    wait_ready(api, name)


def test_with_no_simulated_host_every_backend_is_local(world: Any) -> None:
    world.changed = True
    _appliance(world, "solo", 3)
    assert _backend_hosts(world, "solo") == Counter({"local": 3})


@pytest.mark.agents
def test_backends_spread_one_per_host_before_any_takes_a_second(world: Any) -> None:
    world.changed = True
    for host in ("h1", "h2"):
        ok(world.req("POST", "/v1/hosts", json={"name": host, "simulated": True}), 201)
    _appliance(world, "wide", 3)
    assert _backend_hosts(world, "wide") == Counter({"local": 1, "h1": 1, "h2": 1})
    _appliance(world, "wider", 5)
    assert sorted(_backend_hosts(world, "wider").values()) == [1, 2, 2]
    # scaled up: the new backend goes where the appliance has fewest
    ok(world.req("PATCH", "/v1/appliances/wide", json={"backends": 4}), 202)
    wait_ready(world, "wide")
    assert sorted(_backend_hosts(world, "wide").values()) == [1, 1, 2]
    assert ok(world.req("GET", "/v1/hosts/h1"))["nodes"] >= 3


def test_draining_full_and_unmade_hosts_take_no_backend(world: Any) -> None:
    world.changed = True
    for host in ("h1", "h2", "h3"):
        ok(world.req("POST", "/v1/hosts", json={"name": host, "simulated": True,
                                                 **({"capacity": 1} if host == "h3" else {})}),
           201)
    ok(world.req("POST", "/v1/hosts/h1/drain"))
    with world.ctx.write() as session:  # a machine whose agent registered: makes no node yet
        session.add(Host(name="m1", address="10.9.0.1", state="ready", capacity=50,
                         simulated=False))
    _appliance(world, "a", 4)
    got = _backend_hosts(world, "a")
    assert set(got) == {"local", "h2", "h3"} and got["h3"] == 1  # h3 full after one
    assert got == Counter({"local": 2, "h2": 1, "h3": 1}) or \
        got == Counter({"local": 1, "h2": 2, "h3": 1})
    with world.ctx.write() as session:  # every host full, the local one too
        session.execute(update(Host).values(capacity=1))
    err(world.req("POST", "/v1/appliances", json={
        "name": "b", "account": "acme", "service": "search", "subnet": "acme-vpc/app",
        "backends": 1}), 409, "full", where="backends")


@pytest.mark.agents
def test_drain_moves_a_hosts_backends_away_with_the_appliance_ready_throughout(
        world: Any) -> None:
    """service/hosts_drain.py: a replacement first, on a host that does not drain; the old
    backend leaves once the replacement passes its check; then the host holds nothing and can
    be removed."""
    import time

    world.changed = True
    for host in ("h1", "h2"):
        ok(world.req("POST", "/v1/hosts", json={"name": host, "simulated": True}), 201)
    _appliance(world, "one", 1)
    _appliance(world, "three", 3)
    (where,) = _backend_hosts(world, "one")
    assert where in ("h1", "h2")
    before = {b["name"] for b in ok(world.req("GET", "/v1/appliances/one"))["backends"]}
    ok(world.req("POST", f"/v1/hosts/{where}/drain"))
    statuses = set()
    deadline = time.monotonic() + 20
    while ok(world.req("GET", f"/v1/hosts/{where}"))["nodes"]:
        assert time.monotonic() < deadline, world.items("/v1/events")[-5:]
        statuses |= {a["status"] for a in world.items("/v1/appliances")}
        time.sleep(0.05)
    # never scaling, degraded or anything else meanwhile (on agents: but for the moment
    # `three`'s front-end, moving off h1 too, is on no host: tests/agents.ready_throughout)
    assert "ready" in statuses
    ready_throughout(world, statuses)
    after = ok(world.req("GET", "/v1/appliances/one"))
    assert after["status"] == "ready" and len(after["backends"]) == 1
    assert after["backends"][0]["host"] != where and after["backends"][0]["name"] not in before
    assert where not in _backend_hosts(world, "three")
    assert sum(_backend_hosts(world, "three").values()) == 3
    notes = [e["message"] for e in world.items("/v1/events") if e["object"] == where]
    assert any("to take over from" in n for n in notes)
    assert any("its replacement serves" in n for n in notes)
    ok(world.req("DELETE", f"/v1/hosts/{where}"), 204)


def test_a_drained_host_resumes_taking_backends(world: Any) -> None:
    world.changed = True
    for host in ("h1", "h2"):
        ok(world.req("POST", "/v1/hosts", json={"name": host, "simulated": True}), 201)
    ok(world.req("POST", "/v1/hosts/h1/drain"))
    _appliance(world, "before", 3)
    assert "h1" not in _backend_hosts(world, "before")
    assert ok(world.req("POST", "/v1/hosts/h1/resume"))["state"] == "ready"
    assert ok(world.req("POST", "/v1/hosts/h1/resume"))["state"] == "ready"  # again: nothing
    _appliance(world, "after", 3)
    assert _backend_hosts(world, "after")["h1"] == 1
    err(world.req("POST", "/v1/hosts/nope/resume"), 404, where="name")
    with world.ctx.write() as session:
        session.execute(update(Host).where(Host.name == "h2").values(state="lost"))
    err(world.req("POST", "/v1/hosts/h2/resume"), 409, "lost", where="host")
    err(world.req("POST", "/v1/hosts/h1/resume", token=world.acme), 403, "operator")
